import 'reflect-metadata';
import { EntitySync, exportGraph, importGraph } from '@entity-sync/adapters/mikro-orm';
import { testBackends } from '@entity-sync/testing';
import { type MikroORM } from '@mikro-orm/core';
import { Entity, ManyToOne, PrimaryKey, Property } from '@entity-sync/testing/mikro-orm';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { tableChecksums } from '../support/checksums.js';
import { sql } from './helpers/sql.js';

@Entity({ tableName: 'shelf' })
class Shelf {
  @PrimaryKey({ autoincrement: false }) id!: number;
  @Property() name!: string;
}

@Entity({ tableName: 'shelf_item' })
class ShelfItem {
  @PrimaryKey({ autoincrement: false }) id!: number;
  @ManyToOne(() => Shelf) shelf!: Shelf;
  @Property({ type: 'text', nullable: true }) label?: string | null;
}

// Values that end a cut line in the characters a reader may take for the end of a row or object.
const LABELS = ['[a], {b}', 'x]', '{"end":true}', 'tail }', 'q"\\]'];

const isComplete = (text: string) => {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
};

for (const backend of testBackends()) {
  const test = suite(`every cut of a document is reported as truncated [${backend.name}]`);
  let source: MikroORM;
  let target: MikroORM;
  let dir: string;
  let json: string;
  let ndjson: string;

  test.before(async () => {
    source = await backend.createOrm({ entities: [Shelf, ShelfItem], extensions: [EntitySync] });
    target = await backend.createOrm({ entities: [Shelf, ShelfItem], extensions: [EntitySync] });
    await sql(source, `insert into $s.shelf values (1, 'north'), (99, 'other')`);
    await sql(source, `insert into $s.shelf_item values ${LABELS.map((label, i) => `(${i + 1}, 1, '${label.replace(/'/g, "''")}')`).join(', ')}`);
    // a non-empty target, so that "nothing written" compares real data
    await sql(target, `insert into $s.shelf values (99, 'other')`);
    json = (await exportGraph(source.em.fork(), { entity: Shelf, key: 1 }, { exportedAt: null })).text!;
    ndjson = (await exportGraph(source.em.fork(), { entity: Shelf, key: 1 }, { exportedAt: null, format: 'ndjson' })).text!;
    dir = mkdtempSync(join(tmpdir(), 'entity-sync-cuts-'));
  });
  test.after(async () => {
    await source.close();
    await target.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Imports every strict prefix of `text` that is not a complete document; returns the cuts not reported as truncated. */
  const sweep = async (text: string, name: string, complete: (prefix: string) => boolean, worth = (_prefix: string) => true) => {
    const wrong: string[] = [];
    for (let cut = 1; cut < text.length; cut++) {
      const prefix = text.slice(0, cut);
      if (complete(prefix) || !worth(prefix)) continue;
      const file = join(dir, `${name}-${cut}`);
      writeFileSync(file, prefix);
      const error = await importGraph(target.em.fork(), file).then(() => ({ code: 'IMPORTED', message: '' }), (e) => e);
      if (error.code !== 'DOCUMENT_TRUNCATED') wrong.push(`cut after ${JSON.stringify(prefix.slice(-24))}: ${error.code} ${error.message}`);
    }
    return wrong;
  };

  test('a JSON document cut anywhere', async () => {
    const before = await tableChecksums(target);
    const wrong = await sweep(json, 'json', (prefix) => isComplete(prefix));
    assert.equal(await tableChecksums(target), before, 'nothing was written');
    assert.is(wrong.length, 0, `${wrong.length} cut(s) not reported as DOCUMENT_TRUNCATED, e.g.\n${wrong.slice(0, 12).join('\n')}`);
  });

  test('an NDJSON document cut anywhere', async () => {
    const before = await tableChecksums(target);
    // Only the final newline may go: the end marker is then still whole. Past the header line a
    // cut reaches the database, so there only the cuts after a bracket, a brace or a newline are
    // tried: the places where a cut line may look finished.
    const headerEnd = ndjson.indexOf('\n');
    const wrong = await sweep(ndjson, 'ndjson', (prefix) => prefix === ndjson.slice(0, -1),
      (prefix) => prefix.length <= headerEnd || /[\]}\n]$/.test(prefix));
    assert.equal(await tableChecksums(target), before, 'nothing was written');
    assert.is(wrong.length, 0, `${wrong.length} cut(s) not reported as DOCUMENT_TRUNCATED, e.g.\n${wrong.slice(0, 12).join('\n')}`);
  });

  test('the uncut documents import, so the cuts are what fails', async () => {
    for (const [name, text] of [['whole.json', json], ['whole.ndjson', ndjson]] as const) {
      const file = join(dir, name);
      writeFileSync(file, text);
      const report = await importGraph(target.em.fork(), file, { dryRun: true });
      assert.equal(report.entities.ShelfItem!.created, LABELS.length);
    }
  });

  test.run();
}

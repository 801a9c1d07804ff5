// @SyncModel include / exclude decide which columns leave the database in a graph document.
import 'reflect-metadata';
import { deleteGraph, EntitySync, exportGraph, importGraph } from '@entity-sync/adapters/mikro-orm';
import { SyncModel } from '@entity-sync/core';
import { testBackends } from '@entity-sync/testing';
import { type MikroORM } from '@mikro-orm/core';
import { Entity, ManyToOne, PrimaryKey, Property } from '@entity-sync/testing/mikro-orm';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { withTimeout } from '../support/timeout.js';
import { strictMember } from './fixtures/strict-member.js';

const SECRET = 'pbkdf2$sha256$kept-back-7f3a';

@Entity({ tableName: 'cols_team' })
@SyncModel({ naturalKey: ['code'], include: ['name'] })
class Team {
  @PrimaryKey() id!: number;
  @Property({ unique: true }) code!: string;
  @Property() name!: string;
  @Property({ nullable: true }) budget?: string;
}

@Entity({ tableName: 'cols_member' })
@SyncModel({ exclude: ['passwordHash'] })
class Member {
  @PrimaryKey() id!: number;
  @Property() login!: string;
  @Property({ default: 'unset' }) passwordHash!: string;
  @ManyToOne(() => Team) team!: Team;
}


// The same entity in a target whose kept-back column has no default: the import cannot fill it.
const StrictMember = strictMember(() => Team);

async function seed(orm: MikroORM): Promise<void> {
  const em = orm.em.fork();
  const team = em.create(Team, { id: 1, code: 'blue', name: 'Blue', budget: '1200.50' });
  em.create(Member, { id: 1, login: 'ada', passwordHash: SECRET, team });
  em.create(Member, { id: 2, login: 'bo', passwordHash: SECRET, team });
  await em.flush();
}

for (const backend of testBackends()) {
  const test = suite(`graph documents keep @SyncModel's excluded columns in the database [${backend.name}]`);

  test('an excluded value is in no byte of a JSON or NDJSON export, and import leaves the column to its default', withTimeout(async () => {
    const source = await backend.createOrm({ entities: [Team, Member], extensions: [EntitySync] });
    const target = await backend.createOrm({ entities: [Team, Member], extensions: [EntitySync] });
    const dir = mkdtempSync(join(tmpdir(), 'entity-sync-columns-'));
    try {
      await seed(source);
      const json = await exportGraph(source.em.fork(), { entity: Team, key: 1 }, { exportedAt: null });
      await exportGraph(source.em.fork(), { entity: Team, key: 1 }, { format: 'ndjson', to: join(dir, 'g.ndjson') });
      for (const text of [json.text!, readFileSync(join(dir, 'g.ndjson'), 'utf8')]) {
        assert.not.ok(text.includes(SECRET), 'the secret is in the file');
        assert.not.ok(text.includes('password_hash'), 'the column is named in the file');
      }
      const member = json.header.entities.find((entity) => entity.name === 'Member')!;
      assert.equal(member.columns.map((column) => column.name), ['id', 'login', 'team_id']);

      await importGraph(target.em.fork(), json.document!);
      const imported = await target.em.fork().find(Member, {}, { orderBy: { id: 'asc' } });
      assert.equal(imported.map((m) => [m.login, m.passwordHash]), [['ada', 'unset'], ['bo', 'unset']]);
    } finally {
      await source.close();
      await target.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }));

  test('include keeps only what it names besides the primary and natural keys', withTimeout(async () => {
    const source = await backend.createOrm({ entities: [Team, Member], extensions: [EntitySync] });
    try {
      await seed(source);
      const exported = await exportGraph(source.em.fork(), { entity: Team, key: 1 }, { exportedAt: null });
      const team = exported.header.entities.find((entity) => entity.name === 'Team')!;
      assert.equal(team.columns.map((column) => column.name), ['id', 'code', 'name']);
      assert.not.ok(exported.text!.includes('1200.50'), 'a column include leaves out travelled');
    } finally {
      await source.close();
    }
  }));

  test('a kept-back column that is NOT NULL without a default in the target is a schema mismatch that says what to do', withTimeout(async () => {
    const source = await backend.createOrm({ entities: [Team, Member], extensions: [EntitySync] });
    const target = await backend.createOrm({ entities: [Team, StrictMember], extensions: [EntitySync] });
    try {
      await seed(source);
      const exported = await exportGraph(source.em.fork(), { entity: Team, key: 1 }, { exportedAt: null });
      const error = await importGraph(target.em.fork(), exported.document!).catch((e) => e);
      assert.is(error.code, 'SCHEMA_MISMATCH');
      assert.match(error.message, 'Member.password_hash: @SyncModel keeps it out of documents, and the target has it NOT NULL without a default');
      assert.is(await target.em.fork().count(Team), 0, 'nothing was written');
    } finally {
      await source.close();
      await target.close();
    }
  }));

  test("a delete's archive is a backup: it keeps every column, so a restore brings the rows back as they were", withTimeout(async () => {
    const orm = await backend.createOrm({ entities: [Team, Member], extensions: [EntitySync] });
    const dir = mkdtempSync(join(tmpdir(), 'entity-sync-columns-'));
    try {
      await seed(orm);
      const archive = join(dir, 'archive.json');
      await deleteGraph(orm.em.fork(), { entity: Team, key: 1 }, { archiveTo: archive });
      assert.is(await orm.em.fork().count(Member), 0);
      await importGraph(orm.em.fork(), archive);
      const restored = await orm.em.fork().find(Member, {}, { orderBy: { id: 'asc' } });
      assert.equal(restored.map((m) => m.passwordHash), [SECRET, SECRET]);
      assert.is((await orm.em.fork().findOneOrFail(Team, 1)).budget, '1200.50');
    } finally {
      await orm.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }));

  test.run();
}

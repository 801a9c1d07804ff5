import 'reflect-metadata';
import { deleteGraph, EntitySync, exportGraph, importGraph } from '@entity-sync/adapters/mikro-orm';
import type { GraphDocument } from '@entity-sync/core';
import { testBackends } from '@entity-sync/testing';
import { Collection, type EntityManager, type MikroORM } from '@mikro-orm/core';
import { Entity, ManyToOne, OneToMany, PrimaryKey, Property } from '@entity-sync/testing/mikro-orm';
import { existsSync, mkdtempSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { tableChecksums } from '../support/checksums.js';

@Entity()
class Recipe {
  @PrimaryKey() id!: number;
  @Property() title!: string;
  @Property() servings!: number;
  @OneToMany(() => Step, (step) => step.recipe) steps = new Collection<Step>(this);
}

@Entity()
class Step {
  @PrimaryKey() id!: number;
  @ManyToOne(() => Recipe) recipe!: Recipe;
  @Property() text!: string;
}

// Holds a recipe's id as a plain column: the foreign key on it exists in the database only
@Entity()
class RecipeLink {
  @PrimaryKey() id!: number;
  @Property() recipeId!: number;
}

@Entity()
class Token {
  @PrimaryKey({ type: 'uuid' }) id!: string;
  @Property() label!: string;
}

@Entity()
class Holiday {
  @PrimaryKey({ columnType: 'date', type: 'string' }) day!: string;
  @Property() name!: string;
}

const entities = [Recipe, Step, RecipeLink, Token, Holiday];
const TOKEN = '6f1c2a52-8d1e-4b7a-9a59-1d3b7e0c4f10';

async function seed(orm: MikroORM): Promise<void> {
  const em = orm.em.fork();
  const soup = em.create(Recipe, { id: 1, title: 'Soup', servings: 4 });
  em.create(Step, { id: 1, recipe: soup, text: 'Boil water' });
  em.create(Step, { id: 2, recipe: soup, text: 'Add salt' });
  em.create(Recipe, { id: 2, title: 'Tasting spoon', servings: 0 });
  em.create(Token, { id: TOKEN, label: 'key' });
  em.create(Holiday, { day: '2024-12-25', name: 'Christmas' });
  await em.flush();
}

type Failure = Error & { code?: string; cause?: { code?: string } };

const failure = (promise: Promise<unknown>): Promise<Failure> =>
  promise.then(() => assert.unreachable('the call should fail') as never, (error: Failure) => error);

/** Open file descriptors of this process on `path` (Linux: /proc/self/fd). */
function openFds(path: string): number {
  return readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return readlinkSync(join('/proc/self/fd', fd)) === path;
    } catch (error) {
      // the descriptor readdir itself used is gone by now
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw error;
    }
  }).length;
}

for (const backend of testBackends()) {
  const test = suite(`bad inputs fail typed, name what is valid, and write nothing [${backend.name}]`);
  let source: MikroORM;
  let target: MikroORM;
  let dir: string;
  let document: GraphDocument;

  test.before(async () => {
    source = await backend.createOrm({ entities, extensions: [EntitySync] });
    await seed(source);
    target = await backend.createOrm({ entities, extensions: [EntitySync] });
    dir = mkdtempSync(join(tmpdir(), 'entity-sync-inputs-'));
    document = (await exportGraph(source.em.fork(), { entity: Recipe, key: 1 })).document!;
  });
  test.after(async () => {
    await source.close();
    await target.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const unchanged = async (orm: MikroORM, work: () => Promise<void>) => {
    const before = await tableChecksums(orm);
    await work();
    assert.equal(await tableChecksums(orm), before, 'nothing was written');
  };

  const invalidOption = async (call: Promise<unknown>, ...parts: string[]) => {
    const error = await failure(call);
    assert.is(error.code, 'INVALID_OPTION', error.message);
    for (const part of parts) assert.ok(error.message.includes(part), `${JSON.stringify(part)} in: ${error.message}`);
  };

  test('option values are checked: the option, the value given and the valid ones are named', async () => {
    await unchanged(target, async () => {
      await invalidOption(importGraph(target.em.fork(), document, { onConflict: 'replace' as never }),
        "importGraph: option 'onConflict' is 'replace'", "one of 'fail', 'skip', 'overwrite', 'remap'");
      await invalidOption(importGraph(target.em.fork(), document, { matchBy: 'natural-key' as never }),
        "option 'matchBy' is 'natural-key'", "one of 'primaryKey', 'naturalKey'", "in code write 'naturalKey'");
      for (const batchSize of [0, -5, 2.5, '100']) {
        await invalidOption(importGraph(target.em.fork(), document, { batchSize: batchSize as never }),
          "option 'batchSize' is", String(batchSize), 'a whole number of at least 1');
      }
    });
    const file = join(dir, 'never.json');
    await invalidOption(exportGraph(source.em.fork(), { entity: Recipe, key: 1 }, { format: 'xml' as never, to: file }),
      "exportGraph: option 'format' is 'xml'", "one of 'json', 'ndjson'");
    await invalidOption(exportGraph(source.em.fork(), { entity: Recipe, key: 1 }, { maxRows: -1 }), "option 'maxRows' is -1", 'a whole number of at least 1');
    await invalidOption(exportGraph(source.em.fork(), { entity: Recipe, key: 1 }, { maxDepth: 1.5 }), "option 'maxDepth' is 1.5", 'a whole number of at least 0');
    await invalidOption(exportGraph(source.em.fork(), { entity: Recipe, key: 1 }, { excludeRelations: 'Recipe.steps' as never }),
      "option 'excludeRelations' is 'Recipe.steps'", 'a list of relation names');
    await invalidOption(exportGraph(source.em.fork(), { entity: Recipe, key: 1 }, { to: 42 as never }),
      "option 'to' is 42", 'a file path or a writable stream, or a sink function');
    assert.not.ok(existsSync(file) || existsSync(`${file}.partial`), 'no file was written');
    await unchanged(source, async () => {
      await invalidOption(deleteGraph(source.em.fork(), { entity: Recipe, key: 1 }, { archiveFormat: 'csv' as never }),
        "deleteGraph: option 'archiveFormat' is 'csv'", "one of 'json', 'ndjson'");
    });
  });

  test('a missing or wrong em is refused by name in all three functions, and options that are not an object', async () => {
    await unchanged(source, async () => {
      const root = { entity: Recipe, key: 1 };
      for (const [name, call] of [
        ['exportGraph', (em: never, options?: never) => exportGraph(em, root, options)],
        ['importGraph', (em: never, options?: never) => importGraph(em, document, options)],
        ['deleteGraph', (em: never, options?: never) => deleteGraph(em, root, options)],
      ] as const) {
        await invalidOption(call(undefined as never), `${name}: argument 'em' is missing`, 'a MikroORM EntityManager', `Pass orm.em.fork() (or the em of a request) first: ${name}(em, `);
        await invalidOption(call(source as never), `${name}: argument 'em' is a MikroORM`, 'That is the MikroORM instance: pass orm.em.fork()');
        await invalidOption(call('db' as never), `${name}: argument 'em' is 'db'`, 'a MikroORM EntityManager');
        await invalidOption(call({ em: source.em.fork() } as never), `${name}: argument 'em' is a plain object`, 'The EntityManager goes first, the options last');
        await invalidOption(call(source.em.fork() as never, 'fast' as never), `${name}: argument 'options' is 'fast'`, 'an object of options, or nothing');
      }
    });
  });

  test("the old option name exclude points at excludeRelations (not @SyncModel's column exclude)", async () => {
    await unchanged(source, async () => {
      for (const call of [
        exportGraph(source.em.fork(), { entity: Recipe, key: 1 }, { exclude: ['Recipe.steps'] } as never),
        deleteGraph(source.em.fork(), { entity: Recipe, key: 1 }, { exclude: ['Recipe.steps'] } as never),
      ]) {
        await invalidOption(call, "option 'exclude' was renamed to 'excludeRelations'", 'pass excludeRelations instead', "@SyncModel's exclude", 'columns');
      }
    });
  });

  const invalidRoot = async (call: Promise<unknown>, ...parts: string[]) => {
    const error = await failure(call);
    assert.is(error.code, 'INVALID_ROOT', error.message);
    for (const part of parts) assert.ok(error.message.includes(part), `${JSON.stringify(part)} in: ${error.message}`);
  };

  test('roots without a key, unflushed instances and key text of the wrong type are INVALID_ROOT naming the root and the type', async () => {
    await unchanged(source, async () => {
      for (const run of [
        (roots: object) => exportGraph(source.em.fork(), roots),
        (roots: object) => deleteGraph(source.em.fork(), roots),
      ]) {
        await invalidRoot(run({ entity: Recipe }), 'Invalid root "{ entity: Recipe }"', 'it has no key', '(id: integer)');
        const unsaved = source.em.fork().create(Recipe, { title: 'Draft', servings: 1 });
        await invalidRoot(run(unsaved), 'Invalid root "Recipe instance"', 'no primary key yet (id undefined)', 'await em.flush()');
        await invalidRoot(run({ entity: Recipe, key: 'abc' }), 'Invalid root "Recipe:abc"', 'Recipe.id is integer, and "abc" is not a whole number');
        await invalidRoot(run({ entity: Recipe, key: 1.5 }), 'Invalid root "Recipe:1.5"', 'is not a whole number');
        await invalidRoot(run({ entity: Recipe, key: '3000000000' }), 'between -2147483648 and 2147483647');
        await invalidRoot(run({ entity: Token, key: 'not-a-uuid' }), 'Invalid root "Token:not-a-uuid"', 'Token.id is uuid, and "not-a-uuid" is not a uuid');
        // a type checked by the database's own cast
        await invalidRoot(run({ entity: Holiday, key: '2024-02-30' }), 'Invalid root "Holiday:2024-02-30"', "Holiday's primary key is day (date)",
          'the database cannot read the key as that type: ');
      }
    });
    const upper = await exportGraph(source.em.fork(), { entity: Token, key: `{${TOKEN.toUpperCase()}}` });
    assert.equal(upper.header.roots, [{ entity: 'Token', key: [TOKEN] }], 'a uuid in another accepted spelling is written as the database prints it');
  });

  test('an export to a missing directory, or onto a directory, fails before any query and leaves no file', async () => {
    for (const to of [join(dir, 'missing', 'recipe.json'), dir]) {
      const em = source.em.fork();
      let transactions = 0;
      const transactional = em.transactional.bind(em);
      em.transactional = ((work: never, options: never) => {
        transactions += 1;
        return transactional(work, options);
      }) as EntityManager['transactional'];
      const error = await failure(exportGraph(em, { entity: Recipe, key: 1 }, { to }));
      assert.is(error.code, 'FILE_NOT_WRITABLE', error.message);
      assert.ok(error.message.startsWith(`Cannot write ${to}: `), error.message);
      assert.match(error.message, to === dir ? 'it is a directory' : `the directory ${join(dir, 'missing')} does not exist`);
      assert.is(transactions, 0, 'no transaction began');
      assert.not.ok(existsSync(`${to}.partial`));
    }
    assert.equal(readdirSync(dir), []);
  });

  test('a delete with an archive in a missing directory fails before deleting anything', async () => {
    const archiveTo = join(dir, 'missing', 'archive.ndjson');
    await unchanged(source, async () => {
      const error = await failure(deleteGraph(source.em.fork(), { entity: Recipe, key: 1 }, { archiveTo, archiveFormat: 'ndjson' }));
      assert.is(error.code, 'FILE_NOT_WRITABLE', error.message);
      assert.match(error.message, `Cannot write ${archiveTo}: the directory ${join(dir, 'missing')} does not exist; create it or choose another path`);
    });
  });

  test('a failing import closes the file or stream it read', async () => {
    const ndjson = (await exportGraph(source.em.fork(), { entity: Recipe, key: 1 }, { format: 'ndjson' })).text!;
    const file = join(dir, 'recipe-1.ndjson');
    writeFileSync(file, ndjson);
    const lines = ndjson.split('\n');
    const header = JSON.parse(lines[0]!);
    header.entities[0].columns[1].type = 'text';
    const mismatched = join(dir, 'recipe-1-mismatched.ndjson');
    writeFileSync(mismatched, [JSON.stringify(header), ...lines.slice(1)].join('\n'));

    const mismatch = await failure(importGraph(target.em.fork(), mismatched));
    assert.is(mismatch.code, 'SCHEMA_MISMATCH', mismatch.message);
    assert.is(openFds(mismatched), 0, 'the file of a document refused for its schema is closed');

    const conflict = await failure(importGraph(source.em.fork(), file));
    assert.is(conflict.code, 'IMPORT_CONFLICT', conflict.message);
    assert.is(openFds(file), 0, 'the file of a conflicting import is closed');

    const stream = Readable.from([ndjson]);
    const badOption = await failure(importGraph(target.em.fork(), stream, { onConflict: 'replace' as never }));
    assert.is(badOption.code, 'INVALID_OPTION');
    assert.ok(stream.destroyed, 'a stream passed to a refused import is closed');

    const schemaStream = Readable.from([[JSON.stringify(header), ...lines.slice(1)].join('\n')]);
    assert.is((await failure(importGraph(target.em.fork(), schemaStream))).code, 'SCHEMA_MISMATCH');
    assert.ok(schemaStream.destroyed);

    const report = await importGraph(target.em.fork(), file, { dryRun: true });
    assert.is(report.entities.Recipe!.created, 1);
    assert.is(openFds(file), 0, 'and so is the file of an import that succeeds');
  });

  test('an import the database refuses quotes its message, SQLSTATE, table and constraint, without blaming the file', async () => {
    await backend.executeScript(target, 'ALTER TABLE recipe ADD CONSTRAINT recipe_servings_positive CHECK (servings > 0)');
    try {
      const spoon = (await exportGraph(source.em.fork(), { entity: Recipe, key: 2 })).document!;
      await unchanged(target, async () => {
        const error = await failure(importGraph(target.em.fork(), spoon));
        assert.is(error.code, 'IMPORT_REJECTED', error.message);
        for (const part of ['The database refused the import: new row for relation "recipe" violates check constraint "recipe_servings_positive"',
          'SQLSTATE 23514', 'table ', 'recipe', 'constraint recipe_servings_positive', 'Nothing was imported',
          "The target's constraint recipe_servings_positive refuses these rows"]) {
          assert.ok(error.message.includes(part), `${JSON.stringify(part)} in: ${error.message}`);
        }
        assert.not.match(error.message, /edited|by hand/);
        assert.is(error.cause?.code, '23514', 'the driver error is kept as the cause');
      });
    } finally {
      await backend.executeScript(target, 'ALTER TABLE recipe DROP CONSTRAINT recipe_servings_positive');
    }
  });

  test('a delete the database refuses is DELETE_REJECTED with its words and what to change', async () => {
    const orm = await backend.createOrm({ entities, extensions: [EntitySync] });
    try {
      await seed(orm);
      const rejected = async (parts: string[]) => {
        await unchanged(orm, async () => {
          const error = await failure(deleteGraph(orm.em.fork(), { entity: Recipe, key: 1 }));
          assert.is(error.code, 'DELETE_REJECTED', error.message);
          assert.ok(error.cause?.code, 'the driver error is kept as the cause');
          for (const part of ['The database refused the delete: ', 'Nothing was deleted.', ...parts]) {
            assert.ok(error.message.includes(part), `${JSON.stringify(part)} in: ${error.message}`);
          }
        });
      };

      // a table the ORM does not map references the recipe
      await backend.executeScript(orm, 'CREATE TABLE recipe_note (id int PRIMARY KEY, recipe_id int NOT NULL REFERENCES recipe (id)); ' +
        'INSERT INTO recipe_note VALUES (1, 1)');
      await rejected(['violates foreign key constraint "recipe_note_recipe_id_fkey" on table "recipe_note"', 'SQLSTATE 23503',
        'constraint recipe_note_recipe_id_fkey', 'Table recipe_note is not an entity of this ORM', 'delete its rows first']);
      await backend.executeScript(orm, 'DROP TABLE recipe_note');

      // an entity holds the key in a plain column, not a relation
      await backend.executeScript(orm, 'ALTER TABLE recipe_link ADD CONSTRAINT recipe_link_recipe FOREIGN KEY (recipe_id) REFERENCES recipe (id); ' +
        'INSERT INTO recipe_link (id, recipe_id) VALUES (1, 1)');
      await rejected(['SQLSTATE 23503', 'constraint recipe_link_recipe', 'RecipeLink rows still reference the deleted rows through recipe_link_recipe',
        'which the ORM does not map as a relation', 'map it as a relation']);
      await backend.executeScript(orm, 'DELETE FROM recipe_link; ALTER TABLE recipe_link DROP CONSTRAINT recipe_link_recipe');

      // a trigger refuses
      await backend.executeScript(orm, 'CREATE FUNCTION keep_steps() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN ' +
        "RAISE EXCEPTION 'steps are kept for the audit'; END $$; " +
        'CREATE TRIGGER keep_steps BEFORE DELETE ON step FOR EACH ROW EXECUTE FUNCTION keep_steps()');
      await rejected(['steps are kept for the audit', 'SQLSTATE P0001', 'A trigger or rule refused it', 'keep_steps()']);
      await backend.executeScript(orm, 'DROP TRIGGER keep_steps ON step');

      // entity-sync's own errors pass through unchanged
      const missing = await failure(deleteGraph(orm.em.fork(), { entity: Recipe, key: 99 }));
      assert.is(missing.code, 'ROOT_NOT_FOUND');
      assert.is((await deleteGraph(orm.em.fork(), { entity: Recipe, key: 1 })).entities.Recipe, 1, 'once nothing refuses, the delete goes through');
    } finally {
      await orm.close();
    }
  });

  test.run();
}

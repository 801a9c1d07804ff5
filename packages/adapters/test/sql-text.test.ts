import 'reflect-metadata';
import { testBackends } from '@entity-sync/testing';
import { Entity, PrimaryKey } from '@entity-sync/testing/mikro-orm';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { EntitySync } from '../src/mikro-orm/index.js';
import { numberPlaceholders } from '../src/internal/pg/sql-placeholders.js';
import { literal, SqlSession } from '../src/internal/pg/sql-session.js';

const placeholders = suite('numberPlaceholders: ? outside quoted text and comments');

placeholders('plain placeholders are numbered in order', () => {
  assert.is(numberPlaceholders('SELECT * FROM t WHERE a = ? AND b = ?'), 'SELECT * FROM t WHERE a = $1 AND b = $2');
  assert.is(numberPlaceholders('SELECT 1'), 'SELECT 1');
});

placeholders("quoted text '...', with doubled quotes, and standard strings whose backslash is text", () => {
  assert.is(numberPlaceholders("SELECT '?', ?"), "SELECT '?', $1");
  assert.is(numberPlaceholders("SELECT 'it''s ?', ?"), "SELECT 'it''s ?', $1");
  assert.is(numberPlaceholders("SELECT 'a\\', ?"), "SELECT 'a\\', $1");
  assert.is(numberPlaceholders("SELECT U&'d\\0061t?', ?"), "SELECT U&'d\\0061t?', $1");
  assert.is(numberPlaceholders("SELECT nice'a\\', ?"), "SELECT nice'a\\', $1", 'a word ending in e is no E prefix');
});

placeholders("E'...' strings take backslash escapes", () => {
  assert.is(numberPlaceholders("SELECT E'it\\'s ?', ?"), "SELECT E'it\\'s ?', $1");
  assert.is(numberPlaceholders("SELECT e'\\\\', ?, E'?'''"), "SELECT e'\\\\', $1, E'?'''");
});

placeholders('quoted identifiers "..."', () => {
  assert.is(numberPlaceholders('SELECT 1 AS "why?", "a""?" FROM t WHERE x = ?'), 'SELECT 1 AS "why?", "a""?" FROM t WHERE x = $1');
});

placeholders('dollar-quoted text, with and without a tag', () => {
  assert.is(numberPlaceholders("CREATE FUNCTION f() RETURNS text AS $$ SELECT '?' || ? $$ LANGUAGE sql; SELECT ?"),
    "CREATE FUNCTION f() RETURNS text AS $$ SELECT '?' || ? $$ LANGUAGE sql; SELECT $1");
  assert.is(numberPlaceholders('SELECT $fn$ ? $inner$ ? $inner$ $fn$, ?'), 'SELECT $fn$ ? $inner$ ? $inner$ $fn$, $1');
  assert.is(numberPlaceholders('SELECT a$b$ ?'), 'SELECT a$b$ $1', 'a $ inside a name starts nothing');
  assert.is(numberPlaceholders('SELECT $1::int, ?'), 'SELECT $1::int, $1', 'a numbered parameter is no dollar quote');
});

placeholders('line and block comments, nested', () => {
  assert.is(numberPlaceholders('SELECT 1 -- why?\n, ?'), 'SELECT 1 -- why?\n, $1');
  assert.is(numberPlaceholders('SELECT /* a? /* nested? */ still? */ ?'), 'SELECT /* a? /* nested? */ still? */ $1');
  assert.is(numberPlaceholders('SELECT 4 - ?'), 'SELECT 4 - $1', 'one minus is no comment');
});

placeholders('unterminated text runs to the end (the database reports it)', () => {
  assert.is(numberPlaceholders("SELECT ?, '?"), "SELECT $1, '?");
  assert.is(numberPlaceholders('SELECT ?, $$ ?'), 'SELECT $1, $$ ?');
  assert.is(numberPlaceholders('SELECT ? /* ?'), 'SELECT $1 /* ?');
});

placeholders('literal() doubles quotes and keeps backslashes', () => {
  assert.is(literal("it's"), "'it''s'");
  assert.is(literal('a\\b'), "'a\\b'");
  assert.is(literal(''), "''");
});

placeholders.run();

@Entity()
class Probe {
  @PrimaryKey() id!: number;
}

const VALUES = ["it's", 'back\\slash', "trailing\\", '?', '$$', "E'x'", "'; DROP TABLE probe; --", 'naïve ✓'];

for (const backend of testBackends()) {
  const test = suite(`literal() and ? placeholders on the database [${backend.name}]`);

  test('literals read back exactly, and only real placeholders are bound', async () => {
    // on MikroORM 7 entity-sync reaches PGlite's transactions through its extension
    const orm = await backend.createOrm({ entities: [Probe], extensions: [EntitySync] });
    try {
      await orm.em.fork().transactional(async (tx) => {
        const session = await SqlSession.open(tx);
        await session.useCanonicalText(orm.config.get('schema') ?? 'public');
        for (const value of VALUES) {
          const [row] = await session.query<Record<string, string>>(
            `SELECT ${literal(value)} AS v, ? AS p, '?' AS q, 1 AS "why?", $$?$$ AS d, E'\\?' AS e /* ? */ -- ?\n, ?::text AS p2`,
            ['first', 'second']);
          assert.equal(row, { v: value, p: 'first', q: '?', 'why?': 1, d: '?', e: '?', p2: 'second' });
        }
      });
    } finally {
      await orm.close();
    }
  });

  test.run();
}

import { readFile } from 'node:fs/promises';
import type { MikroORM } from '@mikro-orm/core';
import type { TestBackend } from './test-backend.js';

/** Options of `runSqlFile`. */
export interface RunSqlFileOptions {
  /** Skip everything before the first match (e.g. a file's `CREATE DATABASE` / `\c` preamble). */
  startAt?: RegExp;
}

/** Runs a plain SQL script file (no psql meta-commands after `startAt`) in the ORM's database and schema. */
export async function runSqlFile(backend: TestBackend, orm: MikroORM, path: string, options: RunSqlFileOptions = {}): Promise<void> {
  let sql = await readFile(path, 'utf8');
  if (options.startAt) {
    const start = sql.search(options.startAt);
    if (start < 0) throw new Error(`${path}: nothing matches ${options.startAt}`);
    sql = sql.slice(start);
  }
  await backend.executeScript(orm, sql);
}

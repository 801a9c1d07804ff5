// LocalDirectoryStorage: content-addressed writes that are visible only when complete and right.
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { LocalDirectoryStorage } from '@entity-sync/adapters/storage';
import { HttpError } from '@entity-sync/core';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { rejection } from '../support/discover.js';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

const test = suite('LocalDirectoryStorage');
let dir: string;
test.before.each(async () => {
  dir = await mkdtemp(join(tmpdir(), 'es-storage-'));
});
test.after.each(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('a download that breaks off keeps its own typed error (not the directory\'s), and no partial file stays', async () => {
  const storage = new LocalDirectoryStorage(dir);
  const hash = sha256('the whole file');
  async function* brokenOff() {
    yield Buffer.from('the whole');
    throw HttpError.cutShort('http://127.0.0.1:1/entity-sync/files/x', new Error('socket closed'));
  }
  const error = await rejection(storage.write(hash, Readable.from(brokenOff())));
  assert.is(error.code, 'TRANSPORT_UNAVAILABLE');
  assert.is(await storage.has(hash), undefined);
  assert.equal(await readdir(join(dir, hash.slice(0, 2))), []);
});

test('bytes that do not hash to the announced sha256 are refused; right ones are stored under their hash', async () => {
  const storage = new LocalDirectoryStorage(dir);
  const wrong = await rejection(storage.write(sha256('announced'), Readable.from([Buffer.from('other bytes')])));
  assert.is(wrong.code, 'ENV_SYNC_FILE_INVALID');
  const ref = await storage.write(sha256('announced'), Readable.from([Buffer.from('announced')]));
  assert.is(ref, LocalDirectoryStorage.refOf(sha256('announced')));
  assert.is(await storage.has(sha256('announced')), ref);
});

test.run();

// The page's client of tests/push-pull/rxdb-browser.test.ts, bundled for the browser by esbuild:
// an unmodified RxDB (memory storage under schema validation, no dev-mode, one instance)
// replicating one collection with rxdbReplicationHandlers, whose live stream is the browser's own
// EventSource. The test drives it through `globalThis.rxdbPage`; every wait has a deadline.
import { rxdbReplicationHandlers, type RxdbServerCheckpoint } from '@entity-sync/adapters/rxdb';
import { createRxDatabase, type RxCollection, type RxDatabase, type RxJsonSchema } from 'rxdb';
import { replicateRxCollection, type RxReplicationState } from 'rxdb/plugins/replication';
import { getRxStorageMemory } from 'rxdb/plugins/storage-memory';
import { wrappedValidateAjvStorage } from 'rxdb/plugins/validate-ajv';

/** A document of the page's collection, as the test reads it. */
export type PageDoc = Record<string, unknown> & { id: string };

/** How the test starts the page's replication. */
export interface PageStart {
  /** The model the collection replicates. */
  model: string;
  /** The bearer token (the stream sends it as `?access_token=`). */
  token: string;
  /** Whether `pull.stream$` is on (false: changes of the server come only with a pull RxDB makes itself). */
  live: boolean;
}

/** What the page exposes on `globalThis.rxdbPage`, for `page.evaluate`. */
export interface RxdbPage {
  /** Opens the database and replicates the collection; resolves after the first sync, or rejects after `ms`. */
  start(options: PageStart, ms: number): Promise<void>;
  /** Every document, sorted by id. */
  docs(): Promise<PageDoc[]>;
  /** One document, or null when there is none. */
  doc(id: string): Promise<PageDoc | null>;
  insert(doc: PageDoc): Promise<void>;
  patch(id: string, patch: Record<string, unknown>): Promise<void>;
  remove(id: string): Promise<void>;
  /** Resolves when every local write has been pushed and the last pull is done, or rejects after `ms`. */
  inSync(ms: number): Promise<void>;
  /** The messages of the replication's errors so far. */
  errors(): string[];
  /** Cancels the replication and closes the database. */
  stop(): Promise<void>;
}

// only the key is required: a deleted row comes as a tombstone with the key alone
const schema: RxJsonSchema<PageDoc> = {
  version: 0, primaryKey: 'id', type: 'object', required: ['id'],
  properties: { id: { type: 'string', maxLength: 20 }, title: { type: 'string' }, done: { type: 'boolean' } },
};

// the page's origin, which serves the page, this bundle and the sync routes
const origin = (globalThis as unknown as { location: { origin: string } }).location.origin;

let db: RxDatabase | undefined;
let collection: RxCollection<PageDoc> | undefined;
let replication: RxReplicationState<PageDoc, RxdbServerCheckpoint> | undefined;
const errors: string[] = [];

function within<T>(what: string, promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the page timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

function opened(): RxCollection<PageDoc> {
  if (!collection) throw new Error('the page has not started its replication');
  return collection;
}

async function existing(id: string) {
  const doc = await opened().findOne(id).exec();
  if (!doc) throw new Error(`the page has no document ${id}`);
  return doc;
}

const page: RxdbPage = {
  async start(options, ms) {
    db = await createRxDatabase({ name: 'browserclient', storage: wrappedValidateAjvStorage({ storage: getRxStorageMemory() }), multiInstance: false });
    await db.addCollections({ docs: { schema } });
    collection = db.docs as RxCollection<PageDoc>;
    // no EventSource given: the helper takes the browser's own
    const handlers = rxdbReplicationHandlers<PageDoc>({ url: `${origin}/sync`, model: options.model, token: options.token });
    replication = replicateRxCollection({
      collection, replicationIdentifier: `${options.model}@${origin}`, retryTime: 200, live: true,
      pull: { ...handlers.pull, ...(options.live ? {} : { stream$: undefined }), batchSize: 2 }, push: handlers.push,
    });
    replication.error$.subscribe((error) => errors.push(String(error?.message ?? error)));
    await within('the first sync', replication.awaitInitialReplication(), ms);
  },
  async docs() {
    const docs = await opened().find().exec();
    return docs.map((doc) => doc.toJSON() as PageDoc).sort((a, b) => a.id.localeCompare(b.id));
  },
  async doc(id) {
    const doc = await opened().findOne(id).exec();
    return doc ? doc.toJSON() as PageDoc : null;
  },
  async insert(doc) {
    await opened().insert(doc);
  },
  async patch(id, patch) {
    await (await existing(id)).incrementalPatch(patch);
  },
  async remove(id) {
    await (await existing(id)).remove();
  },
  async inSync(ms) {
    if (!replication) throw new Error('the page has not started its replication');
    await within('the replication to be in sync', replication.awaitInSync(), ms);
  },
  errors: () => [...errors],
  async stop() {
    await replication?.cancel();
    await db?.close();
    replication = undefined;
    collection = undefined;
    db = undefined;
  },
};

(globalThis as unknown as { rxdbPage: RxdbPage }).rxdbPage = page;

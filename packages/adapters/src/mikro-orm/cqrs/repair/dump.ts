import { CqrsError, EntitySyncError, parseCqrsMessage, type CqrsMessage } from '@entity-sync/core';
import type { EntityManager } from '@mikro-orm/core';
import { inTransaction } from '../../extension/compat.js';
import { SqlSession } from '../../../internal/pg/sql-session.js';
import { MasterMessages } from '../master/master-messages.js';
import { installReplica } from '../replica/replica-applier.js';
import { applyBatch, replicaTarget } from '../replica/replica-batch.js';
import { masterSource, readMasterPage, syncChange } from './master-rows.js';
import type { RepairOptions } from './repair-options.js';
import { checkKey, DEFAULT_BATCH, DUMP_FORMAT, LineReader, linesFromTransaction, readHeader, streamHeader } from './streams.js';
import { checkEntityManager } from '../../extension/arguments.js';

// Bulk copy without the transport: a dump of the master rows as sync messages, loaded into a replica.

/** Options of `dumpMaster`. */
export interface DumpMasterOptions extends RepairOptions {
  cqrsId: string;
  /** A MikroORM filter of the master entity (`{ id: { $in: [1, 2] } }`): only these rows are dumped. */
  filter?: object;
}

/** Options of `loadReplica`. */
export interface LoadReplicaOptions extends RepairOptions {
  /** Called after each batch with the number of messages read so far. */
  onProgress?: (read: number) => void;
}

/** What `loadReplica` did: messages applied, and messages the revision guard skipped (the replica had a newer revision). */
export interface LoadReplicaReport {
  applied: number;
  skipped: number;
}

function dumpMessage(value: Record<string, unknown>, cqrsId: string, keyLength: number, line: number): CqrsMessage {
  let message: CqrsMessage;
  try {
    message = parseCqrsMessage(value);
  } catch (error) {
    const why = error instanceof EntitySyncError && typeof error.info.why === 'string' ? error.info.why : (error as Error).message;
    throw CqrsError.streamInvalid('dump', `the line is not a valid CQRS message (${why})`, line, error);
  }
  if (message.operation !== 'sync') throw CqrsError.streamInvalid('dump', `operation ${message.operation} is not a sync`, line);
  if (message.cqrsId !== cqrsId) throw CqrsError.streamInvalid('dump', `a message of '${message.cqrsId}' in a dump of '${cqrsId}'`, line);
  checkKey('dump', message.key, keyLength, line);
  return message;
}

/**
 * Streams the master rows of a CQRS id as NDJSON lines, from one snapshot: a header, one `sync`
 * message per row (current revision, state as the relay would publish it: include, exclude,
 * shouldSync and the serializer apply), and an end line with the count. Lines carry no newline.
 * On PGlite, read the stream to its end before using the same database for anything else.
 *
 * @example
 * ```ts
 * const out = createWriteStream('authors.ndjson');
 * for await (const line of dumpMaster(orm.em.fork(), { cqrsId: 'author' })) out.write(`${line}\n`);
 * ```
 */
export function dumpMaster(em: EntityManager, options: DumpMasterOptions): AsyncIterable<string> {
  checkEntityManager('dumpMaster', em, "dumpMaster(em, { cqrsId: 'author' })");
  const size = options.batchSize ?? DEFAULT_BATCH;
  return linesFromTransaction(em, 'repeatable read', async (tx, emit) => {
    const session = await SqlSession.open(tx, options.signal);
    const messages = new MasterMessages(tx);
    const source = await masterSource(tx, session, messages, options.cqrsId);
    await emit(streamHeader(DUMP_FORMAT, options.cqrsId));
    let count = 0;
    let after: string | undefined;
    if (source.master.options.produce !== false) {
      do {
        const page = await readMasterPage(tx, session, source, { filter: options.filter, after, size, withRows: true });
        for (const row of page.rows) {
          const message = await messages.toMessage(syncChange(options.cqrsId, row.key, row.revision, row.row!), tx);
          if (!message) continue;
          count += 1;
          await emit(JSON.stringify(message));
        }
        tx.clear();
        after = page.next;
      } while (after !== undefined);
    }
    await emit(JSON.stringify({ end: true, count }));
  });
}

/**
 * Loads a dump into the `@Replica` of its CQRS id, all or nothing in one transaction: a wrong
 * header, a bad line or a missing end line throws CQRS_DUMP_INVALID and applies nothing. The
 * revision guard applies per row: a replica row with a newer revision is kept (counted as skipped).
 */
export async function loadReplica(em: EntityManager, lines: AsyncIterable<string>, options: LoadReplicaOptions = {}): Promise<LoadReplicaReport> {
  checkEntityManager('loadReplica', em, 'loadReplica(em, lines)');
  const size = options.batchSize ?? DEFAULT_BATCH;
  return inTransaction(em, async (tx) => {
    const reader = new LineReader(lines, 'dump');
    const header = await readHeader(reader, 'dump', DUMP_FORMAT);
    const replica = replicaTarget(tx, header.cqrsId);
    await installReplica(tx);
    const session = await SqlSession.open(tx, options.signal);
    const total: LoadReplicaReport = { applied: 0, skipped: 0 };
    let batch: CqrsMessage[] = [];
    let read = 0;
    const flush = async () => {
      for (const verdict of await applyBatch(tx, session, replica, batch)) {
        if (verdict === 'apply' || verdict === 'gap') total.applied += 1;
        else total.skipped += 1;
      }
      batch = [];
      options.onProgress?.(read);
    };
    for (;;) {
      const { value } = await reader.object('a message or the end line');
      if (value.end === true) {
        if (value.count !== read) throw CqrsError.streamInvalid('dump', `the end line counts ${JSON.stringify(value.count)} messages, the dump has ${read}`, reader.line);
        break;
      }
      batch.push(dumpMessage(value, header.cqrsId, replica.keyProperties.length, reader.line));
      read += 1;
      if (batch.length >= size) await flush();
    }
    await reader.finish();
    if (batch.length) await flush();
    return total;
  });
}

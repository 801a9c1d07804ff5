import type { CqrsMessage, Transport } from '@entity-sync/core';
import type { EntityManager } from '@mikro-orm/core';
import { inTransaction } from '../../extension/compat.js';
import { SqlSession } from '../../../internal/pg/sql-session.js';
import { MasterMessages } from '../master/master-messages.js';
import { masterSource, publishOptions, readMasterPage, syncChange } from './master-rows.js';
import type { RepairOptions } from './repair-options.js';
import { DEFAULT_BATCH } from './streams.js';
import { checkEntityManager } from '../../extension/arguments.js';

/** Options of `syncMaster`. */
export interface SyncMasterOptions extends RepairOptions {
  cqrsId: string;
  /** A MikroORM filter of the master entity: only these rows are published. */
  filter?: object;
  /** Publish to this replica queue only, instead of to every replica. */
  queue?: string;
  /** Called after each published batch with the number of messages published so far. */
  onProgress?: (published: number) => void;
}

/** What `syncMaster` did. */
export interface SyncMasterReport {
  /** Sync messages published. */
  published: number;
}

/**
 * Publishes the current state of chosen master rows (all, or those matching `filter`) as `sync`
 * messages, in batches, to every replica or to one queue. Replicas apply them even at an equal
 * revision, so this repairs rows whose content drifted.
 */
export async function syncMaster(em: EntityManager, transport: Transport, options: SyncMasterOptions): Promise<SyncMasterReport> {
  checkEntityManager('syncMaster', em, "syncMaster(em, transport, { cqrsId: 'author' })");
  const size = options.batchSize ?? DEFAULT_BATCH;
  const messages = new MasterMessages(em);
  let published = 0;
  let after: string | undefined;
  do {
    // each page reads in its own short transaction: publishing to a slow broker holds no transaction open
    const page = await inTransaction(em, async (tx) => {
      const session = await SqlSession.open(tx, options.signal);
      const source = await masterSource(tx, session, messages, options.cqrsId);
      if (source.master.options.produce === false) return { batch: [], next: undefined };
      const read = await readMasterPage(tx, session, source, { filter: options.filter, after, size, withRows: true });
      const batch: CqrsMessage[] = [];
      for (const row of read.rows) {
        const message = await messages.toMessage(syncChange(options.cqrsId, row.key, row.revision, row.row!), tx);
        if (message) batch.push(message);
      }
      return { batch, next: read.next };
    });
    if (page.batch.length) {
      await transport.publish(page.batch, publishOptions(options.queue));
      published += page.batch.length;
      options.onProgress?.(published);
    }
    after = page.next;
  } while (after !== undefined);
  return { published };
}

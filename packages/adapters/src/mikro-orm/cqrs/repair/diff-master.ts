import type { EntityManager } from '@mikro-orm/core';
import { SqlSession } from '../../../internal/pg/sql-session.js';
import { MasterMessages } from '../master/master-messages.js';
import { masterSource, readMasterPage, syncChange } from './master-rows.js';
import type { RepairOptions } from './repair-options.js';
import { CONTENT_VERSION, DEFAULT_BATCH, DIFF_FORMAT, linesFromTransaction, streamHeader } from './streams.js';
import { checkEntityManager } from '../../extension/arguments.js';

/** Options of `diffMaster`. */
export interface DiffMasterOptions extends RepairOptions {
  cqrsId: string;
  /**
   * List each row's published state too (format version 2), so that `diffReplica` finds replica
   * rows whose content drifted at an equal revision. `false` lists keys and revisions only
   * (version 1): no row data leaves the database and no serializer runs. Default true.
   */
  content?: boolean;
}

/**
 * Step 1 of a diff, on the master, from one snapshot: streams a header,
 * `{"key":[...],"revision":n,"state":{...}}` for every row the master publishes (in primary-key
 * order, keys exactly as the capture trigger records them, state as the relay would publish it:
 * include, exclude, shouldSync and the serializer apply), and an end line with the count. Feed it
 * to `diffReplica` on the replica. With `content: false` the lines carry no state.
 */
export function diffMaster(em: EntityManager, options: DiffMasterOptions): AsyncIterable<string> {
  checkEntityManager('diffMaster', em, "diffMaster(em, { cqrsId: 'author' })");
  const size = options.batchSize ?? DEFAULT_BATCH * 2;
  const content = options.content !== false;
  return linesFromTransaction(em, 'repeatable read', async (tx, emit) => {
    const session = await SqlSession.open(tx, options.signal);
    const messages = new MasterMessages(tx);
    const source = await masterSource(tx, session, messages, options.cqrsId);
    // rows that shouldSync keeps back never reach a replica, so they are not listed
    const withRows = content || !!source.master.options.shouldSync;
    await emit(streamHeader(DIFF_FORMAT, options.cqrsId, content ? CONTENT_VERSION : 1));
    let count = 0;
    let after: string | undefined;
    if (source.master.options.produce !== false) {
      do {
        const page = await readMasterPage(tx, session, source, { after, size, withRows });
        for (const row of page.rows) {
          const message = withRows ? await messages.toMessage(syncChange(options.cqrsId, row.key, row.revision, row.row!), tx) : undefined;
          if (withRows && !message) continue;
          count += 1;
          await emit(`{"key":${row.keyText},"revision":${row.revision}${content ? `,"state":${JSON.stringify(message!.state)}` : ''}}`);
        }
        if (withRows) tx.clear();
        after = page.next;
      } while (after !== undefined);
    }
    await emit(JSON.stringify({ end: true, count }));
  });
}

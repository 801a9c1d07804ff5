import { documentsChecksum, PushPullError, type DocumentsChecksum } from '@entity-sync/core';
import type { EntityManager } from '@mikro-orm/core';
import { checkEntityManager } from '../extension/arguments.js';
import { defaultSchemaOf, inTransaction } from '../extension/compat.js';
import { EntitySync } from '../extension/entity-sync.js';
import { ident, SqlSession } from '../../internal/pg/sql-session.js';
import { TableGraph } from '../../internal/pg/table-graph.js';
import type { SyncAccess } from './access.js';
import { RequestAccess } from './permissions.js';
import { servedModels } from './served-models.js';
import { ScanPlan, scanPage } from './table-scan.js';

/** Options of `modelChecksums`: the same scope as a pull's. */
export interface ModelChecksumsOptions {
  models?: string[];
  served?: string[];
  tenant?: string;
  access?: SyncAccess;
  signal?: AbortSignal;
}

const PAGE = 10_000;

/**
 * Per model, the checksum (`documentsChecksum`) of every row the caller may pull, as a pull sends
 * them: a client that pulled up to now and computes the same over its copy knows it holds exactly
 * the server's rows. Read in one snapshot, in pages in key order (as a first pull reads them); costs a scan of the rows.
 *
 * @example
 * ```ts
 * const { Todo } = await modelChecksums(orm.em.fork(), { models: ['Todo'], tenant });
 * ```
 */
export async function modelChecksums(em: EntityManager, options: ModelChecksumsOptions = {}): Promise<Record<string, DocumentsChecksum>> {
  checkEntityManager('modelChecksums', em, "modelChecksums(orm.em.fork(), { models: ['Todo'] })");
  return inTransaction(em, async (tx) => {
    const session = await SqlSession.open(tx, options.signal);
    const sync = EntitySync.forEntityManager(tx);
    const schema = defaultSchemaOf(tx);
    await session.useCanonicalText(schema);
    const tables = await TableGraph.load(session, sync.graph, schema, (entity) => sync.registryEntry(entity));
    let models = servedModels(sync, tables, options.models, options.served);
    const access = options.access && await RequestAccess.load(session, schema, options.access, options.tenant);
    if (access) models = access.pullable(models, !!options.models).allowed;
    const tenanted = models.filter((model) => model.tenant);
    if (tenanted.length && options.tenant === undefined) throw PushPullError.tenantRequired(tenanted.map((model) => model.name));
    const sums: Record<string, DocumentsChecksum> = {};
    for (const model of models) {
      const condition = access ? access.condition(model, access.rules(model.name, 'pull'), (column) => `t.${ident(column.name)}`) : 'true';
      const plan = new ScanPlan(model);
      // a page at a time in key order, the documents read as a first pull reads them: the checksum of the whole is the sum of the pages'
      let count = 0;
      let sum = 0n;
      for (let after: string[] | undefined; ;) {
        const rows = await scanPage(session, plan, options.tenant, condition, after, PAGE);
        const page = documentsChecksum(rows.count ? JSON.parse(`[${rows.docs.toString()}]`) as Record<string, unknown>[] : []);
        count += page.count;
        sum = (sum + BigInt(`0x${page.checksum}`)) & 0xffff_ffff_ffff_ffffn;
        if (!rows.more) break;
        after = rows.lastKey;
      }
      sums[model.name] = { count, checksum: sum.toString(16).padStart(16, '0') };
    }
    return sums;
  }, 'repeatable read');
}

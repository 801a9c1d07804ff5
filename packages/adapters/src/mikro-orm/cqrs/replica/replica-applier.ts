import { CqrsError, dependencyOrder, parseCqrsMessage, type CqrsMessage, type RevisionVerdict } from '@entity-sync/core';
import type { EntityManager } from '@mikro-orm/core';
import { defaultSchemaOf, forkOutsideTransaction, inTransaction } from '../../extension/compat.js';
import { EntitySync } from '../../extension/entity-sync.js';
import { ident, SqlSession } from '../../../internal/pg/sql-session.js';
import { deleteRows, judgeBatch, recordRevisions, replicaTarget, saveRows, writeRows, type ReplicaTarget } from './replica-batch.js';
import { checkEntityManager } from '../../extension/arguments.js';

/** Creates the table where a replica keeps the revision (and tombstone) of every row it applied. Idempotent. */
export async function installReplica(em: EntityManager): Promise<void> {
  checkEntityManager('installReplica', em, 'installReplica(orm.em.fork())');
  await inTransaction(em, async (tx) => {
    const session = await SqlSession.open(tx);
    await session.run(`CREATE TABLE IF NOT EXISTS ${ident(defaultSchemaOf(tx))}.entity_sync_replica_state ` +
      `(cqrs_id text NOT NULL, key jsonb NOT NULL, revision bigint NOT NULL, deleted boolean NOT NULL, PRIMARY KEY (cqrs_id, key))`);
  });
}

/**
 * Applies CQRS messages to `@Replica` entities in a transaction (one, or a batch): the revision guard
 * drops duplicates and late messages (deletes leave a tombstone), field mapping renames, drops
 * and transforms, and a message that lacks a field the replica requires is refused whole.
 */
export class ReplicaApplier {
  private readonly replicas = new Set<string>();
  private readonly targets = new Map<string, ReplicaTarget>();
  // Replica CQRS ids by the replicas' foreign keys, referenced tables first; whether some of them form a cycle.
  private readonly rank = new Map<string, number>();
  private readonly cyclic: boolean;

  constructor(private readonly em: EntityManager) {
    checkEntityManager('ReplicaApplier', em, 'new ReplicaApplier(orm.em.fork())');
    const sync = EntitySync.forEntityManager(em);
    const entities = new Map<string, string>();
    for (const node of sync.graph.nodes.values()) {
      const replica = sync.registryEntry(node.name)?.replica;
      if (replica) {
        this.replicas.add(replica.cqrsId);
        entities.set(node.name, replica.cqrsId);
      }
    }
    const order = dependencyOrder(sync.graph, entities.keys());
    order.order.forEach((entity, i) => this.rank.set(entities.get(entity)!, i));
    this.cyclic = order.cycles.length > 0;
  }

  /** The CQRS ids this applier has replicas for. */
  get cqrsIds(): string[] {
    return [...this.replicas];
  }

  /**
   * Applies several messages in one transaction, set-based (what a busy consumer does with the
   * messages already waiting); resolves to the revision guard's verdict for each. All or
   * nothing: when one cannot apply, the error is thrown and nothing is applied, so that the
   * caller can apply them one by one and fail only that one.
   *
   * The writes follow the replica's foreign keys, whatever order the messages came in: first
   * the saves, table by table with referenced tables first (a self-reference is one statement,
   * which PostgreSQL checks at its end), then the deletes, referencing tables first. That order
   * is safe whenever applying the batch's messages one by one would be, which the relay's
   * publishing order makes so (see TransactionOrder). Tables whose foreign keys form a cycle
   * need one of those keys DEFERRABLE: the applier defers every deferrable constraint to the
   * commit of a batch when the replicas have such a cycle; a cycle of keys that cannot be
   * deferred makes a batch that needs it fail, and the consumer then applies it one by one.
   * A batch of one replica writes in one statement where it can (see writeRows).
   */
  async applyMany(received: unknown[]): Promise<RevisionVerdict[]> {
    const messages = received.map((value) => this.check(parseCqrsMessage(value)));
    return inTransaction(forkOutsideTransaction(this.em), async (tx) => {
      const session = await SqlSession.open(tx);
      if (this.cyclic) await session.run('SET CONSTRAINTS ALL DEFERRED');
      const verdicts: RevisionVerdict[] = new Array(messages.length);
      const byId = new Map<string, number[]>();
      messages.forEach((message, i) => byId.set(message.cqrsId, [...(byId.get(message.cqrsId) ?? []), i]));
      const groups = [...byId].sort(([a], [b]) => this.rank.get(a)! - this.rank.get(b)!).map(([cqrsId, indexes]) => {
        let target = this.targets.get(cqrsId);
        if (!target) this.targets.set(cqrsId, (target = replicaTarget(tx, cqrsId)));
        return { target, indexes, applying: [] as CqrsMessage[] };
      });
      for (const group of groups) {
        const judged = await judgeBatch(session, group.target, group.indexes.map((i) => messages[i]!));
        group.indexes.forEach((i, n) => (verdicts[i] = judged.verdicts[n]!));
        group.applying = judged.applying;
      }
      if (groups.length === 1) {
        await writeRows(tx, session, groups[0]!.target, groups[0]!.applying);
        return verdicts;
      }
      for (const { target, applying } of groups) await saveRows(tx, session, target, applying.filter((message) => message.state !== null));
      for (const { target, applying } of [...groups].reverse()) await deleteRows(tx, session, target, applying.filter((message) => message.state === null));
      for (const { target, applying } of groups) await recordRevisions(session, target, applying);
      return verdicts;
    });
  }

  private check(message: CqrsMessage): CqrsMessage {
    if (!this.replicas.has(message.cqrsId)) {
      throw CqrsError.messageWithoutReplica(message.cqrsId, this.cqrsIds);
    }
    if (message.expiresAt && Date.parse(message.expiresAt) < Date.now()) {
      throw CqrsError.messageExpired(message.id, message.expiresAt);
    }
    return message;
  }

  /** Applies one message; resolves to what the revision guard decided. Throws typed errors for messages that cannot apply. */
  async apply(received: unknown): Promise<RevisionVerdict> {
    return (await this.applyMany([received]))[0]!;
  }
}

import { OutboxRelay, type ReplicaApplier } from '@entity-sync/adapters/mikro-orm';
import { MemoryTransport } from '@entity-sync/adapters/memory';
import type { CqrsMessage, Transport } from '@entity-sync/core';
import type { MikroORM } from '@mikro-orm/core';

// What the repair tests share: line streams, transports that apply only once the publisher is
// done (PGlite has one connection for every ORM of the process), and views of the revision tables.

export async function collect(lines: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const line of lines) out.push(line);
  return out;
}

export async function* from(lines: string[]): AsyncIterable<string> {
  yield* lines;
}

export const parse = (lines: string[]) => lines.map((line) => JSON.parse(line) as Record<string, unknown>);

export const schemaOf = (orm: MikroORM) => `"${orm.config.get('schema') ?? 'public'}"`;

export async function rejection(promise: Promise<unknown>): Promise<Error & { code?: string }> {
  try {
    await promise;
  } catch (error) {
    return error as Error & { code?: string };
  }
  throw new Error('expected a rejection');
}

/** A transport that only records, so that messages are applied after the publishing call returned. */
export function recorder(): Transport & { sent: CqrsMessage[] } {
  const sent: CqrsMessage[] = [];
  return {
    sent,
    async publish(messages) {
      sent.push(...structuredClone(messages));
    },
    async subscribe() {
      return { stop: async () => undefined };
    },
    async close() {},
  };
}

/** Relays the master's outbox and applies to the replica, in order, every message of an id it replicates. */
export async function replicate(master: MikroORM, applier: ReplicaApplier): Promise<void> {
  const transport = recorder();
  while ((await new OutboxRelay(master.em.fork(), transport).relayPending()).relayed > 0);
  for (const message of transport.sent) if (applier.cqrsIds.includes(message.cqrsId)) await applier.apply(message);
}

/**
 * A memory transport whose subscribers wait while it is held: between `hold()` and `release()`
 * messages queue up, so that nothing applies while a publisher is still at work.
 */
export function gatedTransport(): Transport & { memory: MemoryTransport; hold(): void; release(): Promise<void> } {
  const memory = new MemoryTransport();
  let open: () => void = () => undefined;
  let gate: Promise<void> = Promise.resolve();
  return {
    memory,
    hold() {
      gate = new Promise<void>((resolve) => { open = resolve; });
    },
    async release() {
      open();
      await memory.drain();
    },
    publish: (messages, options) => memory.publish(messages, options),
    subscribe(queue, cqrsIds, handler) {
      return memory.subscribe(queue, cqrsIds, async (message) => {
        await gate;
        await handler(message);
      });
    },
    close: () => memory.close(),
  };
}

export async function masterRevisions(orm: MikroORM, cqrsId: string): Promise<Map<string, number>> {
  const rows = await orm.em.getConnection().execute(
    `select key, revision::text from ${schemaOf(orm)}.entity_sync_revision where cqrs_id = ?`, [cqrsId]) as { key: unknown[]; revision: string }[];
  return new Map(rows.map((row) => [JSON.stringify(row.key), Number(row.revision)]));
}

export async function replicaStates(orm: MikroORM, cqrsId: string): Promise<string[]> {
  const rows = await orm.em.getConnection().execute(
    `select key, revision::text, deleted from ${schemaOf(orm)}.entity_sync_replica_state where cqrs_id = ? order by key`, [cqrsId]) as
    { key: unknown[]; revision: string; deleted: boolean }[];
  return rows.map((row) => `${JSON.stringify(row.key)}@${row.revision}${row.deleted ? ' deleted' : ''}`);
}

/** Marks every pending outbox entry sent without delivering it: the replica misses those changes. */
export async function loseOutbox(master: MikroORM): Promise<void> {
  await master.em.getConnection().execute(`update ${schemaOf(master)}.entity_sync_outbox set sent_at = now() where sent_at is null`);
}

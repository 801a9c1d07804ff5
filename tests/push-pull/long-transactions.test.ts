// The pull checkpoint never skips a row, whatever the commit order: writers with long
// transactions and rollbacks while a client pulls in a loop with small pages, and the client's
// copy ends equal to the server's. The same capture read by a timestamp cursor (changed_at, the
// usual "updated since" API) misses the rows a long transaction commits late: shown too.
// Real PostgreSQL only: PGlite has one connection, so nothing runs concurrently there.
import 'reflect-metadata';
import { EntitySync, installPushPull, pullChanges, ROW_VERSION_TABLE } from '@entity-sync/adapters/mikro-orm';
import { SyncModel } from '@entity-sync/core';
import { testBackends } from '@entity-sync/testing';
import { Entity, PrimaryKey, Property } from '@entity-sync/testing/mikro-orm';
import type { EntityManager, MikroORM } from '@mikro-orm/core';
import { setTimeout as sleep } from 'node:timers/promises';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

@Entity({ tableName: 'lt_item' })
@SyncModel()
class LtItem {
  @PrimaryKey() id!: number;
  @Property() value!: number;
}

type Copy = Map<number, number>;

/** A client: pulls everything ready into its copy, in pages of `limit`; counts how often each id was sent within one answer. */
class Client {
  checkpoint: string | null = null;
  readonly copy: Copy = new Map();
  duplicates = 0;
  readonly log: string[] = [];

  constructor(private readonly orm: MikroORM, private readonly limit: number) {}

  async pullOnce(): Promise<boolean> {
    const answer = await pullChanges(this.orm.em.fork(), { checkpoint: this.checkpoint, limit: this.limit });
    const seen = new Set<number>();
    for (const change of answer.changes) {
      for (const doc of change.upserted) {
        if (seen.has(doc.id as number)) this.duplicates += 1;
        seen.add(doc.id as number);
        this.copy.set(doc.id as number, doc.value as number);
      }
      for (const id of change.deleted) this.copy.delete(id as number);
    }
    this.log.push(`${this.checkpoint} -> ${answer.checkpoint}: ${answer.changes.flatMap((c) => [...c.upserted.map((d) => `${d.id}=${d.value}`), ...c.deleted.map((id) => `${id}x`)]).join(' ')}`);
    this.checkpoint = answer.checkpoint;
    return answer.hasMore;
  }

  async catchUp(): Promise<void> {
    while (await this.pullOnce());
  }
}

/** The same capture read by a timestamp cursor: rows whose changed_at is after the last one seen, oldest first. */
class TimestampClient {
  private after = '-infinity';
  readonly copy: Copy = new Map();

  constructor(private readonly orm: MikroORM, private readonly schema: string, private readonly limit: number) {}

  async catchUp(): Promise<void> {
    for (;;) {
      const rows = await this.orm.em.getConnection().execute<{ key: number[]; deleted: boolean; value: number | null; at: string }[]>(
        `select v.key, v.deleted, i.value, v.changed_at::text as at from "${this.schema}".${ROW_VERSION_TABLE} v ` +
        `left join "${this.schema}".lt_item i on i.id = (v.key->>0)::int where v.changed_at > '${this.after}' order by v.changed_at limit ${this.limit}`);
      for (const row of rows) {
        if (row.deleted || row.value === null) this.copy.delete(row.key[0]!);
        else this.copy.set(row.key[0]!, row.value);
        this.after = row.at;
      }
      if (rows.length < this.limit) return;
    }
  }
}

/** The ids whose values differ between two copies (missing on one side included), with both values. */
function differences(client: Copy, server: Copy): string[] {
  const ids = [...new Set([...client.keys(), ...server.keys()])].sort((a, b) => a - b);
  return ids.filter((id) => client.get(id) !== server.get(id)).map((id) => `${id}: client ${client.get(id)}, server ${server.get(id)}`);
}

async function serverCopy(em: EntityManager): Promise<Copy> {
  return new Map((await em.find(LtItem, {}, { orderBy: { id: 'asc' } })).map((item) => [item.id, item.value]));
}

for (const backend of testBackends().filter((candidate) => candidate.name === 'postgres')) {
  const test = suite(`push/pull: checkpoints under long transactions [${backend.name}]`);
  let orm: MikroORM;

  test.before.each(async () => {
    orm = await backend.createOrm({ entities: [LtItem], extensions: [EntitySync], pool: { min: 1, max: 12 } });
    await installPushPull(orm.em.fork());
  });
  test.after.each(() => orm.close());

  test('a row that a long transaction commits after a faster one is pulled; a timestamp cursor misses it for good', async () => {
    const schema = orm.config.get('schema') ?? 'public';
    const client = new Client(orm, 2);
    const naive = new TimestampClient(orm, schema, 2);
    // both have pulled the (empty) table before the writes
    await client.catchUp();
    await naive.catchUp();
    // and a third pulls for the first time while the long transaction runs: its first pull reads the table itself
    const fresh = new Client(orm, 2);
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let written!: () => void;
    const longWrote = new Promise<void>((resolve) => (written = resolve));
    // the long transaction writes row 1 first, then waits
    const long = orm.em.fork().transactional(async (tx) => {
      tx.create(LtItem, { id: 1, value: 10 });
      await tx.flush();
      written();
      await released;
    });
    await longWrote;
    // a short one writes row 2 after it and commits first
    await orm.em.fork().transactional(async (tx) => {
      tx.create(LtItem, { id: 2, value: 20 });
    });
    try {
      await client.catchUp();
      await naive.catchUp();
      await fresh.catchUp();
      assert.equal([...client.copy], [], 'row 2 is held back while the older transaction runs');
      assert.equal([...naive.copy], [[2, 20]]);
      assert.equal([...fresh.copy], [[2, 20]], 'a first pull reads the committed rows');
      assert.match(fresh.checkpoint!, /^1\.\d+$/);
    } finally {
      release();
      await long;
    }
    await client.catchUp();
    await naive.catchUp();
    await fresh.catchUp();
    const server = await serverCopy(orm.em.fork());
    assert.equal([...server], [[1, 10], [2, 20]]);
    assert.equal([...client.copy].sort(([a], [b]) => a - b), [...server]);
    assert.equal([...fresh.copy].sort(([a], [b]) => a - b), [...server], 'the first pull\'s horizon held row 1 for the pulls after it');
    assert.equal([...naive.copy], [[2, 20]], 'the timestamp cursor went past row 1 before it committed, and never sees it');
  });

  test('writers with long transactions and rollbacks while a client pulls in small pages: its copy ends equal to the server\'s', async () => {
    const client = new Client(orm, 3);
    let stop = false;
    let pulls = 0;
    const puller = (async () => {
      while (!stop) {
        await client.pullOnce();
        pulls += 1;
        await sleep(10);
      }
    })();
    let committed = 0;
    let rolledBack = 0;

    const writer = async (w: number) => {
      for (let round = 0; round < 12; round++) {
        const ids = [1, 2, 3, 4].map((n) => ((w * 7 + round * 3 + n) % 40) + 1);
        const rollback = (w + round) % 4 === 0;
        await orm.em.fork().transactional(async (tx) => {
          for (const id of ids) {
            const item = await tx.findOne(LtItem, id);
            if (!item) tx.create(LtItem, { id, value: w * 1000 + round });
            else if ((id + round) % 5 === 0) tx.remove(item);
            else item.value = w * 1000 + round;
            await tx.flush();
            // some transactions stay open for up to 1.2 s between their writes
            await sleep(((w * 13 + round * 7 + id) % 6) * 50 * (w === 0 ? 4 : 1));
          }
          if (rollback) throw new Error('rolled back on purpose');
        }).then(() => (committed += 1), () => {
          // on purpose, or a clash with another writer (the same id inserted twice, a deadlock): rolled back either way
          rolledBack += 1;
        });
      }
    };
    try {
      await Promise.all([0, 1, 2, 3].map(writer));
    } finally {
      stop = true;
      await puller;
    }
    await client.catchUp();
    const server = await serverCopy(orm.em.fork());
    assert.ok(committed > 20 && rolledBack > 5 && pulls > 20, `committed ${committed}, rolled back ${rolledBack}, pulls ${pulls}`);
    assert.ok(server.size > 10, `${server.size} rows`);
    const wrong = differences(client.copy, server);
    // on a failure, what the client was sent and the capture's last state, to tell a skipped change from a wrong copy
    const versions = wrong.length ? await orm.em.getConnection().execute(
      `select key::text, xid::text, seq, deleted from "${orm.config.get('schema') ?? 'public'}".${ROW_VERSION_TABLE} order by xid, seq`) : [];
    assert.equal(wrong, [], `pulls:\n${client.log.join('\n')}\ncapture:\n${JSON.stringify(versions)}`);
    assert.is(client.duplicates, 0);
  });

  test.run();
}

import 'reflect-metadata';
import { PostgresCluster, testBackends } from '@entity-sync/testing';
import { Entity, PrimaryKey, Property } from '@entity-sync/testing/mikro-orm';
import { existsSync } from 'node:fs';
import pg from 'pg';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

@Entity()
class Note {
  @PrimaryKey() id!: number;
  @Property() body!: string;
}

for (const backend of testBackends()) {
  const test = suite(`test backend [${backend.name}]`);

  test('each ORM starts on an empty database of its own, side by side with others', async () => {
    const first = await backend.createOrm({ entities: [Note] });
    const second = await backend.createOrm({ entities: [Note] });
    try {
      const em = first.em.fork();
      await em.persist(em.create(Note, { body: 'only in the first' })).flush();
      assert.is(await first.em.fork().count(Note), 1);
      assert.is(await second.em.fork().count(Note), 0);
    } finally {
      await first.close();
      await second.close();
    }
    const third = await backend.createOrm({ entities: [Note] });
    assert.is(await third.em.fork().count(Note), 0);
    await third.close();
  });

  test('executeScript runs multi-statement SQL in the ORM\'s own database', async () => {
    const orm = await backend.createOrm({ entities: [Note] });
    try {
      await backend.executeScript(orm, "insert into note (body) values ('a?'); insert into note (body) values ('b;c');");
      const bodies = (await orm.em.fork().find(Note, {}, { orderBy: { id: 'asc' } })).map((note) => note.body);
      assert.equal(bodies, ['a?', 'b;c']);
    } finally {
      await orm.close();
    }
  });

  test.run();
}

const cluster = suite('PostgresCluster');

if (testBackends().some((backend) => backend.name === 'postgres')) {
  cluster('starts a server on 127.0.0.1, creates databases, and removes everything when stopped', async () => {
    const server = await PostgresCluster.start();
    const client = new pg.Client({ connectionString: server.url() });
    try {
      await client.connect();
      const { rows } = await client.query("select inet_server_addr()::text as addr, current_setting('fsync') as fsync");
      assert.equal(rows[0], { addr: '127.0.0.1/32', fsync: 'off' });
      await server.createDatabase('made_by_test');
      const { rowCount } = await client.query("select 1 from pg_database where datname = 'made_by_test'");
      assert.is(rowCount, 1);
    } finally {
      await client.end();
      server.stop();
    }
    assert.not.ok(existsSync(server.dir));
    const refused = new pg.Client({ connectionString: server.url(), connectionTimeoutMillis: 2000 });
    await refused.connect().then(() => assert.unreachable('the server should be gone'), () => undefined);
  });
}

cluster.run();

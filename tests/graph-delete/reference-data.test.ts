import { deleteGraph, EntitySync } from '@entity-sync/adapters/mikro-orm';
import { registerSyncModel, unregister } from '@entity-sync/core';
import { runSqlFile, testBackends } from '@entity-sync/testing';
import type { MikroORM } from '@mikro-orm/core';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { withTimeout } from '../support/timeout.js';
import { chinookEntities, chinookSqlPath, chinookStart, Customer, Track } from '../fixtures/chinook/entities.js';

async function chinook(backend: ReturnType<typeof testBackends>[number]): Promise<MikroORM> {
  const orm = await backend.createOrm({ entities: chinookEntities, extensions: [EntitySync], createSchema: false });
  await runSqlFile(backend, orm, chinookSqlPath, { startAt: chinookStart });
  return orm;
}

for (const backend of testBackends()) {
  const test = suite(`deleteGraph outside list and reference data [${backend.name}]`);

  test("a customer's invoice lines are flagged for the tracks they point at, until Track is declared reference data", withTimeout(async () => {
    const plain = await chinook(backend);
    try {
      const plan = await deleteGraph(plain.em.fork(), { entity: Customer, key: 1 }, { dryRun: true });
      const lines = plan.outside.find((effect) => effect.entity === 'InvoiceLine');
      assert.ok(lines, 'invoice lines are listed as also belonging to their tracks');
      assert.equal(lines!.outside.map((entry) => entry.entity), ['Track']);
      assert.is(lines!.rows, plan.entities.InvoiceLine);
    } finally {
      await plain.close();
    }
    registerSyncModel(Track, { referenceData: true });
    try {
      const declared = await chinook(backend);
      try {
        const plan = await deleteGraph(declared.em.fork(), { entity: Customer, key: 1 }, { dryRun: true });
        assert.ok(plan.entities.InvoiceLine! > 0, 'the lines still go');
        assert.equal(plan.outside, [], 'nothing is flagged for pointing at reference data');
      } finally {
        await declared.close();
      }
    } finally {
      unregister(Track);
    }
  }));

  test.run();
}

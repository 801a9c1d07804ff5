// overwrite leaves identical rows alone; deleteGraph's excludeRelations takes either name of a nullable
// relation and refuses a NOT NULL one; @SyncModel({ referenceData: false }) keeps a delete plan's warnings.
import 'reflect-metadata';
import { deleteGraph, EntitySync, exportGraph, importGraph } from '@entity-sync/adapters/mikro-orm';
import { SyncModel } from '@entity-sync/core';
import { testBackends } from '@entity-sync/testing';
import { type MikroORM } from '@mikro-orm/core';
import { Entity, ManyToOne, PrimaryKey, Property } from '@entity-sync/testing/mikro-orm';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { tableChecksums } from '../support/checksums.js';
import { withTimeout } from '../support/timeout.js';

@Entity({ tableName: 'ow_ward' })
class Ward {
  @PrimaryKey() id!: number;
  @Property() name!: string;
}

// Its only foreign key is nullable: by shape it looks like reference data, which patients are not.
@Entity({ tableName: 'ow_patient' })
@SyncModel({ referenceData: false })
class Patient {
  @PrimaryKey() id!: number;
  @Property() name!: string;
  @ManyToOne(() => Ward, { nullable: true }) ward?: Ward;
  @Property({ columnType: 'timestamptz(6)', nullable: true }) lastUpdate?: Date;
}

@Entity({ tableName: 'ow_doctor' })
class Doctor {
  @PrimaryKey() id!: number;
  @Property() name!: string;
}

@Entity({ tableName: 'ow_visit' })
class Visit {
  @PrimaryKey() id!: number;
  @ManyToOne(() => Patient) patient!: Patient;
  @ManyToOne(() => Doctor) doctor!: Doctor;
  @ManyToOne(() => Doctor, { nullable: true }) referredBy?: Doctor;
}

const entities = [Ward, Patient, Doctor, Visit];
const STAMP = '2020-02-02 02:02:02.020202+00';

async function seed(orm: MikroORM, backend: { executeScript(orm: MikroORM, sql: string): Promise<void> }): Promise<void> {
  await backend.executeScript(orm, `
    CREATE FUNCTION ow_touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.last_update = now(); RETURN NEW; END $$;
    CREATE TRIGGER ow_patient_touch BEFORE UPDATE ON ow_patient FOR EACH ROW EXECUTE FUNCTION ow_touch();
    INSERT INTO ow_ward (id, name) VALUES (1, 'North');
    INSERT INTO ow_patient (id, name, ward_id, last_update) VALUES (1, 'Ada', 1, '${STAMP}'), (2, 'Bo', 1, '${STAMP}'), (3, 'Cy', NULL, '${STAMP}');
    INSERT INTO ow_doctor (id, name) VALUES (1, 'Dr One'), (2, 'Dr Two');
    INSERT INTO ow_visit (id, patient_id, doctor_id, referred_by_id) VALUES (1, 1, 1, 2), (2, 2, 1, NULL), (3, 3, 2, 1);`);
}

for (const backend of testBackends()) {
  const test = suite(`overwrite and delete relations [${backend.name}]`);

  test("overwrite updates the rows that differ and leaves identical ones alone, so their update triggers do not fire", withTimeout(async () => {
    const source = await backend.createOrm({ entities, extensions: [EntitySync] });
    const target = await backend.createOrm({ entities, extensions: [EntitySync] });
    try {
      await seed(source, backend);
      await seed(target, backend);
      await target.em.getConnection().execute(`UPDATE "${target.config.get('schema') ?? 'public'}".ow_patient SET name = 'Bo (old)', last_update = '${STAMP}' WHERE id = 2`);
      const exported = await exportGraph(source.em.fork(), { entity: Ward, key: 1 }, { exportedAt: null });
      const report = await importGraph(target.em.fork(), exported.document!, { onConflict: 'overwrite' });
      assert.equal(report.entities.Patient, { created: 0, updated: 1, skipped: 1, remapped: 0, reused: 0 });
      assert.equal(report.entities.Ward, { created: 0, updated: 0, skipped: 1, remapped: 0, reused: 0 });
      const patients = await target.em.fork().find(Patient, { ward: 1 }, { orderBy: { id: 'asc' } });
      assert.equal(patients.map((p) => p.name), ['Ada', 'Bo']);
      assert.is(patients[0]!.lastUpdate!.toISOString(), '2020-02-02T02:02:02.020Z', 'the identical row kept its timestamp');
      assert.is.not(patients[1]!.lastUpdate!.toISOString(), '2020-02-02T02:02:02.020Z', 'the updated row went through its trigger');
      assert.equal(report.rewritten.map((r) => [r.entity, r.column, r.rows, r.sample, r.by]), [['Patient', 'last_update', 1, [['2']], 'trigger ow_patient_touch']]);
    } finally {
      await source.close();
      await target.close();
    }
  }));

  test('deleteGraph excludeRelations takes a nullable relation by either name, and refuses a NOT NULL one', withTimeout(async () => {
    const orm = await backend.createOrm({ entities, extensions: [EntitySync] });
    try {
      await seed(orm, backend);
      for (const name of ['Visit.referredBy', 'Doctor<-Visit.referredBy']) {
        const plan = await deleteGraph(orm.em.fork(), { entity: Doctor, key: 2 }, { dryRun: true, excludeRelations: [name] });
        assert.equal(plan.setNull, [{ relation: 'Visit.referredBy', entity: 'Visit', rows: 1 }], name);
        assert.equal(plan.entities, { Doctor: 1, Visit: 1 }, `${name}: the visit doctor 2 gave goes, the one they referred stays`);
      }
      const before = await tableChecksums(orm);
      const error = await deleteGraph(orm.em.fork(), { entity: Doctor, key: 2 }, { excludeRelations: ['Visit.doctor'] }).catch((e) => e);
      assert.is(error.code, 'INVALID_OPTION');
      assert.match(error.message, "deleteGraph: option 'excludeRelations' is 'Visit.doctor'; it must be a nullable relation. Visit.doctor is NOT NULL");
      assert.equal(await tableChecksums(orm), before);
    } finally {
      await orm.close();
    }
  }));

  test("referenceData: false keeps the outside warning for rows of an entity that looks like reference data", withTimeout(async () => {
    const orm = await backend.createOrm({ entities, extensions: [EntitySync] });
    try {
      await seed(orm, backend);
      // deleting doctor 1 takes visits 1 and 2, whose patients stay
      const plan = await deleteGraph(orm.em.fork(), { entity: Doctor, key: 1 }, { dryRun: true, excludeRelations: ['Visit.referredBy'] });
      const visits = plan.outside.find((effect) => effect.entity === 'Visit');
      assert.ok(visits, 'the visits are flagged');
      assert.equal(visits!.sample, [['1'], ['2']]);
      assert.equal(visits!.outside, [{ relation: 'Visit.patient', entity: 'Patient', rows: 2 }]);
    } finally {
      await orm.close();
    }
  }));

  test('a misspelt option is refused, naming the options there are', withTimeout(async () => {
    const orm = await backend.createOrm({ entities, extensions: [EntitySync] });
    try {
      const error = await importGraph(orm.em.fork(), { format: 'entity-sync/graph' } as never, { onconflict: 'remap' } as never).catch((e) => e);
      assert.is(error.code, 'INVALID_OPTION');
      assert.match(error.message, "importGraph: there is no option 'onconflict'. Did you mean 'onConflict'?");
      const exportError = await exportGraph(orm.em.fork(), { entity: Ward, key: 1 }, { maxrows: 5 } as never).catch((e) => e);
      assert.match(exportError.message, "exportGraph: there is no option 'maxrows'. Did you mean 'maxRows'?");
    } finally {
      await orm.close();
    }
  }));

  test.run();
}

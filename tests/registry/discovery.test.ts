// Discovery rules: entities served without a decorator by name pattern or metadata, exclusions,
// and properties dropped from every served model (never a key); what `servedModelList` (and so
// `entity-sync api models`) reports, and what a pull then carries.
import 'reflect-metadata';
import { EntitySync, installPushPull, pullChanges, servedModelList } from '@entity-sync/adapters/mikro-orm';
import { discoverSyncModels, isEntitySyncError, SyncModel } from '@entity-sync/core';
import { testBackends } from '@entity-sync/testing';
import { Entity, PrimaryKey, Property } from '@entity-sync/testing/mikro-orm';
import type { MikroORM } from '@mikro-orm/core';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

@Entity({ tableName: 'dc_catalog_item' })
class DcCatalogItem {
  @PrimaryKey() id!: number;
  @Property() title!: string;
  @Property() secretToken!: string;
}

@Entity({ tableName: 'dc_catalog_draft' })
class DcCatalogDraft {
  @PrimaryKey() id!: number;
}

@Entity({ tableName: 'dc_member' })
@SyncModel({ tenant: 'org' })
class DcMember {
  @PrimaryKey() id!: number;
  @Property() org!: string;
  @Property() name!: string;
  @Property() passwordHash!: string;
}

@Entity({ tableName: 'dc_token' })
class DcToken {
  @PrimaryKey({ type: 'text' }) token!: string;
  @Property() scope!: string;
}

@Entity({ tableName: 'dc_audit_note' })
class DcAuditNote {
  @PrimaryKey() id!: number;
}

const backend = testBackends()[0]!;
const test = suite(`registry: discovery rules [${backend.name}]`);
let orm: MikroORM | undefined;

test.after.each(async () => {
  await orm?.close();
  orm = undefined;
  discoverSyncModels(undefined);
});

test('names and patterns include entities, exclude wins, dropFields withholds everywhere but keys; a pull carries what the list says', async () => {
  discoverSyncModels({ include: [/^DcCatalog/, 'DcToken'], exclude: ['DcCatalogDraft'], dropFields: /password|secret|token/i });
  orm = await backend.createOrm({ entities: [DcCatalogItem, DcCatalogDraft, DcMember, DcToken, DcAuditNote], extensions: [EntitySync] });
  assert.equal(servedModelList(orm).map(({ model, source, fields, withheld, tenant }) => ({ model, source, fields, withheld, tenant })), [
    { model: 'DcCatalogItem', source: 'discovery', fields: ['id', 'title'], withheld: [{ property: 'secretToken', by: 'dropFields' }], tenant: undefined },
    { model: 'DcMember', source: 'decorator', fields: ['id', 'org', 'name'], withheld: [{ property: 'passwordHash', by: 'dropFields' }], tenant: 'org' },
    { model: 'DcToken', source: 'discovery', fields: ['token', 'scope'], withheld: [], tenant: undefined },
  ]);
  const em = orm.em.fork();
  em.create(DcCatalogItem, { id: 1, title: 'lamp', secretToken: 's3cret' });
  em.create(DcToken, { token: 'tok-1', scope: 'read' });
  await em.flush();
  await installPushPull(orm.em.fork());
  const pulled = await pullChanges(orm.em.fork(), { models: ['DcCatalogItem', 'DcToken'] });
  assert.equal(pulled.changes.map((change) => [change.model, change.upserted]), [['DcCatalogItem', [{ id: 1, title: 'lamp' }]], ['DcToken', [{ token: 'tok-1', scope: 'read' }]]]);
  const draft = await pullChanges(orm.em.fork(), { models: ['DcCatalogDraft'] }).catch((error: unknown) => error);
  assert.ok(isEntitySyncError(draft) && draft.code === 'PUSH_PULL_MODEL_NOT_SERVED', String(draft));
});

test('a metadata test includes by table and properties; without rules only decorated entities are served', async () => {
  discoverSyncModels({ include: (entity) => entity.tableName.startsWith('dc_audit') || entity.properties.includes('secretToken') });
  orm = await backend.createOrm({ entities: [DcCatalogItem, DcCatalogDraft, DcMember, DcToken, DcAuditNote], extensions: [EntitySync] });
  assert.equal(servedModelList(orm).map((model) => model.model), ['DcAuditNote', 'DcCatalogItem', 'DcMember']);
  assert.equal(servedModelList(orm)[2]!.withheld, [], 'no dropFields: nothing withheld');
  await orm.close();
  // the rules served them on that ORM only: the registry was left as the decorators made it
  discoverSyncModels(undefined);
  orm = await backend.createOrm({ entities: [DcCatalogItem, DcCatalogDraft, DcMember, DcToken, DcAuditNote], extensions: [EntitySync] });
  assert.equal(servedModelList(orm).map((model) => model.model), ['DcMember']);
});

test('malformed rules are refused naming the option', () => {
  for (const [rules, option] of [[{ include: 'Dc*' }, 'include'], [{ exclude: [3] }, 'exclude'], [{ dropFields: 'password' }, 'dropFields']] as const) {
    let error: unknown;
    try {
      discoverSyncModels(rules as never);
    } catch (caught) {
      error = caught;
    }
    assert.ok(isEntitySyncError(error) && error.code === 'INVALID_OPTION' && error.message.includes(option), String(error));
  }
});

test.run();

import { CURRENT_USER, grantPermissions, installPushPull } from '@entity-sync/adapters/mikro-orm';
import { createSchema } from '@entity-sync/testing/mikro-orm';
import { PULLED_TENANT } from './entities.js';
import type { Orm } from './orm.js';

/** The roles the bench's tokens carry: `reader` pulls every row, `writer` pushes its own rows only. */
export const READER_ROLE = 'reader';
export const WRITER_ROLE = 'writer';
/** The owner of the rows the push bench creates (the subject of the writer's JWT). */
export const WRITER = 'user_w';
export const OWNERS = 5;

/**
 * Creates the schema and `tenantRows` rows of the pulled tenant and `otherRows` of three other
 * tenants, interleaved by id as rows of several tenants are written, then installs the push/pull
 * capture (which gives every row its version) and the roles' permissions.
 */
export async function generateItems(orm: Orm, tenantRows: number, otherRows: number): Promise<void> {
  await createSchema(orm);
  const connection = orm.em.getConnection();
  const total = tenantRows + otherRows;
  // every (total / otherRows)-th row is another tenant's, until the others have theirs
  const other = otherRows ? `floor(i / ${total / otherRows}) <> floor((i - 1) / ${total / otherRows})` : 'false';
  const chunk = 250_000;
  for (let from = 1; from <= total; from += chunk) {
    await connection.execute(
      `INSERT INTO pp_item (id, tenant, owner, title, amount, quantity, done, updated_at) ` +
      `SELECT i, CASE WHEN ${other} THEN 'tenant_' || (1 + i % 3) ELSE '${PULLED_TENANT}' END, 'user_' || (i % ${OWNERS}), 'item ' || i || ' ' || md5(i::text), ` +
      `(i % 100000) / 7.0, i % 1000, i % 3 = 0, timestamptz '2024-01-01' + i * interval '1 second' ` +
      `FROM generate_series(${from}, ${Math.min(total, from + chunk - 1)}) i`);
  }
  await installPushPull(orm.em.fork(), { models: ['PpItem'] });
  await grantPermissions(orm.em.fork(), { role: READER_ROLE, model: 'PpItem', pull: true });
  await grantPermissions(orm.em.fork(), { role: WRITER_ROLE, model: 'PpItem', pull: true, push: true, create: true, update: true,
    filters: [{ field: 'owner', op: 'eq', value: CURRENT_USER }] });
  await connection.execute('VACUUM ANALYZE');
}

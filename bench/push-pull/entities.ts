import 'reflect-metadata';
import { SyncModel } from '@entity-sync/core';
import { Entity, Index, PrimaryKey, Property } from '@entity-sync/testing/mikro-orm';

// One tenant-scoped table of work items as a multi-tenant app keeps them: a tenant and an owner
// (what the row filters of the push bench compare), text, a float, an integer, a flag and a
// timestamp. The index on (tenant, updated_at, id) is the one a hand-written "changed since"
// endpoint needs: the naive baseline gets it.

@Entity({ tableName: 'pp_item' })
@SyncModel({ tenant: 'tenant' })
@Index({ properties: ['tenant', 'updatedAt', 'id'] })
export class PpItem {
  @PrimaryKey() id!: number;
  @Property() tenant!: string;
  @Property() owner!: string;
  @Property() title!: string;
  @Property({ type: 'double' }) amount!: number;
  @Property() quantity!: number;
  @Property() done!: boolean;
  @Property({ type: 'Date' }) updatedAt!: Date;
}

/** The columns a pull sends (every column of the table), in the order a COPY of the same rows reads them. */
export const ITEM_COLUMNS = ['id', 'tenant', 'owner', 'title', 'amount', 'quantity', 'done', 'updated_at'] as const;

/** The tenant whose rows are pulled; the others' rows share the table. */
export const PULLED_TENANT = 'tenant_0';

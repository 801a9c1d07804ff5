import { PushPullError } from '@entity-sync/core';
import type { EntitySync } from '../extension/entity-sync.js';
import { ident } from '../../internal/pg/sql-session.js';
import type { CatalogColumn } from '../../internal/pg/table-catalog.js';
import type { TableGraph, TableNode } from '../../internal/pg/table-graph.js';

/** A model the push/pull API serves: its table, its key, and the properties its documents carry. */
export interface ServedModel {
  name: string;
  table: TableNode;
  /** The primary-key columns: a document's id (one column) or id list (several). */
  key: CatalogColumn[];
  /** Property name and column of every value a document carries (the columns `@SyncModel` include / exclude let out). */
  fields: { property: string; column: CatalogColumn }[];
  /** The property and column naming a row's tenant (`@SyncModel({ tenant })`); none for a model every tenant shares. */
  tenant?: { property: string; column: CatalogColumn };
}

/** The served models named in `names` (default every `@SyncModel`), among `served` (default all); `PUSH_PULL_MODEL_NOT_SERVED` for others. */
export function servedModels(sync: EntitySync, tables: TableGraph, names?: string[], served: string[] = sync.syncModelNames()): ServedModel[] {
  const unknown = (names ?? []).filter((name) => !served.includes(name));
  if (unknown.length) throw PushPullError.modelNotServed(unknown, served);
  return (names ?? served).map((name) => {
    const table = tables.keyedTable(name);
    const node = sync.graph.node(name);
    const fields = node.columns.flatMap((column) => {
      const catalog = table.columns.find((candidate) => candidate.name === column.name);
      return catalog ? [{ property: column.property, column: catalog }] : [];
    });
    const tenantProperty = sync.registryEntry(name)?.syncModel?.tenant;
    let tenant: ServedModel['tenant'];
    if (tenantProperty) {
      const columns = node.columns.filter((column) => column.property === tenantProperty);
      const catalog = table.allColumns.find((candidate) => candidate.name === columns[0]?.name);
      if (columns.length !== 1 || !catalog) throw PushPullError.tenantPropertyInvalid(name, tenantProperty);
      tenant = { property: tenantProperty, column: catalog };
    }
    return { name, table, key: table.primaryKey, fields, tenant };
  });
}

/** `jsonb_build_array(<row>.<key column>, ...)`: a row's key as the capture stores it. */
export function keyJson(model: ServedModel, row: string): string {
  return `jsonb_build_array(${model.key.map((column) => `${row}.${ident(column.name)}`).join(', ')})`;
}

/** `<row>.<tenant column>::text`, or '' for a model every tenant shares: the tenant the capture files a row under. */
export function tenantText(model: ServedModel, row: string): string {
  return model.tenant ? `coalesce(${row}.${ident(model.tenant.column.name)}::text, '')` : "''";
}

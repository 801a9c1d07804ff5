import type { GraphEdge, RelationGraph } from '@entity-sync/core';
import type { MikroORM } from '@mikro-orm/core';

/** One edge as a line that a test can compare: name, kind, target, key columns, nullability. */
export function describeEdge(edge: GraphEdge): string {
  const via = edge.foreignKey
    ? `${edge.foreignKey.owner}(${edge.foreignKey.columns.join(',')})->${edge.foreignKey.references}(${edge.foreignKey.referencedColumns.join(',')})`
    : `${edge.pivot!.table}(${edge.pivot!.fromColumns.join(',')}|${edge.pivot!.toColumns.join(',')})`;
  const flags = [edge.owner ? 'owner' : 'inverse', edge.nullable ? 'nullable' : 'required', edge.selfReference ? 'self' : '']
    .filter(Boolean).join(' ');
  return `${edge.name}: ${edge.kind} ${edge.from}->${edge.to} via ${via} [${flags}] inverse=${edge.inverse}`;
}

/** Every edge of the graph described, sorted. */
export function describeEdges(graph: RelationGraph): string[] {
  return graph.edges.map(describeEdge).sort();
}

/** The foreign keys that really exist in the ORM's database schema, as `table(cols)->table(cols) null|not null`. */
export async function databaseForeignKeys(orm: MikroORM): Promise<string[]> {
  const schema = orm.config.get('schema') ?? 'public';
  const rows = await orm.em.getConnection().execute<{ fk: string }[]>(`
    select c.conrelid::regclass::text as child, c.confrelid::regclass::text as parent,
      (select string_agg(a.attname, ',' order by k.ord) from unnest(c.conkey) with ordinality k(num, ord)
         join pg_attribute a on a.attrelid = c.conrelid and a.attnum = k.num) as cols,
      (select string_agg(a.attname, ',' order by k.ord) from unnest(c.confkey) with ordinality k(num, ord)
         join pg_attribute a on a.attrelid = c.confrelid and a.attnum = k.num) as ref_cols,
      (select bool_and(not a.attnotnull) from unnest(c.conkey) k(num)
         join pg_attribute a on a.attrelid = c.conrelid and a.attnum = k.num) as nullable
    from pg_constraint c join pg_namespace n on n.oid = c.connamespace
    where c.contype = 'f' and n.nspname = ?`, [schema]);
  const bare = (name: string) => name.replace(/^.*\./, '').replace(/"/g, '');
  return (rows as unknown as { child: string; parent: string; cols: string; ref_cols: string; nullable: boolean }[])
    .map((row) => `${bare(row.child)}(${row.cols})->${bare(row.parent)}(${row.ref_cols}) ${row.nullable ? 'null' : 'not null'}`)
    .sort();
}

/** The foreign keys the graph's owning edges describe, in the same form. */
export function graphForeignKeys(graph: RelationGraph): string[] {
  return graph.edges
    .filter((edge) => edge.owner && edge.foreignKey)
    .map((edge) => {
      const fk = edge.foreignKey!;
      return `${graph.node(fk.owner).table}(${fk.columns.join(',')})->${graph.node(fk.references).table}(${fk.referencedColumns.join(',')}) ${fk.nullable ? 'null' : 'not null'}`;
    })
    .sort();
}

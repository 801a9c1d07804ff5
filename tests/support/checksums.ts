import type { MikroORM } from '@mikro-orm/core';

/** Row count and an md5 of every row's text of each table in the ORM's schema: equal maps mean equal data. */
export async function tableChecksums(orm: MikroORM): Promise<Record<string, string>> {
  const schema = orm.config.get('schema') ?? 'public';
  const connection = orm.em.getConnection();
  const tables = await connection.execute<{ name: string }[]>(
    `select c.relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = ? and c.relkind = 'r' order by 1`, [schema]);
  const sums: Record<string, string> = {};
  for (const { name } of tables) {
    const [row] = await connection.execute<{ n: number; h: string | null }[]>(
      `select count(*)::int as n, md5(coalesce(string_agg(x::text, '|' order by x::text), '')) as h from "${schema}"."${name}" x`);
    sums[name] = `${row!.n}:${row!.h}`;
  }
  return sums;
}

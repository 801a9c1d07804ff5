import { FlushMode, type EntityManager } from '@mikro-orm/core';
import type { Throughput } from '../graph/measure.js';
import { since } from '../graph/measure.js';
import { Country, CopyText, Currency, Language, Region, referenceTables } from './entities.js';
import type { ReferenceShape } from './generate.js';

const BATCH = 1000;

// The natural key of a row as a MikroORM filter: what an app looks a row up by in the other database.
const regionKey = (row: Region) => ({ code: row.code });
const currencyKey = (row: Currency) => ({ code: row.code });
const countryKey = (row: Country) => ({ code: row.code });
const languageKey = (row: Language) => ({ country: countryKey(row.country), code: row.code });
const copyTextKey = (row: CopyText) => ({ language: languageKey(row.language), key: row.key });

/** How one entity is copied: what to load with it, its natural key, its columns, and its foreign keys looked up by natural key. */
interface Step<T extends object> {
  entity: new () => T;
  populate: string[];
  key: (row: T) => object;
  columns: (keyof T & string)[];
  parents: (row: T, find: <P extends object>(entity: new () => P, where: object) => Promise<P>) => Promise<Partial<T>>;
}

const step = <T extends object>(s: Step<T>) => s as unknown as Step<object>;

const STEPS = [
  step<Region>({ entity: Region, populate: [], key: regionKey, columns: ['code', 'name'], parents: async () => ({}) }),
  step<Currency>({ entity: Currency, populate: [], key: currencyKey, columns: ['code', 'name', 'symbol', 'decimals'], parents: async () => ({}) }),
  step<Country>({
    entity: Country, populate: ['region', 'currency'], key: countryKey, columns: ['code', 'name', 'phonePrefix', 'active'],
    parents: async (row, find) => ({ region: await find(Region, regionKey(row.region)), currency: await find(Currency, currencyKey(row.currency)) }),
  }),
  step<Language>({
    entity: Language, populate: ['country'], key: languageKey, columns: ['code', 'name', 'rightToLeft'],
    parents: async (row, find) => ({ country: await find(Country, countryKey(row.country)) }),
  }),
  step<CopyText>({
    entity: CopyText, populate: ['language.country'], key: copyTextKey, columns: ['key', 'body', 'format', 'maxLength'],
    parents: async (row, find) => ({ language: await find(Language, languageKey(row.language)) }),
  }),
];

/**
 * Copies the first rows of every table (`sample`, by id) from `source` to `target` the way an
 * app does with the ORM alone: source rows read a page at a time with their parents, and per
 * row `findOne` by natural key in the target, a `findOne` by natural key for each foreign key,
 * then `assign` to the found row or `create` + `persist`; `flush` every 1,000 rows and at the
 * end of each table (so that children find their parents), in one transaction. Queries do not
 * flush first (flush mode `commit`): the batches stay 1,000 rows.
 */
export async function naivePull(source: EntityManager, target: EntityManager, sample: ReferenceShape): Promise<Throughput & { calls: number }> {
  const start = performance.now();
  let rows = 0;
  let calls = 0;
  await target.transactional(async (em) => {
    const findOne = async <T extends object>(entity: new () => T, where: object) => {
      calls += 1;
      return em.findOne(entity, where, { flushMode: FlushMode.COMMIT });
    };
    const find = async <P extends object>(entity: new () => P, where: object) => {
      const found = await findOne(entity, where);
      if (!found) throw new Error(`naive pull: no ${entity.name} ${JSON.stringify(where)} in the target`);
      return found;
    };
    for (const [i, { entity, populate, key, columns, parents }] of STEPS.entries()) {
      let lastId = 0;
      for (let left = sample[referenceTables[i]!]; left > 0;) {
        const page = await source.fork().find(entity, { id: { $gt: lastId } }, { orderBy: { id: 'asc' }, limit: Math.min(BATCH, left), populate: populate as never[] });
        calls += 1;
        if (page.length === 0) break;
        for (const row of page) {
          const data: Record<string, unknown> = { ...(await parents(row, find)) };
          for (const column of columns) data[column] = row[column as keyof typeof row];
          const existing = await findOne(entity, key(row));
          if (existing) em.assign(existing, data);
          else em.persist(em.create(entity, data));
          rows += 1;
          if (rows % BATCH === 0) {
            await em.flush();
            em.clear();
          }
        }
        lastId = (page[page.length - 1] as { id: number }).id;
        left -= page.length;
      }
      await em.flush();
      em.clear();
    }
  });
  return { rows, seconds: since(start), calls };
}

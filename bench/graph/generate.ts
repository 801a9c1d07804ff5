import type { MikroORM } from '@mikro-orm/postgresql';

/** Stores in every data set: one store's graph is a twentieth of a million rows at full scale. */
export const STORES = 50;
const COUNTRIES = 50;

/** Row counts of a data set of about `total` rows: per store for store-owned tables, in all for the rest. */
export function shopShape(total: number) {
  const k = total / 1_000_000;
  const perStore = (base: number) => Math.max(2, Math.round(base * k));
  const all = (base: number) => Math.max(STORES, Math.round(base * k));
  const s = {
    categories: perStore(40), tags: perStore(20), employees: perStore(50), products: perStore(500), customers: perStore(1_200),
  };
  const customers = s.customers * STORES;
  const orders = all(150_000);
  return {
    perStore: s,
    rows: {
      country: COUNTRIES,
      store: STORES,
      category: s.categories * STORES,
      tag: s.tags * STORES,
      employee: s.employees * STORES,
      product: s.products * STORES,
      product_tags: 2 * s.products * STORES,
      customer: customers,
      address: Math.max(customers, all(90_000)),
      orders,
      order_line: all(420_000),
      payment: all(120_000),
      shipment: all(90_000),
      review: all(30_000),
    },
  };
}

export type ShopShape = ReturnType<typeof shopShape>;

/** Every table, parents before children (the deferrable customer -> address key aside). */
export const shopTables = Object.keys(shopShape(1_000_000).rows);

// Row g of a store-owned table belongs to store 1 + (g - 1) % STORES and is that store's
// row number (g - 1) / STORES; `inStore(s, i, n)` is the id of row i mod n of store s, so that
// every reference stays inside one store and a store's graph is exactly its own rows.
const inStore = (store: string, index: string, count: number) => `(${store} + ${STORES} * ((${index}) % ${count}))`;
const storeOf = (id: string) => `(1 + ((${id}) - 1) % ${STORES})`;
const localIndex = (id: string) => `((${id}) - 1) / ${STORES}`;
// picks a store's row for a child row independently of which store the child is in (g mod
// STORES mostly decides that): otherwise only a few rows per store would ever be referenced
const spread = localIndex('g');

/** `INSERT ... SELECT ... FROM generate_series` statements that fill the shop. */
export function shopInserts({ perStore: p, rows: n }: ShopShape): string[] {
  const customerOf = (id: string) => `(1 + ((${id}) - 1) % ${n.customer})`;
  const orderOf = (id: string) => `(1 + ((${id}) - 1) % ${n.orders})`;
  const topCategories = Math.ceil(p.categories / 4);
  return [
    `insert into country (id, code, name) select g, chr(64 + (g - 1) / 26 + 1) || chr(65 + (g - 1) % 26), 'Country ' || g from generate_series(1, ${n.country}) g`,
    `insert into store (id, country_id, name, opened_at, settings) select g, 1 + g % ${n.country}, 'Store ' || g,
      timestamptz '2015-03-01 09:00:00+00' + g * interval '11 days 3 hours',
      jsonb_build_object('currency', 'EUR', 'open', jsonb_build_array(8, 20), 'returns', g % 2 = 0) from generate_series(1, ${n.store}) g`,
    `insert into category (id, store_id, parent_id, name, position) select g, ${storeOf('g')},
      case when ${localIndex('g')} >= ${topCategories} then ${inStore(storeOf('g'), localIndex('g'), topCategories)} end,
      'Category ' || g, ${localIndex('g')} from generate_series(1, ${n.category}) g`,
    `insert into tag (id, store_id, label) select g, ${storeOf('g')}, 'tag-' || g from generate_series(1, ${n.tag}) g`,
    `insert into employee (id, store_id, manager_id, name, email, hired_at, salary) select g, ${storeOf('g')},
      case when ${localIndex('g')} > 0 then ${inStore(storeOf('g'), `(${localIndex('g')} - 1) / 5`, p.employees)} end,
      'Employee ' || g, 'employee' || g || '@shop.example', timestamptz '2016-01-04 08:30:00+00' + g * interval '1 day 7 minutes',
      25000 + (g * 37) % 40000 + 0.5 from generate_series(1, ${n.employee}) g`,
    `insert into product (id, store_id, category_id, sku, name, description, price, active, attributes, created_at)
      select g, ${storeOf('g')}, ${inStore(storeOf('g'), localIndex('g'), p.categories)}, 'SKU-' || lpad(g::text, 8, '0'), 'Product ' || g,
      'A sturdy product, number ' || g || E', with a "quoted" name and a tab\\there', (g % 5000) * 0.37 + 0.99, g % 11 > 0,
      case when g % 3 > 0 then jsonb_build_object('colour', 'c' || g % 17, 'size', g % 9, 'tags', jsonb_build_array('a', g % 4)) end,
      timestamptz '2018-05-01 00:00:00+00' + g * interval '17 minutes 3.25 seconds' from generate_series(1, ${n.product}) g`,
    `insert into product_tags (product_id, tag_id) select g, ${inStore(storeOf('g'), `${localIndex('g')} + j`, p.tags)}
      from generate_series(1, ${n.product}) g cross join generate_series(0, 1) j`,
    `insert into customer (id, store_id, default_address_id, email, name, loyalty_points, vip, created_at) select g, ${storeOf('g')},
      case when g % 5 > 0 then g end, 'customer' || g || '@mail.example', 'Customer ' || g, (g::bigint * 2654435761) % 100000000000,
      g % 13 = 0, timestamptz '2019-01-01 00:00:00+00' + g * interval '9 minutes 1.5 seconds' from generate_series(1, ${n.customer}) g`,
    `insert into address (id, customer_id, country_id, street, city, postcode) select g, ${customerOf('g')}, 1 + (g / ${STORES}) % ${n.country},
      g || ' Long Road', 'City ' || g % 997, lpad((g % 99999)::text, 5, '0') from generate_series(1, ${n.address}) g`,
    `insert into orders (id, customer_id, shipping_address_id, handled_by_id, placed_at, status, total, paid, note)
      select g, ${customerOf('g')}, ${customerOf('g')},
      case when g % 4 > 0 then ${inStore(storeOf(customerOf('g')), spread, p.employees)} end,
      timestamptz '2021-01-01 00:00:00+00' + g * interval '3 minutes 7.125 seconds', (array['new', 'paid', 'shipped', 'done'])[1 + g % 4],
      (g % 100000) * 0.13 + 5, g % 7 > 0, case when g % 10 = 0 then 'Leave at the door, ring twice' end from generate_series(1, ${n.orders}) g`,
    `insert into order_line (id, order_id, product_id, quantity, unit_price, discount) select g, ${orderOf('g')},
      ${inStore(storeOf(customerOf(orderOf('g'))), spread, p.products)}, 1 + g % 6, (g % 5000) * 0.37 + 0.99, (g % 4) * 2.5
      from generate_series(1, ${n.order_line}) g`,
    `insert into payment (id, order_id, amount, method, reference, paid_at) select g, ${orderOf('g')}, (g % 100000) * 0.13 + 5,
      (array['card', 'transfer', 'wallet'])[1 + g % 3], md5('payment' || g)::uuid,
      timestamptz '2021-01-01 00:05:00+00' + g * interval '3 minutes 7.5 seconds' from generate_series(1, ${n.payment}) g`,
    `insert into shipment (id, order_id, carrier, shipped_at, tracking) select g, ${orderOf('g')}, (array['post', 'dhl', 'ups'])[1 + g % 3],
      case when g % 6 > 0 then timestamptz '2021-01-02 00:00:00+00' + g * interval '3 minutes' end,
      case when g % 2 = 0 then jsonb_build_object('no', 'TRK' || g, 'events', jsonb_build_array(jsonb_build_object('at', g, 'what', 'picked up'))) end
      from generate_series(1, ${n.shipment}) g`,
    `insert into review (id, product_id, customer_id, rating, body, created_at) select g, ${inStore(storeOf(customerOf('g')), spread, p.products)},
      ${customerOf('g')}, 1 + g % 5, 'Review ' || g || E': works as described.\\nWould buy again.',
      timestamptz '2022-01-01 00:00:00+00' + g * interval '29 minutes' from generate_series(1, ${n.review}) g`,
  ];
}

/** Fills the (empty) shop schema of `orm` with generated rows, and leaves it vacuumed and analyzed. */
export async function generateShop(orm: MikroORM, shape: ShopShape): Promise<void> {
  // one transaction: the deferrable key of the customer/address cycle is checked at its end
  await orm.em.fork().transactional(async (em) => {
    for (const sql of shopInserts(shape)) await em.execute(sql);
  });
  // hint bits and statistics settled now, so that no measured read pays for them
  await orm.em.getConnection().execute('vacuum (freeze, analyze)');
}

/**
 * A small root: the employee who handles the most orders and manages nobody. Their graph is those
 * orders with their lines, payments and shipments, and what these need (customers, addresses,
 * products, categories, the chain of managers): a few hundred rows over most of the tables.
 */
export async function smallRootEmployee(orm: MikroORM): Promise<number> {
  const [row] = await orm.em.getConnection().execute<{ id: number }[]>(
    `select o.handled_by_id as id from orders o where o.handled_by_id is not null
       and not exists (select 1 from employee e where e.manager_id = o.handled_by_id)
     group by o.handled_by_id order by count(*) desc, o.handled_by_id limit 1`);
  if (!row) throw new Error('no employee handles an order');
  return Number(row.id);
}

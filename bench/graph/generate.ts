import type { MikroORM } from '@mikro-orm/core';

/** Row counts per table for a data set of about `total` rows (1,000,000 by default). */
export function shopSize(total: number) {
  const k = total / 1_000_000;
  const n = (base: number) => Math.max(1, Math.round(base * k));
  return {
    region: 10, warehouse: 50, supplier: 200, category: 100, tag: 50, employee: 200,
    product: n(20_000), productTags: n(40_000), customer: n(50_000), address: n(50_000),
    order: n(150_000), orderLine: n(580_000), shipment: n(110_000),
  };
}

/** Fills the shop tables with generated rows, in SQL (seconds for a million rows). */
export async function generateShop(orm: MikroORM, total: number): Promise<number> {
  const s = shopSize(total);
  const statements = [
    `insert into region (id, name) select g, 'region ' || g from generate_series(1, ${s.region}) g`,
    `insert into warehouse (id, region_id, code) select g, 1 + g % ${s.region}, 'W' || g from generate_series(1, ${s.warehouse}) g`,
    `insert into supplier (id, region_id, name) select g, 1 + g % ${s.region}, 'supplier ' || g from generate_series(1, ${s.supplier}) g`,
    `insert into category (id, parent_id, name) select g, case when g > 10 then 1 + g % 10 end, 'category ' || g from generate_series(1, ${s.category}) g`,
    `insert into tag (id, name) select g, 'tag ' || g from generate_series(1, ${s.tag}) g`,
    `insert into employee (id, manager_id, name) select g, case when g > 1 then (g - 1) / 5 + 1 end, 'employee ' || g from generate_series(1, ${s.employee}) g`,
    `insert into product (id, supplier_id, category_id, name, price) select g, 1 + g % ${s.supplier}, 1 + g % ${s.category}, 'product ' || g, (g % 1000) * 1.25 from generate_series(1, ${s.product}) g`,
    `insert into product_tags (product_id, tag_id) select 1 + (g - 1) % ${s.product}, 1 + (g - 1) / ${s.product} from generate_series(1, ${s.productTags}) g`,
    `insert into customer (id, region_id, account_manager_id, email, created_at) select g, 1 + g % ${s.region}, case when g % 3 > 0 then 1 + g % ${s.employee} end, 'customer' || g || '@example.org', timestamptz '2020-01-01' + g * interval '17 minutes' from generate_series(1, ${s.customer}) g`,
    `insert into address (id, customer_id, street, city) select g, g, g || ' Main Street', 'City ' || g % 997 from generate_series(1, ${s.address}) g`,
    `insert into orders (id, customer_id, address_id, placed_at, paid) select g, 1 + g % ${s.customer}, 1 + g % ${s.customer}, timestamptz '2021-01-01' + g * interval '3 minutes', g % 7 > 0 from generate_series(1, ${s.order}) g`,
    `insert into order_line (id, order_id, product_id, quantity, amount) select g, 1 + g % ${s.order}, 1 + g % ${s.product}, 1 + g % 5, (g % 500) * 2.5 from generate_series(1, ${s.orderLine}) g`,
    `insert into shipment (id, order_id, warehouse_id, tracking) select g, 1 + g % ${s.order}, 1 + g % ${s.warehouse}, case when g % 2 = 0 then jsonb_build_object('carrier', 'c' || g % 9, 'no', g) end from generate_series(1, ${s.shipment}) g`,
  ];
  const connection = orm.em.getConnection();
  for (const sql of statements) await connection.execute(sql);
  await connection.execute('analyze');
  return Object.values(s).reduce((a, b) => a + b, 0);
}

/** Tables in an order where every foreign key points backwards (self-references aside). */
export const shopTables = ['region', 'warehouse', 'supplier', 'category', 'tag', 'employee', 'product', 'product_tags', 'customer', 'address', 'orders', 'order_line', 'shipment'];

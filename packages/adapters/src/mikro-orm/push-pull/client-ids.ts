/** Whether a column type (as MikroORM metadata names it) holds integers: such a key travels to clients as text and is read back as a number. */
export const isIntegerType = (type: string | undefined): boolean =>
  /^(int|integer|smallint|bigint|int2|int4|int8|serial|smallserial|bigserial|tinyint|mediumint)\b/i.test(type ?? '');

/**
 * A key a client sends (client libraries hold ids as strings) as the server's key value: a safe
 * integer for an integer key, the text otherwise; undefined when it cannot be one.
 */
export function serverKey(value: unknown, integer: boolean): string | number | undefined {
  if (typeof value !== 'string' && typeof value !== 'number') return undefined;
  if (!integer) return String(value);
  if (typeof value === 'string' && !/^-?\d+$/.test(value)) return undefined;
  const number = Number(value);
  return Number.isSafeInteger(number) ? number : undefined;
}

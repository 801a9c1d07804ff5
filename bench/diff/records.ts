/** A record of the diff bench: a student as a roster and a table both hold it. */
export interface BenchRecord { id: number; name: string; homeroom: string; score: number }

/**
 * The `i`th record of a side: the right side is what is; the left side differs from it in every
 * hundredth record (1% changed: a new homeroom).
 */
export const recordOf = (i: number, side: 'left' | 'right'): BenchRecord =>
  ({ id: i, name: `student ${i}`, homeroom: side === 'left' && i % 100 === 0 ? `moved ${i % 7}` : `room ${i % 40}`, score: i % 97 });

/** The records of a side in key order, made as they are read (nothing held). */
export function* recordsOf(rows: number, side: 'left' | 'right'): Generator<BenchRecord> {
  for (let i = 1; i <= rows; i++) yield recordOf(i, side);
}

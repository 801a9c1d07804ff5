/** A line stream: one line at a time, or batches of lines (as a network chunk or a page brings them). */
export type LineInput = AsyncIterable<string | readonly string[]>;

/**
 * The non-blank lines of a line stream, trimmed, counting every line read so that errors can
 * name the line. Lines that came in a batch are taken without waiting (see `buffered`).
 */
export class NonBlankLines {
  /** The 1-based number of the last line read. */
  line = 0;
  private readonly iterator: AsyncIterator<string | readonly string[]>;
  private batch: readonly string[] = [];
  private at = 0;

  constructor(lines: LineInput) {
    this.iterator = lines[Symbol.asyncIterator]();
  }

  /** The next non-blank line of the batch at hand, or undefined when the batch is used up (then `next()` waits for more). */
  buffered(): string | undefined {
    while (this.at < this.batch.length) {
      this.line += 1;
      const text = String(this.batch[this.at++]).trim();
      if (text !== '') return text;
    }
    return undefined;
  }

  /** The next non-blank line, or undefined at the end of the input. */
  async next(): Promise<string | undefined> {
    for (;;) {
      const ready = this.buffered();
      if (ready !== undefined) return ready;
      const result = await this.iterator.next();
      if (result.done) return undefined;
      this.batch = typeof result.value === 'string' ? [result.value] : result.value;
      this.at = 0;
    }
  }
}

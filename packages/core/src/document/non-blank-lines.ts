/** The non-blank lines of a line stream, trimmed, counting every line read so that errors can name the line. */
export class NonBlankLines {
  /** The 1-based number of the last line read. */
  line = 0;
  private readonly iterator: AsyncIterator<string>;

  constructor(lines: AsyncIterable<string>) {
    this.iterator = lines[Symbol.asyncIterator]();
  }

  /** The next non-blank line, or undefined at the end of the input. */
  async next(): Promise<string | undefined> {
    for (;;) {
      const result = await this.iterator.next();
      if (result.done) return undefined;
      this.line += 1;
      const text = String(result.value).trim();
      if (text !== '') return text;
    }
  }
}

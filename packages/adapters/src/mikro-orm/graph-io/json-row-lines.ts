const TAB = 0x09;
const NEWLINE = 0x0a;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const N = 0x4e;
// COPY's \v, which JSON spells \u000b (its \b \f \n \r \t and \\ are JSON's too)
const V = 0x76;
const HEX = Buffer.from('0123456789abcdef');

/**
 * Turns the bytes of `COPY ... TO STDOUT` text output, all columns text, into document row lines:
 * each line a JSON array of the column texts (null for NULL), spelled exactly as PostgreSQL's
 * `array_to_json` spells them. Fed chunk by chunk (a chunk may end inside a line); each call
 * returns the complete lines so far.
 *
 * COPY's escapes are nearly JSON's already, so one pass over the bytes does it: quotes get a
 * backslash, `\v` and the control characters COPY sends raw become `\u00XX`, tabs and newlines
 * become the array punctuation, and a whole field `\N` becomes null.
 */
export class JsonRowLines {
  private carry: Buffer = Buffer.alloc(0);
  private out: Buffer = Buffer.alloc(0);

  /** The complete lines of the bytes so far, as JSON row lines, and how many there are. */
  push(chunk: Uint8Array): { text: string; rows: number } {
    const last = chunk.lastIndexOf(NEWLINE);
    if (last === -1) {
      this.carry = Buffer.concat([this.carry, chunk]);
      return { text: '', rows: 0 };
    }
    let lines = Buffer.from(chunk.buffer, chunk.byteOffset, last + 1);
    if (this.carry.length > 0) lines = Buffer.concat([this.carry, lines]);
    // the rest of the chunk is kept as a copy: the stream may reuse its memory
    this.carry = Buffer.from(chunk.subarray(last + 1));
    return this.convert(lines);
  }

  /** Throws when the output ended inside a line. */
  end(entity: string): void {
    if (this.carry.length > 0) throw new Error(`COPY output of ${entity} ended without a newline`);
  }

  private convert(input: Buffer): { text: string; rows: number } {
    // a byte becomes at most six (a control character's \u00XX)
    if (this.out.length < 6 * input.length + 16) this.out = Buffer.allocUnsafe(6 * input.length + 16);
    const out = this.out;
    const end = input.length;
    let o = 0;
    let rows = 0;
    let i = 0;
    while (i < end) {
      out[o++] = 0x5b; // [
      for (;;) {
        if (input[i] === BACKSLASH && input[i + 1] === N && (input[i + 2] === TAB || input[i + 2] === NEWLINE)) {
          out.write('null', o, 'latin1');
          o += 4;
          i += 2;
        } else {
          out[o++] = QUOTE;
          for (let c = input[i]!; c !== TAB && c !== NEWLINE; c = input[i]!) {
            if (c === BACKSLASH) {
              const next = input[i + 1]!;
              if (next === V) {
                out.write('\\u000b', o, 'latin1');
                o += 6;
              } else {
                out[o++] = BACKSLASH;
                out[o++] = next;
              }
              i += 2;
              continue;
            }
            if (c === QUOTE) {
              out[o++] = BACKSLASH;
              out[o++] = QUOTE;
            } else if (c < 0x20) {
              out.write('\\u00', o, 'latin1');
              out[o + 4] = HEX[c >> 4]!;
              out[o + 5] = HEX[c & 15]!;
              o += 6;
            } else {
              out[o++] = c;
            }
            i += 1;
          }
          out[o++] = QUOTE;
        }
        if (input[i++] === TAB) {
          out[o++] = 0x2c; // ,
          continue;
        }
        out[o++] = 0x5d; // ]
        out[o++] = NEWLINE;
        rows += 1;
        break;
      }
    }
    return { text: out.toString('utf8', 0, o), rows };
  }
}

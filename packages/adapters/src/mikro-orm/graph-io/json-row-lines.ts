// ASCII control characters that COPY's text format sends as they are (the others it escapes as \b \f \n \r \t \v)
const RAW_CONTROL = /[\x01-\x07\x0e-\x1f]/g;
const unicodeEscape = (c: string) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;

/**
 * Turns complete lines of `COPY ... TO STDOUT` text output, all columns of type text, into
 * document row lines: each line a JSON array of the column texts (null for NULL), spelled
 * exactly as PostgreSQL's `array_to_json` spells them.
 *
 * COPY's escapes are nearly JSON's already (`\\`, `\b`, `\f`, `\n`, `\r`, `\t`), so a few
 * whole-text replacements do it: quotes, `\v` and raw control characters get JSON escapes,
 * tabs and newlines become the array punctuation, and a whole field `\N` becomes null.
 */
export function jsonRowLines(copyLines: string): string {
  let text = copyLines;
  if (text.includes('"')) text = text.replaceAll('"', '\\"');
  // pairs are read from the left, so that an escaped backslash before a v stays as it is
  if (text.includes('\\v')) text = text.replace(/\\[\\v]/g, (pair) => (pair === '\\v' ? '\\u000b' : pair));
  RAW_CONTROL.lastIndex = 0;
  if (RAW_CONTROL.test(text)) text = text.replace(RAW_CONTROL, unicodeEscape);
  text = `["${text.slice(0, -1).replaceAll('\t', '","').replaceAll('\n', '"]\n["')}"]\n`;
  // a field that is exactly \N is NULL: in the text here it can only stand between a field's own quotes
  return text.includes('"\\N"') ? text.replaceAll('"\\N"', 'null') : text;
}

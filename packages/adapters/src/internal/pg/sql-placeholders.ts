// `?` placeholders (as the rest of the adapter writes them) become `$1`, `$2`... for the driver.
// A `?` inside quoted text, a quoted identifier, a dollar-quoted body or a comment is text, not a
// placeholder; a `?` operator (jsonb) must be written as a function there (`jsonb_exists`).

const isIdentifierChar = (c: string | undefined) => c !== undefined && (/[A-Za-z0-9_$]/.test(c) || c.charCodeAt(0) > 127);
const DOLLAR_TAG = /\$(?:[A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$/y;

// Index after a quote that ends at `close`; a doubled `close` is part of the text.
function afterQuoted(sql: string, start: number, close: string, backslashEscapes: boolean): number {
  for (let i = start + 1; i < sql.length; i++) {
    if (backslashEscapes && sql[i] === '\\') i++;
    else if (sql[i] === close) {
      if (sql[i + 1] !== close) return i + 1;
      i++;
    }
  }
  return sql.length;
}

function afterBlockComment(sql: string, start: number): number {
  let depth = 0;
  for (let i = start; i < sql.length - 1; i++) {
    if (sql[i] === '/' && sql[i + 1] === '*') {
      depth++;
      i++;
    } else if (sql[i] === '*' && sql[i + 1] === '/') {
      depth--;
      i++;
      if (depth === 0) return i + 1;
    }
  }
  return sql.length;
}

/** Index after the quoted text or comment that starts at `i`, or `i` when none starts there (unterminated: the end). */
function afterText(sql: string, i: number): number {
  const c = sql[i];
  if (c === "'") {
    // E'...' (not the end of a longer word such as `type'`) takes backslash escapes
    const escaped = (sql[i - 1] === 'E' || sql[i - 1] === 'e') && !isIdentifierChar(sql[i - 2]);
    return afterQuoted(sql, i, "'", escaped);
  }
  if (c === '"') return afterQuoted(sql, i, '"', false);
  if (c === '-' && sql[i + 1] === '-') {
    const end = sql.indexOf('\n', i);
    return end === -1 ? sql.length : end + 1;
  }
  if (c === '/' && sql[i + 1] === '*') return afterBlockComment(sql, i);
  if (c === '$' && !isIdentifierChar(sql[i - 1])) {
    DOLLAR_TAG.lastIndex = i;
    const tag = DOLLAR_TAG.exec(sql)?.[0];
    if (tag) {
      const end = sql.indexOf(tag, i + tag.length);
      return end === -1 ? sql.length : end + tag.length;
    }
  }
  return i;
}

/** Rewrites the `?` placeholders of `sql` to `$1`, `$2`..., leaving quoted text, identifiers and comments as they are. */
export function numberPlaceholders(sql: string): string {
  let out = '';
  let copied = 0;
  let n = 0;
  for (let i = 0; i < sql.length;) {
    if (sql[i] === '?') {
      out += `${sql.slice(copied, i)}$${++n}`;
      copied = ++i;
      continue;
    }
    const end = afterText(sql, i);
    i = end > i ? end : i + 1;
  }
  return out + sql.slice(copied);
}

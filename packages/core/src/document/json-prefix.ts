/**
 * True when `text` ends inside a string or with brackets still open: what a JSON value cut
 * short looks like (as opposed to JSON that is complete but wrong).
 */
export function isCutShort(text: string): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92) i += 1; // backslash: skip the escaped character
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 91 || c === 123) depth += 1;
    else if (c === 93 || c === 125) depth -= 1;
  }
  return inString || depth > 0;
}

import { GraphError } from '@entity-sync/core';

/** A root written as text: entity name and primary-key values as text. */
export interface RootSpec {
  entity: string;
  key: string[];
}

/**
 * Parses `Entity:pk` as the CLI takes it: `Author:1`, `Token:6f1c...-uuid`, `Tag:a.b:c`
 * (everything after the first colon is the key), `Tag:"a:b"` (a JSON string), and composite
 * keys as a JSON array, `Shelf:["W1","north",3]`.
 */
export function parseRootSpec(text: string): RootSpec {
  const colon = text.indexOf(':');
  if (colon <= 0) throw GraphError.invalidRoot(text, 'it has no entity name before a colon');
  const entity = text.slice(0, colon);
  const spec = text.slice(colon + 1);
  if (spec === '') throw GraphError.invalidRoot(text, 'the primary key after the colon is empty');
  if (spec.startsWith('[') || spec.startsWith('"')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(spec);
    } catch {
      throw GraphError.invalidRoot(text, 'the quoted key or key list is not valid JSON');
    }
    const values = Array.isArray(parsed) ? parsed : [parsed];
    if (values.length === 0 || !values.every((value) => typeof value === 'string' || typeof value === 'number')) {
      throw GraphError.invalidRoot(text, 'a composite key must be a non-empty list of strings and numbers');
    }
    return { entity, key: values.map(String) };
  }
  return { entity, key: [spec] };
}

import { DocumentError } from '../errors/document-error.js';
import { isCutShort } from './json-prefix.js';
import {
  GRAPH_FORMAT,
  GRAPH_FORMAT_VERSION,
  type DocumentEntity,
  type DocumentRow,
  type GraphDocument,
  type GraphDocumentHeader,
} from './graph-document.js';

/**
 * A document being read: its header, then its rows entity by entity, in batches of row
 * lines, each the JSON text of one row (`["1","AC/DC"]`). Rows stay text so that the database
 * parses them in bulk; readers check structure and counts as they go.
 */
export interface DocumentSource {
  header: GraphDocumentHeader;
  /** Yields each entity's rows in batches, in header order. */
  sections(): AsyncIterable<{ entity: DocumentEntity; batches: AsyncIterable<string[]> }>;
  /** Releases what the source reads from (a file's stream); `importGraph` calls it however the import ends. */
  close?(): Promise<void>;
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Checks a parsed header and returns it typed; throws `DOCUMENT_*` errors naming the problem. */
export function validateHeader(value: unknown): GraphDocumentHeader {
  if (!isRecord(value)) throw DocumentError.invalid('the document does not start with a header object');
  if (value.format !== GRAPH_FORMAT) {
    throw DocumentError.invalid(`the header names format ${JSON.stringify(value.format)}, not ${GRAPH_FORMAT}`);
  }
  if (value.version !== GRAPH_FORMAT_VERSION) throw DocumentError.unsupportedVersion(value.format, value.version, GRAPH_FORMAT_VERSION);
  if (!Array.isArray(value.entities)) throw DocumentError.invalid('the header has no entities list');
  if (!Array.isArray(value.roots)) throw DocumentError.invalid('the header has no roots list');
  const names = new Set<string>();
  for (const [i, entity] of value.entities.entries()) {
    const where = `header entity #${i + 1}`;
    if (!isRecord(entity) || typeof entity.name !== 'string' || typeof entity.table !== 'string') {
      throw DocumentError.invalid('an entity has no name or table', where);
    }
    if (names.has(entity.name)) throw DocumentError.invalid(`entity ${entity.name} is listed twice`, where);
    names.add(entity.name);
    if (!Array.isArray(entity.columns) || entity.columns.length === 0 ||
      !entity.columns.every((c) => isRecord(c) && typeof c.name === 'string' && typeof c.type === 'string')) {
      throw DocumentError.invalid(`entity ${entity.name} has no valid column list`, where);
    }
    if (!Array.isArray(entity.primaryKey) || entity.primaryKey.length === 0 ||
      !entity.primaryKey.every((column) => (entity.columns as { name: string }[]).some((c) => c.name === column))) {
      throw DocumentError.invalid(`entity ${entity.name} has no valid primary key`, where);
    }
    if (typeof entity.rows !== 'number' || !Number.isInteger(entity.rows) || entity.rows < 0) {
      throw DocumentError.invalid(`entity ${entity.name} has no row count`, where);
    }
  }
  return value as unknown as GraphDocumentHeader;
}

function checkRow(row: unknown, entity: DocumentEntity, index: number): DocumentRow {
  if (!Array.isArray(row) || row.length !== entity.columns.length ||
    !row.every((cell) => cell === null || typeof cell === 'string')) {
    throw DocumentError.invalid(
      `row ${index + 1} of ${entity.name} is not a list of ${entity.columns.length} text or null values`, entity.name);
  }
  return row as DocumentRow;
}

/** Reads an in-memory document (already parsed, or JSON text). */
export function documentFromObject(value: GraphDocument): DocumentSource {
  const header = validateHeader(value);
  if (!isRecord(value.data)) throw DocumentError.invalid('the document has no data object');
  for (const entity of header.entities) {
    const rows = value.data[entity.name];
    if (!Array.isArray(rows)) throw DocumentError.truncated(`the rows of ${entity.name} are missing`);
    if (rows.length !== entity.rows) {
      throw DocumentError.truncated(`${entity.name} has ${rows.length} rows, the header announces ${entity.rows}`);
    }
  }
  for (const name of Object.keys(value.data)) {
    if (!header.entities.some((entity) => entity.name === name)) {
      throw DocumentError.invalid(`the data holds rows of ${name}, which the header does not describe`);
    }
  }
  return {
    header,
    async *sections() {
      for (const entity of header.entities) {
        const rows = value.data[entity.name]!.map((row, i) => JSON.stringify(checkRow(row, entity, i)));
        yield { entity, batches: (async function* () { if (rows.length) yield rows; })() };
      }
    },
    async close() {},
  };
}

/** Parses a whole JSON-encoded document. */
export function parseJsonDocument(text: string): DocumentSource {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    if (text.trimStart().startsWith('{') && isCutShort(text)) throw DocumentError.truncated('the JSON ends in the middle');
    throw DocumentError.invalid(`it is not JSON (${(error as Error).message})`);
  }
  return documentFromObject(value as GraphDocument);
}

/**
 * Reads an NDJSON document line by line: memory stays bounded by `batchSize` rows,
 * however large the file. `close()` ends the line iterator (`return()`).
 */
export async function readNdjsonDocument(lines: AsyncIterator<string>, batchSize = 5000): Promise<DocumentSource> {
  const parseLine = (line: string, where: string): unknown => {
    try {
      return JSON.parse(line);
    } catch (error) {
      if (isCutShort(line)) throw DocumentError.truncated(`${where} ends in the middle`);
      throw DocumentError.invalid(`${where} is not JSON (${(error as Error).message})`);
    }
  };
  const first = await lines.next();
  if (first.done) throw DocumentError.invalid('the file is empty');
  const header = validateHeader(parseLine(first.value, 'the header line'));
  let pending: string | undefined;
  let consumed = false;
  return {
    header,
    async *sections() {
      if (consumed) throw new Error('an NDJSON document can be read once');
      consumed = true;
      let lineNo = 1;
      const nextLine = async (): Promise<string | undefined> => {
        if (pending !== undefined) {
          const line = pending;
          pending = undefined;
          return line;
        }
        for (;;) {
          const next = await lines.next();
          if (next.done) return undefined;
          lineNo += 1;
          if (next.value.trim() !== '') return next.value;
        }
      };
      for (const entity of header.entities) {
        const marker = await nextLine();
        if (marker === undefined) throw DocumentError.truncated(`the rows of ${entity.name} are missing`);
        const parsed = parseLine(marker, `line ${lineNo}`);
        if (!isRecord(parsed) || parsed.entity !== entity.name) {
          throw DocumentError.invalid(`expected the rows of ${entity.name} at line ${lineNo}`);
        }
        const batches = async function* (): AsyncIterable<string[]> {
          let batch: string[] = [];
          let count = 0;
          for (;;) {
            const line = await nextLine();
            if (line === undefined) {
              if (count === entity.rows) break;
              throw DocumentError.truncated(`${entity.name} ends after ${count} of ${entity.rows} rows`);
            }
            if (!line.startsWith('[')) {
              pending = line;
              break;
            }
            if (isCutShort(line)) throw DocumentError.truncated(`line ${lineNo} (${entity.name}) ends in the middle of a row`);
            batch.push(line);
            count += 1;
            if (batch.length >= batchSize) {
              yield batch;
              batch = [];
            }
          }
          if (batch.length) yield batch;
          if (count !== entity.rows) {
            throw DocumentError.truncated(`${entity.name} has ${count} rows, the header announces ${entity.rows}`);
          }
        };
        yield { entity, batches: batches() };
      }
      const trailer = await nextLine();
      if (trailer === undefined) throw DocumentError.truncated('the end marker is missing');
      const parsed = parseLine(trailer, `line ${lineNo}`);
      if (!isRecord(parsed) || parsed.end !== true) throw DocumentError.invalid(`unexpected content at line ${lineNo}`);
    },
    async close() {
      await lines.return?.();
    },
  };
}

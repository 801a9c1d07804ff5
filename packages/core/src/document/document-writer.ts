import type { DocumentEncoding, DocumentRow, GraphDocumentHeader } from './graph-document.js';

/** Receives the document text chunk by chunk; may return a promise to apply backpressure. */
export type TextSink = (chunk: string) => void | Promise<void>;

/**
 * Writes a graph document section by section, so that rows never have to be held in memory.
 * The output is deterministic: the same header and rows give the same bytes.
 */
export class DocumentWriter {
  private section = -1;
  private rowsInSection = 0;
  private entities: string[] = [];

  constructor(private readonly encoding: DocumentEncoding, private readonly sink: TextSink) {}

  /** Writes the header; `header.entities` fixes the order in which sections must follow. */
  async begin(header: GraphDocumentHeader): Promise<void> {
    this.entities = header.entities.map((entity) => entity.name);
    if (this.encoding === 'ndjson') {
      const { format, version, exportedAt, roots, entities } = header;
      await this.sink(`${JSON.stringify({ format, version, encoding: 'ndjson', exportedAt, roots, entities })}\n`);
    } else {
      const json = JSON.stringify(header);
      await this.sink(`${json.slice(0, -1)},"data":{`);
    }
  }

  /** Starts the rows of the next entity (in header order). */
  async startEntity(entity: string): Promise<void> {
    const expected = this.entities[this.section + 1];
    if (expected !== entity) throw new Error(`section ${entity} written out of order (expected ${expected})`);
    if (this.encoding === 'ndjson') {
      await this.sink(`${JSON.stringify({ entity })}\n`);
    } else {
      await this.sink(`${this.section >= 0 ? '\n]' : ''}${this.section >= 0 ? ',' : ''}\n${JSON.stringify(entity)}:[`);
    }
    this.section += 1;
    this.rowsInSection = 0;
  }

  /** Writes a batch of rows of the current entity. */
  async writeRows(rows: DocumentRow[]): Promise<void> {
    if (rows.length === 0) return;
    let text = '';
    for (const row of rows) {
      if (this.encoding === 'ndjson') text += `${JSON.stringify(row)}\n`;
      else text += `${this.rowsInSection++ > 0 ? ',' : ''}\n${JSON.stringify(row)}`;
    }
    await this.sink(text);
  }

  /**
   * Writes rows of the current entity given as JSON lines, each ending in a newline
   * (`["1","a"]\n["2","b"]\n`): the fast path for rows the database already encoded.
   */
  async writeRowLines(lines: string, rows: number): Promise<void> {
    if (rows === 0) return;
    if (this.encoding === 'ndjson') {
      await this.sink(lines);
    } else {
      await this.sink(`${this.rowsInSection > 0 ? ',' : ''}\n${lines.slice(0, -1).replaceAll('\n', ',\n')}`);
      this.rowsInSection += rows;
    }
  }

  /** Closes the document; NDJSON gets a trailer line so that a cut file is detected. */
  async end(): Promise<void> {
    if (this.section + 1 !== this.entities.length) throw new Error('document ended before every entity was written');
    if (this.encoding === 'ndjson') await this.sink(`${JSON.stringify({ end: true })}\n`);
    else await this.sink(`${this.section >= 0 ? '\n]' : ''}\n}}\n`);
  }
}

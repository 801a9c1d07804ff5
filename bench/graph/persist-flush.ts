import { readNdjsonDocument, type DocumentEntity } from '@entity-sync/core';
import type { EntityMetadata, EntityProperty, MikroORM } from '@mikro-orm/core';
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';

// A value as PostgreSQL's text gives it, in the JavaScript type MikroORM expects for the column.
function fromText(text: string | null, type: string): unknown {
  if (text === null) return null;
  if (type === 'integer' || type === 'smallint') return Number(text);
  if (type === 'boolean') return text === 'true';
  if (type === 'jsonb' || type === 'json') return JSON.parse(text);
  if (type.startsWith('timestamp')) return new Date(text.replace(' ', 'T').replace(/([+-]\d\d)$/, '$1:00'));
  return text;
}

function metadataFor(orm: MikroORM, entity: DocumentEntity): EntityMetadata {
  const metas = [...orm.getMetadata()];
  const meta = metas.find((m) => m.className === entity.name) ?? metas.find((m) => m.pivotTable && m.tableName === entity.table);
  if (!meta) throw new Error(`no entity ${entity.name} in the ORM`);
  return meta;
}

/**
 * Imports a graph file the way an application does with the ORM alone: `em.create` for every
 * row (relations given by key, pivot rows through MikroORM's pivot entity) and `em.flush` every
 * `batch` rows, in one transaction so that the deferrable key is checked at its end. Timed from
 * opening the file to the commit, like `importGraph`.
 */
export async function persistFlush(orm: MikroORM, file: string, batch = 1000): Promise<{ rows: number; seconds: number }> {
  const start = performance.now();
  const lines = createInterface({ input: createReadStream(file, { encoding: 'utf8' }), crlfDelay: Infinity })[Symbol.asyncIterator]();
  const document = await readNdjsonDocument(lines, batch);
  let rows = 0;
  await orm.em.fork().transactional(async (em) => {
    for await (const { entity, batches } of document.sections()) {
      const meta = metadataFor(orm, entity);
      const props = entity.columns.map((column) => Object.values(meta.properties)
        .find((prop: EntityProperty) => prop.fieldNames?.length === 1 && prop.fieldNames[0] === column.name)!);
      for await (const lines of batches) {
        for (const line of lines) {
          const cells = JSON.parse(line) as (string | null)[];
          const data: Record<string, unknown> = {};
          entity.columns.forEach((column, i) => (data[props[i]!.name] = fromText(cells[i]!, column.type)));
          em.create(meta.class, data);
        }
        await em.flush();
        em.clear();
        rows += lines.length;
      }
    }
  });
  return { rows, seconds: (performance.now() - start) / 1000 };
}

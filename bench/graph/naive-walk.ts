import { FlushMode, ReferenceKind, wrap, type AnyEntity, type Collection, type EntityMetadata, type MikroORM } from '@mikro-orm/core';

/** How a hand-written exporter finds its way, from MikroORM's metadata alone. */
interface Relations {
  /** Many-to-one and owning one-to-one properties: rows this entity needs. */
  needs: string[];
  /** Many-to-one properties of other entities that point here: rows this entity owns. */
  owners: { entity: string; property: string }[];
  /** Owning many-to-many properties: links this entity owns, to rows it needs. */
  links: string[];
}

function relationsOf(orm: MikroORM): Map<string, Relations> {
  const metas = [...orm.getMetadata()].filter((meta: EntityMetadata) => !meta.pivotTable && !meta.embeddable);
  const relations = new Map<string, Relations>(metas.map((meta) => [meta.className, { needs: [], owners: [], links: [] }]));
  for (const meta of metas) {
    for (const prop of meta.relations) {
      const own = relations.get(meta.className)!;
      if (prop.kind === ReferenceKind.MANY_TO_ONE || (prop.kind === ReferenceKind.ONE_TO_ONE && prop.owner)) {
        own.needs.push(prop.name);
        relations.get(prop.type)?.owners.push({ entity: meta.className, property: prop.name });
      } else if (prop.kind === ReferenceKind.MANY_TO_MANY && prop.owner) {
        own.links.push(prop.name);
      }
    }
  }
  return relations;
}

/** What the walk reached before it finished or ran out of time. */
export interface NaiveWalkResult {
  rows: number;
  seconds: number;
  /** `find` / `findOne` / collection loads issued, each one round trip at most. */
  calls: number;
  complete: boolean;
}

/**
 * Exports a graph the way an application does by hand without entity-sync: load the root,
 * then for every loaded object load each row it references, each collection of rows that
 * reference it and each many-to-many collection, one ORM call at a time, recursively. Same
 * selection rule as `exportGraph` (needed rows are not expanded to their other children), so
 * both reach the same rows. Stops after `budgetSeconds` and reports what it reached by then.
 */
export async function naiveWalk(orm: MikroORM, root: { entity: string; id: number }, budgetSeconds: number): Promise<NaiveWalkResult> {
  const relations = relationsOf(orm);
  // nothing is changed, so the walk is spared the change-set scan that auto-flush runs before every query
  const em = orm.em.fork({ flushMode: FlushMode.COMMIT });
  const seen = new Set<AnyEntity>();
  const expanded = new Set<AnyEntity>();
  let links = 0;
  let calls = 0;
  const start = performance.now();
  const outOfTime = () => (performance.now() - start) / 1000 > budgetSeconds;

  // entity names: MikroORM 7 still takes them, but no longer types them
  const first = await em.findOneOrFail(root.entity as never, root.id);
  calls += 1;
  const queue: { entity: AnyEntity; owned: boolean }[] = [{ entity: first, owned: true }];
  seen.add(first);
  const reach = (entity: AnyEntity, owned: boolean) => {
    if (seen.has(entity) && (!owned || expanded.has(entity))) return;
    seen.add(entity);
    queue.push({ entity, owned });
  };

  while (queue.length > 0 && !outOfTime()) {
    const { entity, owned } = queue.shift()!;
    if (owned && expanded.has(entity)) continue;
    const name = wrap(entity, true).__meta.className;
    const { needs, owners, links: linkProps } = relations.get(name)!;
    for (const property of needs) {
      const target = (entity as Record<string, AnyEntity | undefined>)[property];
      if (!target) continue;
      if (!wrap(target).isInitialized()) {
        await wrap(target).init();
        calls += 1;
      }
      reach(target, false);
    }
    if (!owned) continue;
    expanded.add(entity);
    for (const { entity: child, property } of owners) {
      const children = await em.find(child as never, { [property]: entity } as never);
      calls += 1;
      for (const row of children) reach(row as AnyEntity, true);
    }
    for (const property of linkProps) {
      const collection = (entity as Record<string, Collection<AnyEntity>>)[property]!;
      await collection.init();
      calls += 1;
      links += collection.length;
      for (const target of collection) reach(target, false);
    }
  }
  return { rows: seen.size + links, seconds: (performance.now() - start) / 1000, calls, complete: queue.length === 0 };
}

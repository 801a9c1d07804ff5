import { RegistryError } from '@entity-sync/core';
import type { EntityInfo, PropertyInfo } from './compat.js';

/** A natural key with every path resolved down to a scalar property. */
export interface ResolvedNaturalKey {
  entity: string;
  /** Full scalar paths in key order: `['country.code', 'code']`. */
  paths: string[];
  /** The paths as the decorator declared them, before expansion of relation endings. */
  declared: string[];
}

const TO_ONE = new Set(['m:1', '1:1']);

function keyableProps(entity: EntityInfo): PropertyInfo[] {
  return entity.props.filter((prop) => !prop.embeddedPath && prop.kind !== '1:m' && prop.kind !== 'm:n');
}

/**
 * Resolves declared natural-key paths against the metadata: each segment must exist, every
 * segment but the last must be a to-one relation, and a path ending at a to-one relation
 * stands for the target's own natural key (or primary key).
 */
export function resolveNaturalKeyPaths(
  entity: EntityInfo,
  declared: string[],
  entities: Map<string, EntityInfo>,
  declaredKeyOf: (entity: string) => string[] | undefined,
  visiting: Set<string> = new Set(),
): ResolvedNaturalKey {
  const paths: string[] = [];
  visiting.add(entity.className);
  for (const path of declared) {
    const segments = path.split('.');
    let current = entity;
    for (const [i, segment] of segments.entries()) {
      const prop = current.props.find((candidate) => candidate.name === segment && !candidate.embeddedPath);
      if (!prop) {
        throw RegistryError.naturalKeyPathNotFound(entity.className, path, current.className, segment,
          keyableProps(current).map((candidate) => candidate.name));
      }
      const last = i === segments.length - 1;
      if (prop.kind === '1:m' || prop.kind === 'm:n') {
        throw RegistryError.naturalKeyPathNotScalar(entity.className, path, segment, 'is a to-many relation, which names no single value');
      }
      if (prop.kind === 'embedded') {
        throw RegistryError.naturalKeyPathNotScalar(entity.className, path, segment, 'is an embeddable; name the entity property that holds the value instead');
      }
      if (prop.kind === 'scalar') {
        if (!last) {
          throw RegistryError.naturalKeyPathNotScalar(entity.className, path, segment, 'is not a relation, so no path can continue after it');
        }
        paths.push(path);
        break;
      }
      const target = entities.get(prop.target ?? '');
      if (!target) {
        throw RegistryError.naturalKeyPathNotScalar(entity.className, path, segment, `points at '${prop.target}', which is not a discovered entity`);
      }
      if (!last) {
        current = target;
        continue;
      }
      if (visiting.has(target.className)) {
        throw RegistryError.naturalKeyPathNotScalar(entity.className, path, segment, `ends at ${target.className}, whose natural key leads back to ${entity.className}`);
      }
      const targetKey = declaredKeyOf(target.className);
      const expanded = targetKey
        ? resolveNaturalKeyPaths(target, targetKey, entities, declaredKeyOf, new Set(visiting)).paths
        : target.primaryKeys;
      paths.push(...expanded.map((sub) => `${path}.${sub}`));
    }
  }
  return { entity: entity.className, paths, declared: [...declared] };
}

/**
 * True when a database constraint guarantees that the paths name at most one row: some
 * unique property set (or the primary key) is covered by the key's first segments, and each
 * relation in that set is itself keyed uniquely by the paths that continue through it.
 */
export function isUniquelyConstrained(entity: EntityInfo, paths: string[], entities: Map<string, EntityInfo>): boolean {
  const byFirst = new Map<string, string[]>();
  for (const path of paths) {
    const [first, ...rest] = path.split('.');
    byFirst.set(first!, [...(byFirst.get(first!) ?? []), ...(rest.length ? [rest.join('.')] : [])]);
  }
  const candidates = [
    entity.primaryKeys,
    ...entity.uniques,
    ...entity.props.filter((prop) => prop.unique).map((prop) => [prop.name]),
  ];
  return candidates.some((unique) =>
    unique.every((name) => {
      const rest = byFirst.get(name);
      if (rest === undefined) return false;
      const prop = entity.props.find((candidate) => candidate.name === name);
      if (!prop || !TO_ONE.has(prop.kind) || rest.length === 0) return true;
      const target = entities.get(prop.target ?? '');
      return !!target && isUniquelyConstrained(target, rest, entities);
    }));
}

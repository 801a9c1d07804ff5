import { CQRS_MESSAGE_VERSION, CqrsError, RegistryError, type CqrsMessage, type CqrsOperation, type MasterOptions } from '@entity-sync/core';
import type { EntityManager } from '@mikro-orm/core';
import { entityFromRow, plainOfEntity } from '../../extension/compat.js';
import { EntitySync } from '../../extension/entity-sync.js';
import { carriesDigits, exactRow } from './exact-values.js';
import { publishedFields } from './published-fields.js';
import type { GraphNode } from '@entity-sync/core';

/** One master entity as the relay and the repair tools see it. */
export interface MasterEntity {
  cqrsId: string;
  entity: string;
  /** The `@Master` options, with include/exclude combined with the entity's `@SyncModel` ones. */
  options: MasterOptions;
  node: GraphNode;
  /** Primary-key column names, in key order. */
  keyColumns: string[];
  /** Column name -> property name. */
  properties: Map<string, string>;
  /** Columns whose values messages carry as digit strings (bigint, numeric): see `exactRow`. */
  digitColumns: Set<string>;
}

/** A captured row: the JSON text of `to_jsonb(row)` (read exactly), or that text parsed into an object. */
export type CapturedRow = string | Record<string, unknown>;

/** A captured change: the row's columns as `to_jsonb` gives them. */
export interface CapturedChange {
  cqrsId: string;
  key: unknown[];
  operation: CqrsOperation;
  revision: number;
  state: CapturedRow | null;
  previous?: CapturedRow | null;
  createdAt: string;
  correlationId?: string | null;
}

type ClassTransformer = {
  plainToInstance(cls: new () => unknown, plain: object): object;
  instanceToPlain(instance: object): Record<string, unknown>;
};

let classTransformer: Promise<ClassTransformer> | undefined;

function isClass(value: unknown): value is new () => unknown {
  return typeof value === 'function' && /^class[\s{]/.test(Function.prototype.toString.call(value));
}

/**
 * Turns captured rows of `@Master` entities into CQRS messages: applies `produce`, `include` /
 * `exclude` (those of `@Master` and of `@SyncModel` both), `shouldSync` and the serializer (a
 * function, or a class-transformer class). When `shouldSync` or a serializer is set, they
 * receive a managed entity built from the captured row (the state as committed); its relations
 * are references the serializer may load.
 */
export class MasterMessages {
  readonly masters = new Map<string, MasterEntity>();

  constructor(private readonly em: EntityManager) {
    const sync = EntitySync.forEntityManager(em);
    for (const node of sync.graph.nodes.values()) {
      const entry = sync.registryEntry(node.name);
      const master = entry?.master;
      if (!master) continue;
      const options = { ...master.options, ...publishedFields(master.options, entry.syncModel) };
      const keyColumns = node.primaryKeyProperties.flatMap((property) => node.columns.filter((column) => column.property === property).map((column) => column.name));
      const properties = new Map(node.columns.map((column) => [column.name, column.property]));
      const digitColumns = new Set(node.columns.filter((column) => carriesDigits(column.type)).map((column) => column.name));
      this.masters.set(master.cqrsId, { cqrsId: master.cqrsId, entity: node.name, options, node, keyColumns, properties, digitColumns });
    }
  }

  /** The master entity of a CQRS id; CQRS_UNKNOWN_ID when this ORM has none. */
  master(cqrsId: string): MasterEntity {
    const master = this.masters.get(cqrsId);
    if (!master) {
      throw CqrsError.unknownMaster(cqrsId, [...this.masters.keys()]);
    }
    return master;
  }

  /**
   * The message of a captured change, or undefined when the master does not publish it (produce: false, shouldSync).
   * Its state holds bigint and numeric values as strings of their exact digits (see `exactRow`).
   */
  async toMessage(change: CapturedChange, em: EntityManager = this.em): Promise<CqrsMessage | undefined> {
    const master = this.masters.get(change.cqrsId);
    if (!master || master.options.produce === false) return undefined;
    const row = change.state === null ? null : exactRow(change.state, master.digitColumns);
    const before = change.previous === undefined || change.previous === null ? change.previous : exactRow(change.previous, master.digitColumns);
    let state = row && this.filtered(master, row);
    const { serializer, shouldSync } = master.options;
    if (row && (serializer || shouldSync)) {
      const entity = entityFromRow<object>(em, master.entity, row);
      if (shouldSync && !shouldSync(entity)) return undefined;
      if (serializer) state = this.filtered(master, await this.serialize(master, serializer, entity, em), true);
    }
    return {
      version: CQRS_MESSAGE_VERSION,
      id: `${change.cqrsId}/${JSON.stringify(change.key)}/${change.revision}${change.operation === 'sync' ? `/sync/${Date.now()}` : ''}`,
      cqrsId: change.cqrsId,
      operation: change.operation,
      key: change.key,
      revision: change.revision,
      state,
      previous: before === undefined ? undefined : before && this.filtered(master, before),
      correlationId: change.correlationId ?? undefined,
      createdAt: change.createdAt,
      expiresAt: master.options.expiresAfterSeconds === undefined ? undefined
        : new Date(Date.parse(change.createdAt) + master.options.expiresAfterSeconds * 1000).toISOString(),
    };
  }

  private async serialize(master: MasterEntity, serializer: NonNullable<MasterOptions['serializer']>, entity: object, em: EntityManager): Promise<Record<string, unknown>> {
    if (!isClass(serializer)) return (serializer as (entity: object, context: { em: EntityManager }) => Record<string, unknown>)(entity, { em });
    classTransformer ??= import('class-transformer' as string).catch((error: unknown) => {
      classTransformer = undefined;
      throw RegistryError.serializerNeedsClassTransformer(master.cqrsId, error);
    }) as Promise<ClassTransformer>;
    const { plainToInstance, instanceToPlain } = await classTransformer;
    return instanceToPlain(plainToInstance(serializer as new () => unknown, plainOfEntity(entity)));
  }

  // Column names become property names; include/exclude apply (a serializer's output is already by property).
  private filtered(master: MasterEntity, row: Record<string, unknown>, byProperty = false): Record<string, unknown> {
    const { include, exclude } = master.options;
    const keyProperties = new Set(master.node.primaryKeyProperties);
    const state: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(row)) {
      const property = byProperty ? name : master.properties.get(name) ?? name;
      if (include && !include.includes(property) && !keyProperties.has(property)) continue;
      if (exclude?.includes(property)) continue;
      state[property] = value;
    }
    return state;
  }
}

import type { CqrsMessage } from '@entity-sync/core';
import type { EntityManager } from '@mikro-orm/core';

/** Static hooks a replica class may define to apply messages itself. */
export interface ReplicaHandlers {
  onCqrsCreate?(data: Record<string, unknown>, message: CqrsMessage, em: EntityManager): Promise<void> | void;
  onCqrsUpdate?(data: Record<string, unknown>, message: CqrsMessage, em: EntityManager): Promise<void> | void;
  onCqrsDelete?(key: Record<string, unknown>, message: CqrsMessage, em: EntityManager): Promise<void> | void;
}

// Type-checked with CommonJS settings (module commonjs, moduleResolution node10: the NestJS default).
import { EntitySync, exportGraph, importGraph, ReplicaConsumer } from '@entity-sync/adapters/mikro-orm';
import { MemoryTransport } from '@entity-sync/adapters/memory';
import { Master, SyncModel, type CqrsMessage } from '@entity-sync/core';

export const used = [EntitySync, exportGraph, importGraph, ReplicaConsumer, MemoryTransport, Master, SyncModel];
export type Message = CqrsMessage;

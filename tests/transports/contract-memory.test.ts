// The transport contract on the in-process memory transport. It has no broker to stop and no
// process to outlive a crash, so the outage and crash tests do not apply; the suite says so.
import { MemoryTransport } from '@entity-sync/adapters/memory';
import { allAdmin, transportContract } from '@entity-sync/testing';

transportContract({
  name: 'memory',
  open: async ({ maxAttempts, retryDelayMs }) => new MemoryTransport({ maxAttempts, retryDelayMs }),
  admin: allAdmin,
});

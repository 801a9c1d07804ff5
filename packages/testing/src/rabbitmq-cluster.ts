import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { cleanUpAtExit } from './at-exit.js';
import { freePort } from './postgres-cluster.js';
import { RabbitMqBroker } from './rabbitmq-broker.js';

/** A queue as `rabbitmqctl list_queues` shows it. */
export interface RabbitMqQueueInfo {
  name: string;
  /** `classic` or `quorum`. */
  type: string;
  /** The node of a quorum queue's leader (`es5673@localhost`); for a classic queue, its node. */
  leader: string;
  /** The nodes holding a replica of a quorum queue. */
  members: string[];
  /** Messages ready and unacknowledged. */
  messages: number;
}

/**
 * A throwaway RabbitMQ cluster on 127.0.0.1 for tests: `size` nodes (see `RabbitMqBroker`)
 * with one Erlang cookie and an epmd of their own, so that neither the nodes nor their epmd
 * meet anyone else's. The nodes start together and then join the first one. Everything is
 * stopped and removed when the process exits, the epmd by its pid.
 */
export class RabbitMqCluster {
  private removed = false;
  private readonly stopListening = cleanUpAtExit(() => this.remove());

  private constructor(private readonly epmd: ChildProcess, readonly nodes: RabbitMqBroker[]) {}

  /** Starts a cluster of `size` nodes (default 3); about 20-30 s. */
  static async start(size = 3): Promise<RabbitMqCluster> {
    const epmdPort = await freePort();
    const epmd = spawn('epmd', ['-port', String(epmdPort), '-address', '127.0.0.1'], { stdio: 'ignore' });
    epmd.unref();
    let spawnError: Error | undefined;
    epmd.once('error', (error) => void (spawnError = error));
    const cookie = randomBytes(20).toString('hex');
    const started = await Promise.allSettled([...Array(size)].map(async () => {
      await listening(epmdPort, () => spawnError ?? (epmd.exitCode !== null ? new Error(`epmd exited with code ${epmd.exitCode}`) : undefined));
      return RabbitMqBroker.start({ cookie, epmdPort });
    }));
    const nodes = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
    const cluster = new RabbitMqCluster(epmd, nodes);
    try {
      const failed = started.find((result): result is PromiseRejectedResult => result.status === 'rejected');
      if (failed) throw failed.reason;
      for (const node of nodes.slice(1)) await node.joinCluster(nodes[0]!);
    } catch (error) {
      cluster.remove();
      throw error;
    }
    return cluster;
  }

  /** The AMQP URL of every node, in node order. */
  get urls(): string[] {
    return this.nodes.map((node) => node.url);
  }

  /** One AMQP URL naming every node (`amqp://guest:guest@127.0.0.1:5673,127.0.0.1:5674,...`). */
  get url(): string {
    return `amqp://guest:guest@${this.nodes.map((node) => `127.0.0.1:${node.port}`).join(',')}`;
  }

  /** The queues of the default vhost, as `via` (default: the first node that runs) sees them. */
  queues(via: RabbitMqBroker = this.runningNode()): RabbitMqQueueInfo[] {
    const rows = JSON.parse(via.rabbitmqctl(['list_queues', '-q', 'name', 'type', 'leader', 'members', 'messages', '--formatter', 'json'])) as
      { name: string; type: string; leader?: string; members?: string[] | string; messages?: number | string }[];
    return rows.map((row) => ({ name: row.name, type: row.type, leader: row.leader ?? '', members: Array.isArray(row.members) ? row.members : [],
      messages: Number(row.messages) || 0 }));
  }

  /** For every client connection in the cluster, the AMQP port of the node it is connected to. */
  connectedPorts(via: RabbitMqBroker = this.runningNode()): number[] {
    const rows = JSON.parse(via.rabbitmqctl(['list_connections', '-q', 'port', '--formatter', 'json'])) as { port: number }[];
    return rows.map((row) => Number(row.port));
  }

  private runningNode(): RabbitMqBroker {
    const node = this.nodes.find((candidate) => candidate.running);
    if (!node) throw new Error('No node of the RabbitMQ cluster runs.');
    return node;
  }

  /** Kills every node and the cluster's epmd and removes the nodes' directories. Safe to call twice. */
  remove(): void {
    if (this.removed) return;
    this.removed = true;
    this.stopListening();
    // a throwaway cluster's data goes with it: no need to stop the nodes gracefully one by one
    for (const node of this.nodes) void node.kill();
    for (const node of this.nodes) node.remove();
    this.epmd.kill('SIGKILL');
  }
}

// Resolves once epmd takes connections on `port`; `failed` says whether it is gone.
async function listening(port: number, failed: () => Error | undefined): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    const error = failed();
    if (error || Date.now() > deadline) throw new Error(`epmd did not listen on 127.0.0.1:${port}: ${error?.message ?? 'not within 10 s'}.`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

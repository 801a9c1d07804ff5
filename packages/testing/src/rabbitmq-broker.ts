import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { cleanUpAtExit } from './at-exit.js';
import { freePort } from './postgres-cluster.js';

const SERVER = '/usr/lib/rabbitmq/bin/rabbitmq-server';
const CTL = '/usr/lib/rabbitmq/bin/rabbitmqctl';

/** Whether this machine has the RabbitMQ server (`apt-get install -y rabbitmq-server`). */
export function hasRabbitMq(): boolean {
  return existsSync(SERVER) && existsSync(CTL);
}

/** Options of `RabbitMqBroker.start` for a node that joins a cluster. */
export interface RabbitMqNodeOptions {
  /** The Erlang cookie, the same for every node of a cluster. Default: one of the node's own. */
  cookie?: string;
  /** The port of the epmd the node registers with (a cluster's own one). Default: the machine's (4369). */
  epmdPort?: number;
}

/**
 * A throwaway RabbitMQ node on 127.0.0.1 for tests: its own node name, ports and directories
 * (so that several never collide), started as the rabbitmq user, stopped and removed when the
 * process exits. `stop()` and `start()` keep the data directory, so a test can take the broker
 * away and bring it back with its durable queues.
 */
export class RabbitMqBroker {
  private server: ChildProcess | undefined;
  private removed = false;
  private readonly stopListening = cleanUpAtExit(() => this.remove());

  private constructor(readonly dir: string, readonly port: number, private readonly distPort: number, readonly nodeName: string,
    private readonly epmdPort: number | undefined) {}

  /** Starts a new node; ready in about 5-8 s. */
  static async start(options: RabbitMqNodeOptions = {}): Promise<RabbitMqBroker> {
    if (!hasRabbitMq()) {
      throw new Error('RabbitMQ is not installed (looked for /usr/lib/rabbitmq/bin/rabbitmq-server). Install it: apt-get install -y rabbitmq-server');
    }
    const dir = mkdtempSync(join(tmpdir(), 'entity-sync-rabbitmq-'));
    const port = await freePort();
    const distPort = await freePort();
    const broker = new RabbitMqBroker(dir, port, distPort, `es${port}@localhost`, options.epmdPort);
    try {
      for (const sub of ['mnesia', 'log']) mkdirSync(join(dir, sub));
      writeFileSync(join(dir, 'enabled_plugins'), '[].\n');
      // the node and its rabbitmqctl read the cookie from the node's own HOME; written before
      // either starts, so that neither makes up one of its own
      writeFileSync(join(dir, '.erlang.cookie'), options.cookie ?? randomBytes(20).toString('hex'), { mode: 0o400 });
      if (userInfo().uid === 0) {
        const uid = Number(spawnSync('id', ['-u', 'rabbitmq'], { encoding: 'utf8' }).stdout.trim());
        const gid = Number(spawnSync('id', ['-g', 'rabbitmq'], { encoding: 'utf8' }).stdout.trim());
        for (const path of [dir, join(dir, 'mnesia'), join(dir, 'log'), join(dir, 'enabled_plugins'), join(dir, '.erlang.cookie')]) chownSync(path, uid, gid);
      }
      await broker.resume();
    } catch (error) {
      broker.remove();
      throw error;
    }
    return broker;
  }

  /** Whether the node's server runs (started, and neither stopped nor killed since). */
  get running(): boolean {
    return this.server !== undefined;
  }

  /** The AMQP URL of the node (guest/guest may connect from loopback). */
  get url(): string {
    return `amqp://guest:guest@127.0.0.1:${this.port}`;
  }

  private env(): NodeJS.ProcessEnv {
    return {
      ...process.env,
      HOME: this.dir,
      RABBITMQ_NODENAME: this.nodeName,
      RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
      RABBITMQ_NODE_PORT: String(this.port),
      RABBITMQ_DIST_PORT: String(this.distPort),
      ERL_EPMD_ADDRESS: '127.0.0.1',
      RABBITMQ_MNESIA_BASE: join(this.dir, 'mnesia'),
      RABBITMQ_LOG_BASE: join(this.dir, 'log'),
      RABBITMQ_PID_FILE: join(this.dir, 'pid'),
      RABBITMQ_ENABLED_PLUGINS_FILE: join(this.dir, 'enabled_plugins'),
      RABBITMQ_ERLANG_COOKIE: undefined,
      ...(this.epmdPort === undefined ? {} : { ERL_EPMD_PORT: String(this.epmdPort) }),
    };
  }

  // runuser sets HOME to the rabbitmq user's: `env` gives the node its own again (its cookie lives there)
  private command(binary: string, args: string[]): [string, string[]] {
    return userInfo().uid === 0 ? ['runuser', ['-u', 'rabbitmq', '--', '/usr/bin/env', `HOME=${this.dir}`, binary, ...args]] : [binary, args];
  }

  private ctl(args: string[], timeoutMs = 30_000): { ok: boolean; output: string } {
    const [command, argv] = this.command(CTL, ['-n', this.nodeName, ...args]);
    const result = spawnSync(command, argv, { env: this.env(), encoding: 'utf8', timeout: timeoutMs, cwd: this.dir });
    return { ok: result.status === 0, output: `${result.stdout ?? ''}${result.stderr ?? ''}` };
  }

  /** Starts the node again after `stop()` (same ports, same data); resolves once it accepts connections. */
  async resume(): Promise<void> {
    if (this.server) return;
    const [command, argv] = this.command(SERVER, []);
    this.server = spawn(command, argv, { env: this.env(), stdio: 'ignore', cwd: this.dir, detached: true });
    const server = this.server;
    // the node lives as long as this process wants it (stop(), remove() or exit), without keeping it alive
    server.unref();
    server.once('exit', () => {
      if (this.server === server) this.server = undefined;
    });
    const deadline = Date.now() + 60_000;
    while (!this.ctl(['-q', 'status'], 10_000).ok) {
      if (!this.server || Date.now() > deadline) {
        const logs = existsSync(join(this.dir, 'log')) ? this.logTail() : '';
        throw new Error(`RabbitMQ node ${this.nodeName} did not start within 60 s.${logs}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    const ready = this.ctl(['await_startup'], 60_000);
    if (!ready.ok) throw new Error(`RabbitMQ node ${this.nodeName} did not finish starting: ${ready.output}`);
  }

  private logTail(): string {
    try {
      return `\n${readFileSync(join(this.dir, 'log', `${this.nodeName}.log`), 'utf8').slice(-2000)}`;
    } catch {
      return '';
    }
  }

  /** Runs `rabbitmqctl` against this node and returns what it printed; throws when it fails. */
  rabbitmqctl(args: string[], timeoutMs = 60_000): string {
    const result = this.ctl(args, timeoutMs);
    if (!result.ok) throw new Error(`rabbitmqctl ${args.join(' ')} failed on ${this.nodeName}: ${result.output}`);
    return result.output;
  }

  /** Makes this (freshly started) node a member of `seed`'s cluster; resolves once it runs again. */
  async joinCluster(seed: RabbitMqBroker): Promise<void> {
    this.rabbitmqctl(['stop_app']);
    this.rabbitmqctl(['join_cluster', seed.nodeName]);
    this.rabbitmqctl(['start_app']);
    this.rabbitmqctl(['await_startup']);
  }

  /** Kills the node's processes at once (SIGKILL), as a crashed machine would; resolves once they are gone. */
  async kill(): Promise<void> {
    const server = this.server;
    if (!server?.pid) return;
    this.server = undefined;
    const exited = new Promise<void>((resolve) => server.once('exit', () => resolve()));
    process.kill(-server.pid, 'SIGKILL');
    await exited;
  }

  /** Raises or clears a memory alarm: while it is raised the broker blocks every publishing connection. */
  setMemoryAlarm(raised: boolean): void {
    const result = this.ctl(['set_vm_memory_high_watermark', raised ? '0.0000001' : '0.4']);
    if (!result.ok) throw new Error(`rabbitmqctl set_vm_memory_high_watermark failed: ${result.output}`);
  }

  /** Stops the node, keeping its data, as a broker outage would; `resume()` brings it back. */
  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    const exited = new Promise<void>((resolve) => server.once('exit', () => resolve()));
    if (!this.ctl(['stop'], 60_000).ok) server.kill('SIGKILL');
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([exited, new Promise((resolve) => (timer = setTimeout(resolve, 30_000)))]);
    clearTimeout(timer);
    this.server = undefined;
  }

  /**
   * Kills the node's processes and removes its directory. Safe to call twice. A throwaway node
   * needs no orderly stop: `rabbitmqctl stop` starts an Erlang VM of its own, seconds of CPU that
   * at the exit of a loaded test process held it past its deadline.
   */
  remove(): void {
    if (this.removed) return;
    this.removed = true;
    this.stopListening();
    if (this.server) {
      try {
        if (this.server.pid) process.kill(-this.server.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

let shared: Promise<RabbitMqBroker> | undefined;

/**
 * Whether RabbitMQ suites should run: when the server is installed, and always under CI (where
 * a missing server must fail the run, not skip it).
 */
export function rabbitMqAvailable(): boolean {
  if (hasRabbitMq() || process.env.CI === 'true') return true;
  console.warn('entity-sync/testing: RabbitMQ not installed; RabbitMQ suites do not run (apt-get install -y rabbitmq-server)');
  return false;
}

/** The process-wide RabbitMQ node, started on first use. */
export function rabbitMqBroker(): Promise<RabbitMqBroker> {
  shared ??= RabbitMqBroker.start();
  return shared;
}

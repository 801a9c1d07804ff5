import { spawnSync, execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { cleanUpAtExit } from './at-exit.js';
import pg from 'pg';

/** Options of `PostgresCluster.start`. */
export interface PostgresClusterOptions {
  /** Directory with initdb, pg_ctl and postgres. Default: `$ENTITY_SYNC_PG_BIN`, then /usr/lib/postgresql/15/bin. */
  binDir?: string;
  /** Port to listen on (127.0.0.1). Default: a free one. */
  port?: number;
}

const DEFAULT_BIN_DIRS = ['/usr/lib/postgresql/15/bin', '/usr/lib/postgresql/16/bin', '/usr/lib/postgresql/17/bin'];

/** The PostgreSQL bin directory this machine has, if any. */
export function findPostgresBinDir(preferred?: string): string | undefined {
  const candidates = [preferred, process.env.ENTITY_SYNC_PG_BIN, ...DEFAULT_BIN_DIRS].filter((dir): dir is string => !!dir);
  return candidates.find((dir) => existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'pg_ctl')));
}

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/**
 * A throwaway PostgreSQL cluster on 127.0.0.1, for tests: initialized in a temporary
 * directory, started on a free port, and stopped (and removed) when the process exits.
 */
export class PostgresCluster {
  private stopped = false;
  private readonly stopListening = cleanUpAtExit(() => this.stop());

  private constructor(
    readonly binDir: string,
    readonly dir: string,
    readonly port: number,
    private readonly runAs: string | undefined,
  ) {}

  /** Initializes and starts a cluster; about two seconds. */
  static async start(options: PostgresClusterOptions = {}): Promise<PostgresCluster> {
    const binDir = findPostgresBinDir(options.binDir);
    if (!binDir) {
      throw new Error(
        `PostgreSQL binaries not found (looked in ${DEFAULT_BIN_DIRS.join(', ')}). ` +
          'Install PostgreSQL (apt-get install postgresql) or set ENTITY_SYNC_PG_BIN to its bin directory.',
      );
    }
    const port = options.port ?? (await freePort());
    const dir = mkdtempSync(join(tmpdir(), 'entity-sync-pg-'));
    // initdb refuses to run as root: hand the directory to the postgres user and run as it.
    const runAs = userInfo().uid === 0 ? 'postgres' : undefined;
    if (runAs) {
      const uid = Number(execFileSync('id', ['-u', runAs]).toString().trim());
      const gid = Number(execFileSync('id', ['-g', runAs]).toString().trim());
      chownSync(dir, uid, gid);
    }
    const cluster = new PostgresCluster(binDir, dir, port, runAs);
    try {
      cluster.run('initdb', ['-D', join(dir, 'data'), '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8', '--locale=C']);
      cluster.resume();
    } catch (error) {
      cluster.stop();
      throw error;
    }
    return cluster;
  }

  private run(binary: string, args: string[]): void {
    const command = join(this.binDir, binary);
    const result = this.runAs
      ? spawnSync('runuser', ['-u', this.runAs, '--', command, ...args], { encoding: 'utf8' })
      : spawnSync(command, args, { encoding: 'utf8' });
    if (result.status !== 0) {
      const log = existsSync(join(this.dir, 'log')) ? readFileSync(join(this.dir, 'log'), 'utf8').slice(-2000) : '';
      throw new Error(`${binary} failed (${result.status ?? result.signal}): ${result.stderr || result.stdout}${log ? `\nserver log:\n${log}` : ''}`);
    }
  }

  /**
   * Stops the server, as an outage or a restart does to its clients (every connection is cut),
   * keeping its data for `resume`. A fast shutdown: the throwaway cluster commits asynchronously,
   * so an immediate one would lose the last commits.
   */
  pause(): void {
    this.run('pg_ctl', ['-D', join(this.dir, 'data'), '-m', 'fast', '-w', 'stop']);
  }

  /** Starts the server (again) on its port, with its data. */
  resume(): void {
    const serverOptions = `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200` +
      // logical decoding, for WAL capture (its slots and the walsenders of its relays)
      ' -c wal_level=logical -c max_replication_slots=64 -c max_wal_senders=64';
    this.run('pg_ctl', ['-D', join(this.dir, 'data'), '-o', serverOptions, '-l', join(this.dir, 'log'), '-w', '-t', '60', 'start']);
  }

  /** A connection URL for `database` (default `postgres`). */
  url(database = 'postgres'): string {
    return `postgresql://postgres@127.0.0.1:${this.port}/${encodeURIComponent(database)}`;
  }

  /** Creates a database (dropping one of that name first). */
  async createDatabase(name: string): Promise<void> {
    const client = new pg.Client({ connectionString: this.url() });
    await client.connect();
    try {
      const quoted = `"${name.replace(/"/g, '""')}"`;
      await client.query(`DROP DATABASE IF EXISTS ${quoted} WITH (FORCE)`);
      await client.query(`CREATE DATABASE ${quoted}`);
    } finally {
      await client.end();
    }
  }

  /** Stops the server and removes its directory. Safe to call twice. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.stopListening();
    if (existsSync(join(this.dir, 'data', 'postmaster.pid'))) {
      try {
        this.run('pg_ctl', ['-D', join(this.dir, 'data'), '-m', 'immediate', '-w', 'stop']);
      } catch {
        // the server is already gone; nothing to stop
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

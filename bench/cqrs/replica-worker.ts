import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { sleep } from './clock.js';
import type { ReplicaCommand, ReplicaReport } from './replica-process.js';

type Applied = Extract<ReplicaReport, { type: 'applied' }>;

/** The parent's handle on a replica process (`replica-process.ts`). */
export class ReplicaWorker {
  /** Messages the process had applied at its last report. */
  applied = 0;
  private ready = false;
  private result: Applied | undefined;

  private constructor(private readonly child: ChildProcess) {
    child.on('message', (report: ReplicaReport) => {
      if (report.type === 'ready') this.ready = true;
      else if (report.type === 'count') this.applied = report.applied;
      else this.result = report;
    });
  }

  /** Starts a replica process consuming `queue` into the database at `url`; resolves once it is subscribed. */
  static async start(url: string, amqpUrl: string, queue: string, prefetch: number, concurrency: number): Promise<ReplicaWorker> {
    const script = fileURLToPath(new URL('./replica-process.js', import.meta.url));
    const worker = new ReplicaWorker(fork(script, [url, amqpUrl, queue, String(prefetch), String(concurrency)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
    await worker.until(() => worker.ready, 'ready');
    return worker;
  }

  private async until(done: () => boolean, what: string): Promise<void> {
    while (!done()) {
      if (this.child.exitCode !== null) throw new Error(`the replica process exited (${this.child.exitCode}) before it was ${what}`);
      await sleep(10);
    }
  }

  /** Stops the consumer and returns its apply times (`id/revision` -> `clock()` ms). */
  async finish(): Promise<Applied> {
    this.child.send({ type: 'finish' } satisfies ReplicaCommand);
    await this.until(() => this.result !== undefined, 'finished');
    await Promise.race([once(this.child, 'exit'), sleep(10_000)]);
    return this.result!;
  }

  /** Ends the process if it is still there (after a failure). */
  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill();
  }
}

/** Waits until the workers together applied `count` messages, or none applied anything for `stallMs`. */
export async function allApplied(workers: ReplicaWorker[], count: number, stallMs = 10_000): Promise<void> {
  const total = () => workers.reduce((sum, worker) => sum + worker.applied, 0);
  let seen = total();
  let since = Date.now();
  while (total() < count && Date.now() - since < stallMs) {
    await sleep(20);
    if (total() !== seen) [seen, since] = [total(), Date.now()];
  }
}

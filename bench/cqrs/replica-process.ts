// A replica service of part 3 in its own process: consumes the queue into the replica database
// and records when each message's apply committed. Started by `ReplicaWorker` with `fork`;
// reports its count every 100 ms, and on `finish` stops and sends back its apply times.
import { clock } from './clock.js';
import { openReplica } from './orm.js';
import { ReplicaConsumer } from './replica-consumer.js';

/** What the parent sends. */
export type ReplicaCommand = { type: 'finish' };

/** What the replica process sends back. */
export type ReplicaReport =
  | { type: 'ready' }
  | { type: 'count'; applied: number }
  | { type: 'applied'; times: [string, number][]; verdicts: Record<string, number>; applied: number; failures: number };

const [url, amqpUrl, queue, prefetch, concurrency] = process.argv.slice(2) as [string, string, string, string, string];
const send = (report: ReplicaReport) => new Promise<void>((resolve) => process.send!(report, () => resolve()));

const replica = await openReplica(url, { poolMax: Number(concurrency) + 2, createSchema: false });
const times: [string, number][] = [];
const consumer = await ReplicaConsumer.start(replica, {
  amqpUrl, queue, prefetch: Number(prefetch), concurrency: Number(concurrency),
  onApplied: (message) => times.push([`${message.key[0]}/${message.revision}`, clock()]),
});
const counting = setInterval(() => void send({ type: 'count', applied: consumer.applied }), 100);
process.on('message', async (command: ReplicaCommand) => {
  if (command.type !== 'finish') return;
  clearInterval(counting);
  await consumer.stop();
  await send({ type: 'applied', times, verdicts: consumer.verdicts, applied: consumer.applied, failures: consumer.failures });
  await replica.close();
  process.disconnect();
});
await send({ type: 'ready' });

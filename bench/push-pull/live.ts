import pg from 'pg';
import { clock, sleep } from '../cqrs/clock.js';
import { PULLED_TENANT } from './entities.js';

/** Commit-to-notified latencies (ms, sorted) and what the run did. */
export interface LiveRun {
  latencies: number[];
  writes: number;
  /** `change` events the client got (fewer than the writes when some were merged). */
  events: number;
  /** Writes committed per second, as achieved. */
  rate: number;
}

/** Reads a server-sent-events body and calls `onEvent` with each event's name as it arrives. */
async function readEvents(body: ReadableStream<Uint8Array>, onEvent: (name: string) => void): Promise<void> {
  const decoder = new TextDecoder();
  let buffered = '';
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    buffered += decoder.decode(chunk, { stream: true });
    for (let end = buffered.indexOf('\n\n'); end !== -1; end = buffered.indexOf('\n\n')) {
      const name = /^event: (.*)$/m.exec(buffered.slice(0, end))?.[1];
      buffered = buffered.slice(end + 2);
      if (name) onEvent(name);
    }
  }
}

/**
 * A live client on `GET <prefix>/pull/stream` for the pulled tenant while another connection
 * commits `writes` single-row updates of the tenant's rows at `rate` a second (an absolute
 * schedule: a late write does not push back the next). A write's latency runs from the moment
 * its COMMIT is sent to the `change` event that tells of it: an event accounts for every write
 * whose commit was acknowledged before it came (the server merges changes 5 ms apart into one),
 * and at least the oldest one waiting.
 */
export async function measureLive(prefix: string, token: string, databaseUrl: string, rate: number, writes: number): Promise<LiveRun> {
  const abort = new AbortController();
  const response = await fetch(`${prefix}/pull/stream?tenant=${PULLED_TENANT}`, { headers: { authorization: `Bearer ${token}` }, signal: abort.signal });
  if (!response.ok) throw new Error(`GET /pull/stream answered ${response.status}: ${await response.text()}`);
  const waiting: { sent: number; acknowledged: boolean }[] = [];
  const latencies: number[] = [];
  let events = 0;
  let connected!: () => void;
  const ready = new Promise<void>((resolve) => (connected = resolve));
  const reading = readEvents(response.body!, (name) => {
    const now = clock();
    if (name === 'resync') return connected();
    if (name !== 'change') return;
    events += 1;
    let taken = 0;
    while (waiting.length && (waiting[0]!.acknowledged || taken === 0)) {
      latencies.push(now - waiting.shift()!.sent);
      taken += 1;
    }
  }).catch((error: unknown) => {
    if (!abort.signal.aborted) throw error;
  });
  const writer = new pg.Client({ connectionString: databaseUrl });
  await writer.connect();
  try {
    await ready;
    const ids = (await writer.query<{ id: number }>(`SELECT id FROM pp_item WHERE tenant = '${PULLED_TENANT}' ORDER BY id LIMIT ${writes}`)).rows.map((row) => row.id);
    const started = clock() + 20;
    for (let k = 0; k < writes; k++) {
      await sleep(started + (k * 1000) / rate - clock());
      await writer.query('BEGIN');
      await writer.query('UPDATE pp_item SET quantity = quantity + 1 WHERE id = $1', [ids[k % ids.length]]);
      const write = { sent: clock(), acknowledged: false };
      waiting.push(write);
      await writer.query('COMMIT');
      write.acknowledged = true;
    }
    const finished = clock();
    const deadline = finished + 2000;
    while (waiting.length && clock() < deadline) await sleep(10);
    latencies.sort((a, b) => a - b);
    return { latencies, writes, events, rate: writes / ((finished - started) / 1000) };
  } finally {
    abort.abort();
    await reading;
    await writer.end();
  }
}

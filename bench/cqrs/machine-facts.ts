import amqp from 'amqplib';
import { cpus, loadavg } from 'node:os';
import { sql } from './table-digest.js';

/** `2 CPUs (model), Node v20, PostgreSQL 15.x, RabbitMQ 3.x` */
export async function machineFacts(postgresUrl: string, amqpUrl: string): Promise<string> {
  const [{ server_version: postgres }] = (await sql<{ server_version: string }>(postgresUrl, 'SHOW server_version')) as [{ server_version: string }];
  const model = await amqp.connect(amqpUrl);
  const rabbit = model.connection.serverProperties;
  await model.close();
  return `${cpus().length} CPUs (${cpus()[0]?.model.trim() ?? 'unknown'}), Node ${process.version}, PostgreSQL ${postgres}, ` +
    `${rabbit.product ?? 'RabbitMQ'} ${rabbit.version ?? '?'} (Erlang ${String((rabbit as Record<string, unknown>).platform ?? '?').replace(/^Erlang\/OTP /, '')})`;
}

/** `load 1.93 1.52 0.98`: the machine is shared, and this says how busy it was. */
export const load = () => `load average ${loadavg().map((n) => n.toFixed(2)).join(' ')}`;

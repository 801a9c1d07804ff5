import { EntitySyncError, isEntitySyncError, parseCqrsMessage, TransportError, type AdministeredTransport, type CqrsMessage, type MessageHandler, type Subscription, type TransportDeadLetter } from '@entity-sync/core';
import type { Channel, ChannelModel, ConfirmChannel, ConsumeMessage, GetMessage } from 'amqplib';
import { loadPeer } from '../internal/peer.js';
import { nodeUrls } from './node-urls.js';
import { delayQueue, durableQueue, queueMismatch, queueTypeOf, serviceQueue, type RabbitMqQueueType } from './queue-arguments.js';

/** Options of the RabbitMQ transport. */
export interface RabbitMqTransportOptions {
  /**
   * `amqp://user:password@host:port/vhost`. For a cluster, the URLs of several nodes, or one URL
   * with comma-separated hosts (`amqp://user:password@node1:5672,node2:5672,node3:5672/vhost`):
   * the transport connects to the first node that answers and, when its connection is lost,
   * to the next one (round-robin), consumers subscribing again there.
   */
  url: string | string[];
  /**
   * The type of the queues a replica service declares (its queue, delay queues, dead letters)
   * and of `<exchange>.unroutable`. `quorum` replicates them over the cluster (RabbitMQ 3.10 or
   * later), so that losing a node loses no message; every service and relay of one broker must
   * use the same type, since an existing queue's type cannot change. Default `classic`.
   */
  queueType?: RabbitMqQueueType;
  /** How long connecting to one node may take before the next one is tried. Default 10 s. */
  connectTimeoutMs?: number;
  /** The topic exchange messages are published to, routed by CQRS id. Default `entity_sync`. */
  exchange?: string;
  /** Unacknowledged messages a consumer holds at once. Default 100. */
  prefetch?: number;
  /** Messages handled at once per subscription (a higher prefetch keeps them fed). Default 1. */
  concurrency?: number;
  /** Attempts before a message goes to the queue's dead letters. Default 5. */
  maxAttempts?: number;
  /** Retry n waits `retryDelayMs * 2^(n-1)` in a delay queue. Default 200. */
  retryDelayMs?: number;
  /** First reconnect delay; doubles up to 30 s. Default 250 ms. */
  reconnectDelayMs?: number;
  /**
   * Told once when the connection is lost (`TRANSPORT_UNAVAILABLE`), once of each thing the broker
   * refuses while the transport reconnects (`TRANSPORT_REFUSED`: a queue that came back with other
   * arguments, say), and of errors of a channel; the transport keeps trying. Default: a warning on stderr.
   */
  onError?: (error: unknown) => void;
  /**
   * Told when a lost connection is back and every consumer runs again: how long it was down, after
   * how many attempts, and how many deliveries went back to their queues unacknowledged (to be
   * delivered again). Default: a line on stderr.
   */
  onReconnect?: (info: { downMs: number; attempts: number; returned: number }) => void;
  /**
   * Told when published messages matched no queue (no replica service declared one for their CQRS
   * id yet). They are kept in `<exchange>.unroutable` and delivered to the first queue declared for
   * them. Default: a warning on stderr.
   */
  onUnroutable?: (count: number, cqrsIds: string[]) => void;
  /** Told of every message put in a queue's dead letters, and why. Default: a warning on stderr. */
  onDeadLetter?: (letter: { queue: string; id?: string; attempts: number; error: string }) => void;
}

/** A message that failed every attempt, as the dead-letter queue holds it (an unreadable body: its first 1,000 characters). */
export type RabbitMqDeadLetter = TransportDeadLetter;

const ATTEMPTS = 'x-entity-sync-attempts';
const ERROR = 'x-entity-sync-error';

interface Consumer {
  queue: string;
  cqrsIds: string[];
  handler: MessageHandler;
  channel?: ConfirmChannel;
  tag?: string;
  inFlight: Set<Promise<void>>;
  stopped: boolean;
}

// AMQP's channel exceptions for a request the broker will not carry out as asked (as opposed to a
// connection that went away): ACCESS_REFUSED, NOT_FOUND, RESOURCE_LOCKED, PRECONDITION_FAILED
const REFUSALS = new Set([403, 404, 405, 406]);

/**
 * A transport on RabbitMQ (amqplib): a durable topic exchange routed by CQRS id, one durable
 * queue per replica service, persistent messages with publisher confirms, prefetch, delayed
 * retries through per-attempt delay queues that dead-letter back into the queue, and a
 * dead-letter queue per service (`<queue>.dead`) that can be listed, replayed and purged.
 * A lost connection is re-established with backoff; unacknowledged deliveries return to their
 * queue, and the revision guard on the replica makes their second delivery harmless.
 */
export class RabbitMqTransport implements AdministeredTransport {
  private readonly exchange: string;
  private readonly maxAttempts: number;
  private readonly nodes: string[];
  private readonly queueType: RabbitMqQueueType;
  // the node connected to, or tried first on the next connect
  private node = 0;
  // the connection in use, once set up: a 'close' of any other one is not a loss
  private model: ChannelModel | undefined;
  private connection: Promise<{ model: ChannelModel; publisher: ConfirmChannel }> | undefined;
  private readonly consumers = new Set<Consumer>();
  private closed = false;
  private reconnecting: Promise<void> | undefined;
  // set while the broker blocks this connection's publishers (a memory or disk alarm)
  private blocked: string | undefined;
  private readonly onBlocked = new Set<(reason: string) => void>();
  // messages the broker returned as unroutable (mandatory publishing), waiting to be kept
  private returned: ConsumeMessage[] = [];
  // channels that closed: what they delivered and did not acknowledge is back in its queue
  private readonly closedChannels = new WeakSet<Channel>();
  // deliveries that went back to their queue unacknowledged since the connection was lost
  private givenBack = 0;
  /** Messages kept as unroutable since start. */
  unroutable = 0;

  constructor(private readonly options: RabbitMqTransportOptions) {
    this.exchange = options.exchange ?? 'entity_sync';
    this.maxAttempts = options.maxAttempts ?? 5;
    this.nodes = nodeUrls(options.url);
    this.queueType = queueTypeOf(options.queueType);
  }

  // The first node that takes a connection, starting with the current one.
  private async connectNode(): Promise<ChannelModel> {
    const amqp = await loadPeer<typeof import('amqplib')>('amqplib', 'The RabbitMQ transport');
    const failures: string[] = [];
    let last: unknown;
    for (let tried = 0; tried < this.nodes.length; tried++) {
      const node = (this.node + tried) % this.nodes.length;
      try {
        const model = await amqp.connect(this.nodes[node]!, { timeout: this.options.connectTimeoutMs ?? 10_000 });
        this.node = node;
        return model;
      } catch (error) {
        last = error;
        failures.push(`${redact(this.nodes[node]!)}: ${(error as Error).message}`);
      }
    }
    const where = this.nodes.length === 1 ? `at ${failures[0]}` : `at any of its ${this.nodes.length} nodes (${failures.join('; ')})`;
    throw TransportError.unavailable(`Cannot reach RabbitMQ ${where}. Check that the broker runs and the URL is right.`, last);
  }

  private connect(): Promise<{ model: ChannelModel; publisher: ConfirmChannel }> {
    if (this.closed) return Promise.reject(TransportError.closed('RabbitMQ'));
    this.connection ??= (async () => {
      let model: ChannelModel;
      try {
        model = await this.connectNode();
      } catch (error) {
        this.connection = undefined;
        throw error;
      }
      // the 'close' that follows an error carries it, and lost() reports it once
      model.on('error', () => undefined);
      model.on('close', (because?: Error) => this.lost(model, because));
      model.on('blocked', (reason: string) => {
        this.blocked = reason;
        for (const listener of this.onBlocked) listener(reason);
      });
      model.on('unblocked', () => (this.blocked = undefined));
      try {
        const publisher = await model.createConfirmChannel();
        publisher.on('error', (error) => this.options.onError?.(error));
        // a publishing channel the broker closed (a refused declaration, say) takes the connection
        // with it, so that the next call starts afresh rather than failing on a dead channel
        publisher.on('close', () => {
          if (!this.closed) void model.close().catch(() => undefined);
        });
        await publisher.assertExchange(this.exchange, 'topic', { durable: true });
        await publisher.assertQueue(this.unroutableQueue, durableQueue(this.queueType));
        publisher.on('return', (message: ConsumeMessage) => void this.returned.push(message));
        // a channel that published while a quorum queue's leader was lost can go on refusing
        // (nacking) every publish to it (seen on RabbitMQ 3.10): a nack replaces the channel,
        // and with it the connection, so that the relay's retry goes out on a fresh one
        publisher.on('nack', () => void publisher.close().catch(() => undefined));
        this.model = model;
        return { model, publisher };
      } catch (error) {
        this.connection = undefined;
        await model.close().catch(() => undefined);
        throw queueMismatch(error, this.queueType) ?? TransportError.unavailable(`RabbitMQ refused the setup of the publishing channel: ${(error as Error).message}.`, error);
      }
    })();
    return this.connection;
  }

  private report(error: unknown): void {
    (this.options.onError ?? warnError)(error);
  }

  // A connection went away: when it was the current one, say so once, drop it, and bring every
  // consumer back once a node can be reached again, trying the next node first (in a cluster,
  // the lost one is likely down). Attempts that fail because no node can be reached are the same
  // outage and are not reported again; anything the broker refuses is, once. The connection of a
  // failed attempt is closed, not left open.
  private lost(model: ChannelModel, because: Error | undefined): void {
    // an earlier connection (one a failed attempt closed, say) is no news: the current one stands
    if (model !== this.model) return;
    this.model = undefined;
    this.connection = undefined;
    this.blocked = undefined;
    const node = this.nodes[this.node]!;
    this.node = (this.node + 1) % this.nodes.length;
    if (this.closed || this.reconnecting) return;
    this.report(TransportError.unavailable(`Lost the connection to RabbitMQ at ${redact(node)}${because ? ` (${because.message})` : ''}; ` +
      'reconnecting with backoff. Deliveries not acknowledged go back to their queues and come again.', because));
    this.reconnecting = this.reconnect(Date.now());
  }

  private async reconnect(since: number): Promise<void> {
    const said = new Set<string>();
    for (let delay = this.options.reconnectDelayMs ?? 250, attempts = 1; !this.closed; delay = Math.min(delay * 2, 30_000), attempts++) {
      await new Promise((resolve) => setTimeout(resolve, delay));
      let opened: ChannelModel | undefined;
      try {
        opened = (await this.connect()).model;
        for (const consumer of this.consumers) if (!consumer.stopped) await this.startConsumer(consumer);
        (this.options.onReconnect ?? warnReconnect)({ downMs: Date.now() - since, attempts, returned: this.givenBack });
        this.givenBack = 0;
        break;
      } catch (error) {
        this.connection = undefined;
        await opened?.close().catch(() => undefined);
        const text = errorText(error);
        if (isEntitySyncError(error, 'TRANSPORT_REFUSED') && !said.has(text)) {
          said.add(text);
          this.report(error);
        }
      }
    }
    this.reconnecting = undefined;
  }

  /**
   * Declares the queue of a replica service, its delay queues and dead-letter queue, bound to
   * `cqrsIds`, and hands it the kept unroutable messages of those ids. Idempotent.
   */
  async declareQueue(queue: string, cqrsIds: string[]): Promise<void> {
    const { publisher } = await this.connect();
    await this.declare(publisher, queue, cqrsIds);
    await this.routeKept(publisher, new Set(cqrsIds));
  }

  private get unroutableQueue(): string {
    return `${this.exchange}.unroutable`;
  }

  // The returned messages go to the unroutable queue, confirmed like any publish.
  private async keepReturned(publisher: ConfirmChannel, blocked: Promise<never>): Promise<void> {
    if (!this.returned.length) return;
    const returned = this.returned.splice(0);
    for (const message of returned) {
      publisher.sendToQueue(this.unroutableQueue, message.content, { ...message.properties, persistent: true });
    }
    await Promise.race([publisher.waitForConfirms(), blocked]);
    this.unroutable += returned.length;
    const ids = [...new Set(returned.map((message) => message.fields.routingKey))];
    (this.options.onUnroutable ?? warnUnroutable)(returned.length, ids);
  }

  // Kept messages of `cqrsIds` go to the exchange again (now routable); the others go back behind.
  private async routeKept(publisher: ConfirmChannel, cqrsIds: Set<string>): Promise<void> {
    const { messageCount } = await publisher.checkQueue(this.unroutableQueue);
    let last: GetMessage | undefined;
    for (let i = 0; i < messageCount; i++) {
      const kept = await publisher.get(this.unroutableQueue, { noAck: false });
      if (!kept) break;
      const cqrsId = String(kept.properties.type ?? '');
      if (cqrsIds.has(cqrsId)) publisher.publish(this.exchange, cqrsId, kept.content, { ...kept.properties, persistent: true, mandatory: true });
      else publisher.sendToQueue(this.unroutableQueue, kept.content, { ...kept.properties, persistent: true });
      last = kept;
    }
    if (!last) return;
    await publisher.waitForConfirms();
    publisher.ack(last, true);
  }

  private async declare(channel: Channel, queue: string, cqrsIds: string[]): Promise<void> {
    try {
      await channel.assertExchange(this.exchange, 'topic', { durable: true });
      await channel.assertQueue(queue, serviceQueue(this.queueType, queue));
      for (const cqrsId of cqrsIds) await channel.bindQueue(queue, this.exchange, cqrsId);
      await channel.assertQueue(`${queue}.dead`, durableQueue(this.queueType));
      for (let attempt = 1; attempt < this.maxAttempts; attempt++) {
        await channel.assertQueue(this.delayQueue(queue, attempt), delayQueue(this.queueType, queue, this.delayMs(attempt)));
      }
    } catch (error) {
      throw queueMismatch(error, this.queueType) ?? error;
    }
  }

  // Named by their delay, so that a changed retryDelayMs declares new queues instead of clashing
  // with the arguments of the old ones (whose messages still flow back to the queue).
  private delayQueue(queue: string, attempt: number): string {
    return `${queue}.retry.${this.delayMs(attempt)}ms`;
  }

  private delayMs(attempt: number): number {
    return (this.options.retryDelayMs ?? 200) * 2 ** (attempt - 1);
  }

  async publish(messages: CqrsMessage[], options: { queue?: string } = {}): Promise<void> {
    if (messages.length === 0) return;
    let publisher: ConfirmChannel;
    try {
      ({ publisher } = await this.connect());
    } catch (error) {
      throw error instanceof EntitySyncError ? error : TransportError.unavailable(`RabbitMQ publish failed: ${(error as Error).message}`, error);
    }
    const blockedMessage = (reason: string) =>
      `RabbitMQ is blocking publishers (${reason}): clear the broker's alarm. Nothing was marked sent; the relay publishes again.`;
    if (this.blocked) throw TransportError.unavailable(blockedMessage(this.blocked));
    // a broker that blocks publishers never confirms: give up at once instead of waiting forever
    let onBlocked!: (reason: string) => void;
    const blocked = new Promise<never>((_, reject) => {
      onBlocked = (reason) => reject(TransportError.unavailable(blockedMessage(reason)));
    });
    this.onBlocked.add(onBlocked);
    try {
      for (const message of messages) {
        const body = Buffer.from(JSON.stringify(message));
        const properties = { persistent: true, contentType: 'application/json', messageId: message.id, correlationId: message.correlationId, type: message.cqrsId };
        // mandatory: a message no queue takes comes back (before its confirm) instead of vanishing
        const room = options.queue !== undefined
          ? publisher.sendToQueue(options.queue, body, properties)
          : publisher.publish(this.exchange, message.cqrsId, body, { ...properties, mandatory: true });
        if (!room) await Promise.race([new Promise((resolve) => publisher.once('drain', resolve)), blocked]);
      }
      await Promise.race([publisher.waitForConfirms(), blocked]);
      await this.keepReturned(publisher, blocked);
    } catch (error) {
      if (error instanceof EntitySyncError) throw error;
      throw TransportError.unavailable(`RabbitMQ did not confirm ${messages.length} message(s): ${(error as Error).message}. They were not marked sent and will be published again.`, error);
    } finally {
      this.onBlocked.delete(onBlocked);
      blocked.catch(() => undefined);
    }
  }

  async subscribe(queue: string, cqrsIds: string[], handler: MessageHandler): Promise<Subscription> {
    const consumer: Consumer = { queue, cqrsIds, handler, inFlight: new Set(), stopped: false };
    this.consumers.add(consumer);
    try {
      await this.startConsumer(consumer);
      await this.routeKept((await this.connect()).publisher, new Set(cqrsIds));
    } catch (error) {
      // a consumer the caller never got must not be started again by a reconnect
      consumer.stopped = true;
      this.consumers.delete(consumer);
      await consumer.channel?.close().catch(() => undefined);
      throw error;
    }
    return {
      stop: async () => {
        consumer.stopped = true;
        this.consumers.delete(consumer);
        const { channel, tag } = consumer;
        if (channel && tag) await channel.cancel(tag).catch(() => undefined);
        await Promise.allSettled([...consumer.inFlight]);
        // closing the channel returns whatever was prefetched and not handled to the queue
        await channel?.close().catch(() => undefined);
      },
    };
  }

  // Opens the consumer's channel, declares its queue and consumes; on failure the channel is closed
  // and the error typed: TRANSPORT_REFUSED for what the broker refused, else TRANSPORT_UNAVAILABLE.
  private async startConsumer(consumer: Consumer): Promise<void> {
    const { model } = await this.connect();
    let channel: ConfirmChannel | undefined;
    try {
      channel = await model.createConfirmChannel();
      await this.consume(consumer, channel);
    } catch (error) {
      await channel?.close().catch(() => undefined);
      const code = (error as { code?: unknown }).code;
      if (typeof code === 'number' && REFUSALS.has(code)) {
        throw TransportError.consumerRefused(consumer.queue, error, code);
      }
      throw error instanceof EntitySyncError ? error : TransportError.unavailable(`RabbitMQ could not start the consumer of queue ${consumer.queue}: ${(error as Error).message}`, error);
    }
  }

  private async consume(consumer: Consumer, channel: ConfirmChannel): Promise<void> {
    let consuming = false;
    // until the consumer runs, a channel error rejects the call that caused it and is thrown from there
    channel.on('error', (error) => consuming && this.report(error));
    const waiting: ConsumeMessage[] = [];
    let active = 0;
    // a closed channel's unacknowledged deliveries are back in the queue, counted here (not when
    // their handlers end, which may be after the reconnect's report): those not started yet are
    // dropped, not handled; those being handled finish, and their ack fails
    channel.on('close', () => {
      this.closedChannels.add(channel);
      this.givenBack += waiting.splice(0).length + active;
    });
    await this.declare(channel, consumer.queue, consumer.cqrsIds);
    await channel.prefetch(this.options.prefetch ?? 100);
    consumer.channel = channel;
    const concurrency = Math.max(1, this.options.concurrency ?? 1);
    const next = () => {
      while (active < concurrency && waiting.length && !consumer.stopped) {
        const delivery = waiting.shift()!;
        active += 1;
        const work = this.handle(consumer, channel, delivery).finally(() => {
          active -= 1;
          consumer.inFlight.delete(work);
          next();
        });
        consumer.inFlight.add(work);
      }
    };
    const { consumerTag } = await channel.consume(consumer.queue, (delivery) => {
      if (!delivery) return; // cancelled by the broker (queue deleted); the reconnect brings it back
      waiting.push(delivery);
      next();
    }, { noAck: false });
    consumer.tag = consumerTag;
    consuming = true;
  }

  // Handles one delivery: ack on success; on failure move it to the next delay queue, or to the
  // dead letters after the last attempt, confirmed before the original is acked (nothing is lost).
  private async handle(consumer: Consumer, channel: ConfirmChannel, delivery: ConsumeMessage): Promise<void> {
    const attempts = Number(delivery.properties.headers?.[ATTEMPTS] ?? 0) + 1;
    let failure: unknown;
    try {
      const message = parseCqrsMessage(JSON.parse(delivery.content.toString('utf8')));
      await consumer.handler(message);
    } catch (error) {
      failure = error;
    }
    try {
      if (failure !== undefined) {
        const permanent = failure instanceof SyntaxError || (failure instanceof EntitySyncError && ['CQRS_MESSAGE_INVALID', 'CQRS_MESSAGE_VERSION', 'CQRS_MESSAGE_EXPIRED'].includes(failure.code));
        const dead = permanent || attempts >= this.maxAttempts;
        const target = dead ? `${consumer.queue}.dead` : this.delayQueue(consumer.queue, attempts);
        if (dead) {
          const id = readableId(delivery.content);
          (this.options.onDeadLetter ?? warnDeadLetter)({ queue: consumer.queue, id, attempts, error: errorText(failure) });
        }
        channel.sendToQueue(target, delivery.content, {
          ...delivery.properties,
          persistent: true,
          expiration: undefined,
          headers: { ...delivery.properties.headers, [ATTEMPTS]: attempts, [ERROR]: errorText(failure) },
        });
        await channel.waitForConfirms();
      }
      channel.ack(delivery);
    } catch (error) {
      // the channel is gone: the broker returns the delivery to the queue, to be handled again (the
      // lost connection was reported once; the delivery was counted when its channel closed)
      if (!this.closedChannels.has(channel) && !this.closed) this.report(error);
    }
  }

  private async withChannel<T>(work: (channel: Channel) => Promise<T>): Promise<T> {
    const { model } = await this.connect();
    const channel = await model.createChannel();
    try {
      return await work(channel);
    } finally {
      await channel.close().catch(() => undefined);
    }
  }

  /** The dead letters of a replica service's queue, oldest first (they stay in the queue). */
  async deadLetters(queue: string): Promise<RabbitMqDeadLetter[]> {
    return this.withChannel(async (channel) => {
      const letters: RabbitMqDeadLetter[] = [];
      // fetched unacknowledged: closing the channel puts every one back, in order
      for (let delivery = await channel.get(`${queue}.dead`, { noAck: false }); delivery; delivery = await channel.get(`${queue}.dead`, { noAck: false })) {
        const text = delivery.content.toString('utf8');
        let message: CqrsMessage | null = null;
        try {
          message = JSON.parse(text) as CqrsMessage;
        } catch {
          // an unreadable body is exactly what a dead letter may hold: listed with its text
          message = null;
        }
        letters.push({
          queue,
          message,
          ...(message ? {} : { body: text.slice(0, 1000) }),
          error: String(delivery.properties.headers?.[ERROR] ?? ''),
          attempts: Number(delivery.properties.headers?.[ATTEMPTS] ?? 0),
        });
      }
      return letters;
    });
  }

  /** Moves the dead letters back into their queue with fresh attempts; returns how many. */
  async retryDeadLetters(queue: string): Promise<number> {
    const { model } = await this.connect();
    const channel = await model.createConfirmChannel();
    let moved = 0;
    try {
      // only the letters there now: a consumer that fails them again puts them back behind these
      const { messageCount } = await channel.checkQueue(`${queue}.dead`);
      let last: GetMessage | undefined;
      for (let delivery = messageCount > 0 ? await channel.get(`${queue}.dead`, { noAck: false }) : false; delivery;
        delivery = moved < messageCount ? await channel.get(`${queue}.dead`, { noAck: false }) : false) {
        const headers = { ...delivery.properties.headers };
        delete headers[ATTEMPTS];
        delete headers[ERROR];
        channel.sendToQueue(queue, delivery.content, { ...delivery.properties, headers, persistent: true });
        last = delivery;
        moved += 1;
      }
      // one confirm for all, then one acknowledgement up to the last: nothing leaves the dead letters unconfirmed
      if (last) {
        await channel.waitForConfirms();
        channel.ack(last, true);
      }
    } finally {
      await channel.close().catch(() => undefined);
    }
    return moved;
  }

  /** Drops the dead letters of a queue; returns how many. */
  async purgeDeadLetters(queue: string): Promise<number> {
    return this.withChannel(async (channel) => (await channel.purgeQueue(`${queue}.dead`)).messageCount);
  }

  /** Messages waiting in a queue (not counting those delivered and not yet acknowledged, nor delayed retries). */
  async pending(queue: string): Promise<number> {
    return this.withChannel(async (channel) => (await channel.checkQueue(queue)).messageCount);
  }

  async close(): Promise<void> {
    this.closed = true;
    const connection = this.connection;
    this.connection = undefined;
    if (!connection) return;
    const { model } = await connection.catch(() => ({ model: undefined }));
    await model?.close().catch(() => undefined);
  }
}

// The id of a message body that parses, for logs.
function readableId(content: Buffer): string | undefined {
  try {
    const id = (JSON.parse(content.toString('utf8')) as { id?: unknown }).id;
    return typeof id === 'string' ? id : undefined;
  } catch {
    return undefined;
  }
}

function warnError(error: unknown): void {
  console.warn(`entity-sync: ${errorText(error)}`);
}

function warnReconnect(info: { downMs: number; attempts: number; returned: number }): void {
  console.warn(`entity-sync: reconnected to RabbitMQ after ${(info.downMs / 1000).toFixed(1)} s (${info.attempts} attempt(s)); ` +
    `${info.returned} delivery(ies) went back to their queues to come again`);
}

function warnUnroutable(count: number, cqrsIds: string[]): void {
  console.warn(`entity-sync: ${count} message(s) of ${cqrsIds.join(', ')} matched no queue; kept until a replica service declares one`);
}

function warnDeadLetter(letter: { queue: string; id?: string; attempts: number; error: string }): void {
  console.warn(`entity-sync: ${letter.id ?? 'an unreadable message'} went to the dead letters of ${letter.queue} after ${letter.attempts} attempt(s): ${letter.error}`);
}

function errorText(error: unknown): string {
  if (error instanceof EntitySyncError) return `[${error.code}] ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}

function redact(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
}

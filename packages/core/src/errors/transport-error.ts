import { EntitySyncError } from './entity-sync-error.js';

/**
 * A transport that cannot carry a message: its broker or database is down or refuses, or the
 * transport was closed. Custom transports raise these too, so that relays and consumers (and the
 * transport contract suite) treat them alike.
 */
export class TransportError extends EntitySyncError {
  /**
   * The broker or database cannot be reached, or went away: an outage to wait out.
   * `message` says what failed and what happens next; `cause` is the client's error.
   */
  static unavailable(message: string, cause?: unknown): TransportError {
    return new TransportError('TRANSPORT_UNAVAILABLE', message, { cause, info: { cause: (cause as Error | undefined)?.message } });
  }

  /** The transport was closed (`close()`); `transport` names it (`PostgreSQL`, `RabbitMQ`). */
  static closed(transport: string): TransportError {
    return new TransportError('TRANSPORT_UNAVAILABLE', `The ${transport} transport is closed: open a new one to publish or consume.`,
      { info: { transport } });
  }

  /** The broker refused to declare `queue` because it exists with other arguments (`argument` differs). */
  static queueArgumentsDiffer(queue: string, argument: string, queueType: string, cause: unknown): TransportError {
    return new TransportError('TRANSPORT_REFUSED',
      `RabbitMQ queue '${queue}' exists with other arguments than this transport declares (${argument} differs; queueType here is '${queueType}'). ` +
      'A queue\'s type and arguments cannot change: configure every service and relay with the queueType the queue was declared with ' +
      '(rabbitmqctl list_queues name type shows it), or move its messages out and delete the queue so that it is declared anew.',
      { cause, info: { option: 'queueType', queueType, queue, argument } });
  }

  /** The broker refused a consumer of `queue` (access refused, no such queue, locked, a precondition); `code` is its reply code. */
  static consumerRefused(queue: string, cause: unknown, code: number): TransportError {
    return new TransportError('TRANSPORT_REFUSED',
      `RabbitMQ refused the consumer of queue ${queue}: ${(cause as Error)?.message ?? String(cause)}. ` +
      'A queue that exists with other arguments must be deleted (or declared the same way) first.',
      { cause, info: { queue, code } });
  }

  /** A command needs an optional `TransportAdmin` method (`method`) the transport (`transport`, as the command names it) lacks. */
  static unsupported(method: string, purpose: string, transport: string): TransportError {
    return new TransportError('TRANSPORT_UNSUPPORTED',
      `Cannot ${purpose}: ${transport} has no ${method}(). Implement ${method} (TransportAdmin in @entity-sync/core) on the transport, ` +
      'or use the broker\'s own tools for it.', { info: { method, transport } });
  }
}

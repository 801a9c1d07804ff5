import type { MikroORM } from '@mikro-orm/core';
import { listenOn } from '../../internal/pg/raw-connection.js';
import { CHANGES_CHANNEL } from './row-versions.js';

/**
 * What the change notifier tells its subscribers: a model's rows changed for a tenant ('' for a
 * model every tenant shares); notifications may have been lost, so every client must pull
 * (`resync`); or the notifier was closed and the subscription is over.
 */
export type SyncChangeEvent = { type: 'change'; model: string; tenant: string } | { type: 'resync' } | { type: 'closed' };

/** A subscriber of the change notifier. */
export type SyncChangeListener = (event: SyncChangeEvent) => void;

const notifiers = new WeakMap<MikroORM, ChangeNotifier>();

/**
 * The commits of the push/pull capture, told to the live streams of one ORM: one LISTEN on
 * `CHANGES_CHANNEL` shared by every subscriber, held only while there is one. It is the
 * connection helper the CQRS outbox relay listens with (`listenOn`): on PostgreSQL one pool
 * connection, which, when it breaks (a restart of the server), listens again with a bounded
 * backoff, and once it does, every subscriber is told to `resync`, since notifications sent in
 * between were lost; on PGlite the instance's own `listen`, through the driver.
 */
export class ChangeNotifier {
  private readonly listeners = new Set<SyncChangeListener>();
  private listening: Promise<() => Promise<void>> | undefined;
  private stopping: Promise<void> = Promise.resolve();

  private constructor(private readonly orm: MikroORM) {}

  /** The notifier of `orm`, made on first use. */
  static of(orm: MikroORM): ChangeNotifier {
    let notifier = notifiers.get(orm);
    if (!notifier) notifiers.set(orm, notifier = new ChangeNotifier(orm));
    return notifier;
  }

  /** Ends every subscription of `orm`'s notifier (each is told `closed`) and its LISTEN; nothing when it has none. */
  static async close(orm: MikroORM): Promise<void> {
    const notifier = notifiers.get(orm);
    if (!notifier) return;
    notifiers.delete(orm);
    const listeners = [...notifier.listeners];
    notifier.listeners.clear();
    for (const listener of listeners) listener({ type: 'closed' });
    notifier.idle();
    await notifier.stopping;
  }

  /** How many subscriptions are open. */
  get subscribers(): number {
    return this.listeners.size;
  }

  /**
   * Subscribes `listener`; resolves once the notifier listens, so that no commit after it goes
   * untold. Returns the unsubscribe function (the last one out stops the LISTEN).
   */
  async subscribe(listener: SyncChangeListener): Promise<() => void> {
    this.listeners.add(listener);
    try {
      await this.listen();
    } catch (error) {
      this.listeners.delete(listener);
      this.idle();
      throw error;
    }
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.listeners.delete(listener);
      this.idle();
    };
  }

  private listen(): Promise<unknown> {
    if (!this.listening) {
      // a LISTEN being stopped is let go first, so that two never run at once
      const started = this.stopping.then(() => listenOn(this.orm.em.fork(), CHANGES_CHANNEL, (payload) => this.notify(payload),
        (error) => console.warn(`entity-sync: the LISTEN of the push/pull live streams was lost (${error.message}); listening again, then every client resyncs`)));
      this.listening = started;
      started.catch(() => {
        if (this.listening === started) this.listening = undefined;
      });
    }
    return this.listening;
  }

  // stops the LISTEN once nobody listens
  private idle(): void {
    if (this.listeners.size || !this.listening) return;
    const listening = this.listening;
    this.listening = undefined;
    this.stopping = listening.then((stop) => stop(), () => undefined).catch((error: Error) => {
      console.warn(`entity-sync: stopping the LISTEN of the push/pull live streams failed (${error.message})`);
    });
  }

  private notify(payload: string | undefined): void {
    // no payload: the connection listens again after a loss, and what was sent meanwhile is gone
    let event: SyncChangeEvent = { type: 'resync' };
    if (payload !== undefined) {
      try {
        const parsed = JSON.parse(payload) as { model?: unknown; tenant?: unknown };
        if (typeof parsed.model === 'string') event = { type: 'change', model: parsed.model, tenant: typeof parsed.tenant === 'string' ? parsed.tenant : '' };
      } catch (error) {
        console.warn(`entity-sync: a notification on ${CHANGES_CHANNEL} is not the capture's JSON (${(error as Error).message}); every client resyncs`);
      }
    }
    for (const listener of [...this.listeners]) listener(event);
  }
}

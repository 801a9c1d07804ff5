import { PushPullError } from '../errors/push-pull-error.js';

/**
 * Where a client's pull stands: the change position (transaction id, then sequence within the
 * capture) of the last change it received. Changes are handed out in that order, and only those of
 * transactions older than every transaction still running, so a change that commits late is never
 * behind a position already handed out.
 */
export interface PullPosition {
  /** The transaction id (`xid8`), in decimal. */
  xid: string;
  /**
   * The capture sequence within it, in decimal. None: the client has every change of the
   * transactions before `xid` (a pull that caught up stands at its horizon), and nothing of `xid` or later.
   */
  seq?: string;
  /**
   * A first pull reading the tables themselves, and how far it got (an opaque token of the
   * adapter's: the model and the last key sent; up to 8,000 characters, room for the longest key a
   * B-tree index holds, about 2,700 bytes, escaped and in base64). `xid` is then the horizon of its first page: every
   * change of the transactions before it is in the rows read, later ones come after the reading.
   */
  scan?: string;
  /**
   * A hash of what the client may see (its models, tenant, and its roles' permissions and row
   * filters) when the position was handed out: a pull whose scope changed since starts over.
   */
  scope?: string;
  /** The client is being sent everything again since its scope changed (models it lost come as deleted), and has not caught up yet. */
  restart?: boolean;
}

const FORMAT = /^1\.(\d{1,20})(?:\.(\d{1,20})|\*([A-Za-z0-9_-]{1,8000}))?(?:~([0-9a-f]{12})(r)?)?$/;

/** The opaque checkpoint string a client holds for `position`. */
export function encodeCheckpoint(position: PullPosition): string {
  return `1.${position.xid}${position.seq === undefined ? '' : `.${position.seq}`}${position.scan === undefined ? '' : `*${position.scan}`}${position.scope === undefined ? '' : `~${position.scope}${position.restart ? 'r' : ''}`}`;
}

/** The position of a checkpoint; undefined for none (null, undefined, ''); `PULL_CHECKPOINT_INVALID` for anything this server did not hand out. */
export function decodeCheckpoint(checkpoint: unknown): PullPosition | undefined {
  if (checkpoint === null || checkpoint === undefined || checkpoint === '') return undefined;
  const match = typeof checkpoint === 'string' ? FORMAT.exec(checkpoint) : null;
  if (!match) throw PushPullError.checkpointInvalid(checkpoint);
  return { xid: match[1]!, ...(match[2] === undefined ? {} : { seq: match[2] }), ...(match[3] === undefined ? {} : { scan: match[3] }),
    ...(match[4] === undefined ? {} : { scope: match[4] }), ...(match[5] ? { restart: true } : {}) };
}

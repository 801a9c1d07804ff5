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
}

const FORMAT = /^1\.(\d{1,20})(?:\.(\d{1,20}))?$/;

/** The opaque checkpoint string a client holds for `position`. */
export function encodeCheckpoint(position: PullPosition): string {
  return position.seq === undefined ? `1.${position.xid}` : `1.${position.xid}.${position.seq}`;
}

/** The position of a checkpoint; undefined for none (null, undefined, ''); `PULL_CHECKPOINT_INVALID` for anything this server did not hand out. */
export function decodeCheckpoint(checkpoint: unknown): PullPosition | undefined {
  if (checkpoint === null || checkpoint === undefined || checkpoint === '') return undefined;
  const match = typeof checkpoint === 'string' ? FORMAT.exec(checkpoint) : null;
  if (!match) throw PushPullError.checkpointInvalid(checkpoint);
  return match[2] === undefined ? { xid: match[1]! } : { xid: match[1]!, seq: match[2] };
}

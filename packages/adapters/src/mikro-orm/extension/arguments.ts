import { OptionError } from '@entity-sync/core';
import type { EntityManager } from '@mikro-orm/core';
import { isEntityManager, isMikroOrm } from './compat.js';

/**
 * Throws `INVALID_OPTION` unless `em` is an EntityManager. Every public function and class of
 * entity-sync takes the EntityManager it works in first; `call` shows that call in the message.
 */
export function checkEntityManager(fn: string, em: unknown, call: string): asserts em is EntityManager {
  if (isEntityManager(em)) return;
  const plain = typeof em === 'object' && em !== null && Object.getPrototypeOf(em) === Object.prototype;
  throw OptionError.invalidArgument(fn, 'em', em, 'a MikroORM EntityManager',
    plain && 'em' in em ? `The EntityManager goes first, the options last: ${call}.`
      : isMikroOrm(em) ? `That is the MikroORM instance: pass orm.em.fork(), as in ${call}.`
        : `Pass orm.em.fork() (or the em of a request) first: ${call}.`);
}

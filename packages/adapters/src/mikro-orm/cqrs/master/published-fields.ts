import type { MasterOptions, SyncModelOptions } from '@entity-sync/core';

/** Which properties a master's messages carry, by name. */
export type PublishedFields = Pick<MasterOptions, 'include' | 'exclude'>;

/**
 * Combines the `@Master` and `@SyncModel` field rules of one entity, so that neither lets out a
 * property the other keeps in: excluded by either is never published, and when both list
 * properties to include, only those in both are. Primary keys are kept either way.
 */
export function publishedFields(master: PublishedFields, syncModel: Pick<SyncModelOptions, 'include' | 'exclude'> = {}): PublishedFields {
  const exclude = [...new Set([...master.exclude ?? [], ...syncModel.exclude ?? []])];
  const include = master.include && syncModel.include
    ? master.include.filter((property) => syncModel.include!.includes(property))
    : master.include ?? syncModel.include;
  return { include, exclude: exclude.length > 0 ? exclude : undefined };
}

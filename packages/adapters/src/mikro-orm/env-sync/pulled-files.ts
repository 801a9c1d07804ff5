import { EnvSyncError, type FileStorage, type ModelPullReport } from '@entity-sync/core';
import type { Readable } from 'node:stream';
import { lineCopy } from '../../internal/pg/copy-text.js';
import type { SqlSession } from '../../internal/pg/sql-session.js';
import type { SyncStage } from './sync-stage.js';

/**
 * The files of a pull: content the target storage already holds (by sha256) is taken as it is,
 * other content is fetched and written before commit; `discard()` deletes what was written,
 * for a pull that rolls back. A dry run fetches nothing and shows new content as `sha256:<hash>`.
 */
export class PulledFiles {
  private readonly written: string[] = [];
  private readonly known = new Map<string, string>();

  constructor(private readonly storage: FileStorage | undefined, private readonly fetchFile: ((hash: string) => Promise<Readable>) | undefined,
    private readonly dryRun: boolean) {}

  /** Replaces the sha256 in the stage's file columns by the target's reference of that content. */
  async resolve(session: SqlSession, stage: SyncStage, report: ModelPullReport): Promise<void> {
    const { plan } = stage;
    const columns = plan.columns.filter((column) => plan.fileColumns.has(column.name));
    if (!columns.length) return;
    if (!this.storage || (!this.fetchFile && !this.dryRun)) {
      throw EnvSyncError.modelInvalid(plan.name, 'it has file fields and no storage or fetchFile was given',
        'Pass the FileStorage of the target as `storage` and a `fetchFile(hash)` that downloads from the source.');
    }
    const refs = `${stage.name}_files`;
    await session.run(`CREATE TEMP TABLE ${refs} (hash text PRIMARY KEY, ref text NOT NULL) ON COMMIT DROP`);
    const copy = lineCopy(session, refs, 500, ['hash', 'ref']);
    for (const column of columns) {
      const hashes = await session.query<{ hash: string }>(`SELECT DISTINCT ${stage.value(column)} AS hash FROM ${stage.name} s WHERE ${stage.value(column)} IS NOT NULL`);
      for (const { hash } of hashes) {
        if (this.known.has(hash)) continue;
        const ref = await this.refFor(hash, report);
        this.known.set(hash, ref);
        await copy.add(hash, ref);
      }
    }
    await copy.finish();
    for (const column of columns) {
      await session.run(`UPDATE ${stage.name} s SET ${stage.value(column, '').slice(1)} = f.ref FROM ${refs} f WHERE f.hash = ${stage.value(column)}`);
    }
    this.known.clear();
  }

  private async refFor(hash: string, report: ModelPullReport): Promise<string> {
    const stored = await this.storage!.has(hash);
    if (stored !== undefined) return stored;
    if (this.dryRun) return `sha256:${hash}`;
    let content: Readable;
    try {
      content = await this.fetchFile!(hash);
    } catch (error) {
      throw EnvSyncError.fileInvalid(hash, `fetching it failed (${(error as Error)?.message ?? String(error)})`, error);
    }
    const ref = await this.storage!.write(hash, content);
    this.written.push(ref);
    report.filesFetched += 1;
    return ref;
  }

  /** Deletes every file this pull wrote. */
  async discard(): Promise<void> {
    for (const ref of this.written.splice(0)) await this.storage!.delete(ref);
  }
}

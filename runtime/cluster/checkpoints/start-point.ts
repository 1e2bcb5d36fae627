import { encodeManifest } from '../../checkpoint/manifest.ts';
import type { CheckpointManifest, CheckpointStore } from '../../checkpoint/index.ts';
import type { Logger } from '../../logging/index.ts';
import type { StartOverride } from '../jobs/cluster-job-spec.ts';
import type { ClusterCheckpointTools } from './checkpoint-tools.ts';
import { readingAgainIfChanged } from './chunk-reader.ts';
import type { ManifestRecord } from './replicated-records.ts';
import type { ReplicatedJobView } from './replicated-view.ts';

/** Where a run of a job a member just took starts, with its local store prepared for it. */
export interface StartPoint {
  /** What the topic holds once the start override (if any) was applied: the publisher starts from it. */
  readonly view: ReplicatedJobView;
  /** The checkpoint the run restores, for the claim (`null`: none, the job starts without state). */
  readonly basedOn: { readonly epoch: number; readonly id: number } | null;
  /** Where sources start instead of their restored positions (`clear`: earliest, `catch-up`: latest). */
  readonly sourceStart: 'earliest' | 'latest' | undefined;
  /** The serial of the spec's start override (0: none): the run stamps it on its checkpoints. */
  readonly override: number;
  /** An imported savepoint to publish (after the claim, before the run starts), and the import to tombstone then. */
  readonly imported?: { readonly manifest: CheckpointManifest; readonly importKeys: readonly string[] };
  /** Whether the member's own copy of the checkpoint was restored (no blob came from the topic). */
  readonly localCopy: boolean;
}

export interface StartPointOptions {
  readonly job: string;
  readonly epoch: number;
  readonly override: StartOverride | undefined;
  readonly store: CheckpointStore;
  readonly tools: ClusterCheckpointTools;
  readonly logger: Logger;
}

/**
 * Prepares a member's local store for a run of a job it was given, and says where the run starts.
 *
 * - Normally the run restores the newest complete replicated checkpoint: the replicated copy is the truth (a newer
 *   local checkpoint never committed its output). When the member still holds that very checkpoint (the job comes
 *   back to it), its local copy is verified and kept and no blob is written again; otherwise the local copies are
 *   replaced by the replicated one, read back from the topic blob by blob as it is stored (memory does not grow with
 *   the job's state).
 * - A start override not yet applied — no complete checkpoint was taken under it — changes that: `clear` tombstones
 *   every checkpoint of the job and starts without state from the earliest positions; `catch-up` restores as usual
 *   but starts sources from their latest positions; `import` imports the published export as a savepoint whose id is
 *   above every id the topic names (so no epoch's checkpoint shares its key), to be published under this run's epoch.
 *
 * @example
 * ```ts
 * const start = await prepareStartPoint({ job: 'orders', epoch: 12, override: spec.override, store, tools, logger });
 * await publisher.claim(start.basedOn);
 * ```
 */
export async function prepareStartPoint(options: StartPointOptions): Promise<StartPoint> {
  // The topic can change between the scan that chose a checkpoint and the read of its blobs (retention, the log
  // cleaner): the start reads it again a few times before it fails (retriably).
  return readingAgainIfChanged(
    () => prepareOnce(options),
    (err) => options.logger.info({ job: options.job, err }, `cluster: the checkpoints of job "${options.job}" changed while they were read; reading them again`),
  );
}

async function prepareOnce(options: StartPointOptions): Promise<StartPoint> {
  const { job, epoch, override, store, tools, logger } = options;
  const view = await tools.view(job);
  const serial = override?.serial ?? 0;
  const newest = await newestRestorable(view, store, job, logger);
  const pending = override !== undefined && (newest === undefined || newest.record.override < override.serial) ? override : undefined;
  if (pending !== undefined) logger.info({ job, override: pending }, `cluster: applying "${pending.kind}" to job "${job}" as it starts`);

  if (pending?.kind === 'clear') {
    await tools.purge(job, view);
    await store.deleteAll(job);
    return { view: await tools.view(job), basedOn: null, sourceStart: 'earliest', override: serial, localCopy: false };
  }
  if (pending?.kind === 'import') {
    // Read from the topic into a scratch file first, then imported blob by blob: an export of any size.
    const published = await tools.readImport(view, pending.serial);
    let manifest: CheckpointManifest;
    try {
      await store.deleteAll(job);
      manifest = await store.importFrom(published.file, { job, idAbove: view.highestId, where: `the checkpoint imported for job "${job}"` });
    } finally {
      await published.release();
    }
    return { view, basedOn: { epoch, id: manifest.id }, sourceStart: undefined, override: serial, imported: { manifest, importKeys: view.importKeys(pending.serial) }, localCopy: false };
  }
  const sourceStart = pending?.kind === 'catch-up' ? 'latest' : undefined;
  if (newest === undefined) {
    await store.deleteAll(job);
    return { view, basedOn: null, sourceStart, override: serial, localCopy: false };
  }
  const basedOn = { epoch: newest.record.epoch, id: newest.record.manifest.id };
  if (newest.local) {
    // Only the verified local copy stays: another local checkpoint could be restored instead if it failed later.
    for (const id of await store.ids(job)) if (id !== basedOn.id) await store.delete(job, id);
    return { view, basedOn, sourceStart, override: serial, localCopy: true };
  }
  await store.deleteAll(job);
  await store.adopt(newest.record.manifest, view.blobs(newest.record));
  return { view, basedOn, sourceStart, override: serial, localCopy: false };
}

/**
 * The newest replicated checkpoint that can be restored: held locally and verified (no bytes needed from the topic),
 * or complete in the topic (every chunk there, with its checksum). An incomplete one falls back to the one before,
 * with a warning.
 */
async function newestRestorable(view: ReplicatedJobView, store: CheckpointStore, job: string, logger: Logger): Promise<{ record: ManifestRecord; local: boolean } | undefined> {
  for (const record of view.candidates) {
    if (await holdsLocally(store, job, record.manifest)) return { record, local: true };
    const problem = view.problemOf(record);
    if (problem === undefined) return { record, local: false };
    logger.warn({ job, checkpoint: record.manifest.id, epoch: record.epoch, problem }, `replicated checkpoint ${record.manifest.id} of job "${job}" is incomplete (${problem}); trying the one before`);
  }
  return undefined;
}

/** Whether the local store holds exactly `manifest`, every blob verified. */
async function holdsLocally(store: CheckpointStore, job: string, manifest: CheckpointManifest): Promise<boolean> {
  try {
    const local = await store.load(job, manifest.id);
    return Buffer.compare(Buffer.from(encodeManifest(local.manifest)), Buffer.from(encodeManifest(manifest))) === 0;
  } catch {
    return false;
  }
}

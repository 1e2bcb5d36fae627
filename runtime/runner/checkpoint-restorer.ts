/**
 * Which checkpoint an attempt of a {@link JobRunner} starts from, and what a finished job keeps: the runner's side of
 * the store (docs/checkpoints.md, "Failover"). The first attempt follows the user's choice (`latest`, `none` with
 * `--fresh`, a checkpoint id, a savepoint file); every restart takes the newest valid checkpoint of this run.
 */
import type { CheckpointStore, LoadedCheckpoint } from '../checkpoint/index.ts';
import { SluiceError } from '../errors/index.ts';
import type { PhysicalPlan } from '../graph/index.ts';
import type { Logger } from '../logging/index.ts';
import { toRestoredState, type RestoredCheckpoint } from './restore-plan.ts';
import type { RestoreSource } from './job-runner-options.ts';

export interface CheckpointRestorerOptions {
  /** Undefined for a job without checkpoints (or a dry run): nothing is ever restored. */
  readonly store: CheckpointStore | undefined;
  readonly allowNonRestoredState: boolean;
  readonly logger: Logger;
}

/** Loads checkpoints for a runner's attempts, as restored state for the plan they will run. */
export class CheckpointRestorer {
  readonly #options: CheckpointRestorerOptions;
  /** Checkpoints older than this id belong to an earlier run that the user chose not to resume (--fresh). */
  #minRestoreId = 0;

  constructor(options: CheckpointRestorerOptions) {
    this.#options = options;
  }

  /** The first attempt's state, from where the user said. */
  async initial(plan: PhysicalPlan, source: RestoreSource): Promise<RestoredCheckpoint | undefined> {
    const store = this.#options.store;
    if (store === undefined) {
      if (source.from !== 'latest' && source.from !== 'none') {
        throw new SluiceError('SLUICE_INVALID_OPTION', 'restoring from a checkpoint needs a data directory (--data-dir)', { retriable: false });
      }
      return undefined;
    }
    switch (source.from) {
      case 'none':
        this.#minRestoreId = await store.nextId(plan.job);
        return undefined;
      case 'latest':
        return this.latest(plan);
      case 'checkpoint':
        return this.load(plan, source.id);
      case 'file': {
        const manifest = await store.importFrom(source.path, { job: plan.job });
        this.#options.logger.info({ file: source.path, checkpoint: manifest.id }, `imported savepoint ${source.path} as ${manifest.id}`);
        return this.load(plan, manifest.id);
      }
    }
  }

  /** The newest valid checkpoint of this run (any, unless the run started `--fresh`), or undefined when none. */
  async latest(plan: PhysicalPlan): Promise<RestoredCheckpoint | undefined> {
    const store = this.#options.store;
    if (store === undefined) return undefined;
    if (this.#minRestoreId === 0) {
      const loaded = await store.latestValid(plan.job);
      return loaded === undefined ? undefined : this.#toRestored(loaded, plan);
    }
    for (const info of await store.list(plan.job)) {
      if (info.id < this.#minRestoreId) break;
      if (info.status === 'valid') return this.#toRestored(await store.load(plan.job, info.id), plan);
      this.#options.logger.warn({ checkpoint: info.id, status: info.status }, `checkpoint ${info.id} is ${info.status}; trying an older one`);
    }
    return undefined;
  }

  /** Checkpoint `id` of the job, as state for `plan` (a rescale loads the checkpoint it took, for the new plan). */
  async load(plan: PhysicalPlan, id: number): Promise<RestoredCheckpoint> {
    const store = this.#options.store;
    if (store === undefined) throw new SluiceError('SLUICE_INTERNAL', `no checkpoint store to load checkpoint ${id} from`);
    return this.#toRestored(await store.load(plan.job, id), plan);
  }

  /**
   * A finished bounded job keeps only its final checkpoint (savepoints stay). That one covers all of its input, so a
   * rerun restores it and reads nothing new, instead of starting from scratch and writing a second copy of its output
   * (which deleting every checkpoint did). `--fresh` runs it again from the start on purpose. The job is done whatever
   * happens here, so a failure to delete is a warning, not a reason to run it again.
   */
  async keepOnlyFinal(job: string): Promise<void> {
    const store = this.#options.store;
    if (store === undefined) return;
    try {
      // The final checkpoint is the newest; verifying every retained one first (store.list) would read all their
      // blobs, ~100 MB for 1M keys, on the thread that serves the API and metrics.
      await store.retain(job, 1);
    } catch (err) {
      this.#options.logger.warn({ err: (err as Error)?.message ?? String(err) }, 'the job finished, but its checkpoints could not all be deleted; `sluice checkpoints` lists what is left');
    }
  }

  #toRestored(loaded: LoadedCheckpoint, plan: PhysicalPlan): RestoredCheckpoint {
    return toRestoredState(loaded, plan, { allowNonRestoredState: this.#options.allowNonRestoredState });
  }
}

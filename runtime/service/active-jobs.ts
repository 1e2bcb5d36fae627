import { JobParams, type JobDefinition } from '../api/index.ts';
import type { CheckpointManifest, CheckpointStore } from '../checkpoint/index.ts';
import { SluiceError } from '../errors/index.ts';
import type { OwnerLease } from '../exec/owner-lease.ts';
import type { Logger } from '../logging/index.ts';
import { JobRunner, type JobEvent, type JobState } from '../runner/index.ts';
import type { JobFileLoader } from './job-loader.ts';
import { RESCALE_HISTORY, type JobRecord, type JobRegistry, type RegisteredState } from './job-registry.ts';
import type { JobTracker } from './job-tracker.ts';
import { ServiceErrorCodes } from './service-errors.ts';

/** The run in progress of a job. */
export interface ActiveJob {
  readonly runner: JobRunner;
  readonly startedAt: number;
  readonly checkpointing: boolean;
  done: Promise<void>;
  /** Registered state once this run ends by cancellation; `undefined` keeps it (service shutdown, a restart). */
  endAs: RegisteredState | undefined;
  /** The registry's one-shot start settings were reset after the run's first checkpoint. */
  startSettled: boolean;
}

export interface ActiveJobsOptions {
  readonly registry: JobRegistry;
  readonly store: CheckpointStore;
  readonly loader: JobFileLoader;
  readonly logger: Logger;
  readonly now: () => number;
  /** Worker threads of jobs registered without `workers`; absent: one per core. */
  readonly workers: number | undefined;
  /** Told of every runner started for a job (the service's Prometheus metrics track it). */
  readonly onRunner: ((name: string, runner: JobRunner) => void) | undefined;
  /** The job's history (exceptions, checkpoints, rates), which follows each new runner. */
  readonly tracker: (name: string) => JobTracker;
  /** Cluster mode: how this member runs a job it owns (undefined outside cluster mode). */
  readonly clusterRun: ((name: string) => ClusterRun | undefined) | undefined;
}

/** What a cluster member adds to a run of a job it owns (runtime/cluster). */
export interface ClusterRun {
  /** Makes each checkpoint durable in the cluster before sinks commit (JobRunnerOptions.replicateCheckpoint). */
  readonly replicateCheckpoint: (manifest: CheckpointManifest) => Promise<void>;
  /** The member's owner epoch of the job, for sinks that fence stale owners (SinkWriterContext.ownerEpoch). */
  readonly ownerEpoch: number;
  /** Where sources start instead of restored positions until the first checkpoint (a cluster `clear` or `catch-up`). */
  readonly sourceStart?: 'earliest' | 'latest' | undefined;
  /** Whether this member may still act as the job's owner, shared with its threads (JobRunnerOptions.ownerLease). */
  readonly ownerLease: OwnerLease;
}

/** Runner states after which a run does nothing more than record its end. */
const ENDED_STATES: ReadonlySet<JobState> = new Set(['finished', 'cancelled', 'failed']);

/**
 * The service's runs in progress, one per job name: starting a {@link JobRunner} for a registry record, keeping the
 * registry in step with what the run does (its first checkpoint, its rescales, how it ended), and stopping it. The
 * supervisor decides when (under its per-name lock); this says how.
 *
 * @example
 * ```ts
 * const jobs = new ActiveJobs({ registry, store, loader, logger, now: Date.now, workers: undefined, onRunner: undefined, tracker, clusterRun: undefined });
 * await jobs.start(record);
 * await jobs.stop(record.name, jobs.get(record.name)!, 'paused', true);
 * ```
 */
export class ActiveJobs {
  readonly #options: ActiveJobsOptions;
  readonly #active = new Map<string, ActiveJob>();
  #closing = false;

  constructor(options: ActiveJobsOptions) {
    this.#options = options;
  }

  get(name: string): ActiveJob | undefined {
    return this.#active.get(name);
  }

  /**
   * The run of `name` still going, for actions that start, stop or change it. A run that has just ended stays in
   * {@link get} until the registry records how it ended (so status never shows it as running); an action waits for
   * that record, so its own registry write cannot be overwritten by the ended run's.
   */
  async current(name: string): Promise<ActiveJob | undefined> {
    const active = this.#active.get(name);
    if (active === undefined || !ENDED_STATES.has(active.runner.state)) return active;
    await active.done;
    return this.current(name);
  }

  /** Stops every run without changing its registered state, so the next service start resumes it. */
  async closeAll(): Promise<void> {
    this.#closing = true;
    await Promise.all([...this.#active.values()].map(async (active) => {
      active.endAs = undefined;
      active.runner.cancel('stopped because the service shuts down');
      await active.done;
    }));
  }

  /**
   * Starts a run of `record` (its job file loaded now unless `loaded` is given) and resolves once its first attempt
   * runs, or rejects with why it could not start (a restore problem, a renamed job).
   */
  async start(record: JobRecord, loaded?: JobDefinition): Promise<void> {
    if (this.#closing) throw new SluiceError('SLUICE_SERVICE_CLOSING', 'the service is shutting down; the job starts again with the service');
    const job = loaded ?? (await this.#options.loader.load(record.file));
    if (job.options.name !== record.name) {
      throw new SluiceError(ServiceErrorCodes.jobNameChanged, `job file ${record.file} now defines job "${job.options.name}", not "${record.name}": submit it as a new job, or give it its old name back`);
    }
    // Absent: the runner's one worker thread per core.
    const workers = record.workers ?? this.#options.workers;
    const cluster = this.#options.clusterRun?.(record.name);
    const sourceStart = cluster?.sourceStart ?? record.sourceStart;
    const runner = new JobRunner({
      job,
      params: new JobParams(Object.entries(record.params)),
      ...(record.parallelism === undefined ? {} : { parallelism: record.parallelism }),
      // Workers import the job file themselves; the plan fingerprint catches a file edited since it was loaded.
      jobModule: record.file,
      ...(workers === undefined ? {} : { workers }),
      store: this.#options.store,
      restore: record.startFrom,
      allowNonRestoredState: record.allowNonRestoredState,
      ...(sourceStart === undefined ? {} : { sourceStart }),
      logger: this.#options.logger,
      ...(cluster === undefined ? {} : { replicateCheckpoint: cluster.replicateCheckpoint, ownerEpoch: cluster.ownerEpoch, ownerLease: cluster.ownerLease }),
    });
    const checkpoints = job.options.checkpoints;
    const active: ActiveJob = {
      runner,
      startedAt: this.#options.now(),
      checkpointing: checkpoints !== undefined && checkpoints !== false,
      done: Promise.resolve(),
      endAs: undefined,
      startSettled: record.startFrom.from === 'latest' && record.sourceStart === undefined,
    };
    this.#options.tracker(record.name).follow(runner);
    this.#options.onRunner?.(record.name, runner);
    let started!: () => void;
    const attemptStarted = new Promise<void>((resolve) => (started = resolve));
    const subscription = runner.events.subscribe((event) => this.#onEvent(record.name, active, event, started));
    this.#active.set(record.name, active);
    const run = runner.run();
    active.done = run.then(
      (outcome) => this.#ended(record.name, active, outcome, undefined),
      (err: unknown) => this.#ended(record.name, active, 'failed', err),
    ).finally(() => subscription.unsubscribe());
    // The caller learns whether the job came up: restore problems (wrong maxParallelism, missing state) surface here.
    await Promise.race([attemptStarted, run.then(() => undefined)]);
  }

  #onEvent(name: string, active: ActiveJob, event: JobEvent, started: () => void): void {
    switch (event.type) {
      case 'attempt-started':
        started();
        break;
      case 'checkpoint-completed':
        if (!active.startSettled) {
          active.startSettled = true;
          void this.#options.registry.update(name, { startFrom: { from: 'latest' }, sourceStart: undefined }, this.#options.now()).catch((err: unknown) => this.#options.logger.warn({ job: name, err }, 'registry update failed'));
        }
        break;
      case 'rescaled': {
        const rescale = event.rescale;
        const change = (current: JobRecord) => ({ parallelism: rescale.to, rescales: [...(current.rescales ?? []), rescale].slice(-RESCALE_HISTORY) });
        void this.#options.registry.update(name, change, this.#options.now()).catch((err: unknown) => this.#options.logger.warn({ job: name, err }, 'registry update failed'));
        break;
      }
      default:
    }
  }

  async #ended(name: string, active: ActiveJob, outcome: 'finished' | 'cancelled' | 'failed', error: unknown): Promise<void> {
    this.#options.tracker(name).stop();
    if (outcome === 'failed' && active.runner.attempts === 0) this.#options.tracker(name).recordException(error);
    try {
      if (outcome === 'finished') await this.#options.registry.update(name, { state: 'finished' }, this.#options.now());
      else if (outcome === 'failed') await this.#options.registry.update(name, { state: 'failed', lastError: (error as Error)?.message ?? String(error) }, this.#options.now());
      else if (active.endAs !== undefined) await this.#options.registry.update(name, { state: active.endAs }, this.#options.now());
    } catch (err) {
      this.#options.logger.error({ job: name, err: (err as Error)?.message }, 'could not record the end of a job in the registry');
    }
    // Only now: until the registry says how the run ended, status shows the ended runner's state, never the
    // registered "running" of a job that no longer runs.
    if (this.#active.get(name) === active) this.#active.delete(name);
    this.#options.logger.info({ job: name, outcome }, `job "${name}" ${outcome}`);
  }

  /** Ends a run: with a savepoint (returned) or a plain cancel; resolves once the runner has stopped. */
  async stop(name: string, active: ActiveJob, endAs: RegisteredState | undefined, withSavepoint: boolean): Promise<CheckpointManifest | undefined> {
    active.endAs = endAs;
    let savepoint: CheckpointManifest | undefined;
    if (withSavepoint) {
      try {
        savepoint = await active.runner.stopWithSavepoint();
      } catch (err) {
        active.endAs = undefined;
        throw err;
      }
    } else {
      active.runner.cancel(endAs === undefined ? 'stopped to restart' : `${endAs} by the user`);
    }
    await active.done;
    this.#options.logger.info({ job: name, endAs, savepoint: savepoint?.id }, `job "${name}" stopped`);
    return savepoint;
  }
}

import { Subject, type Observable } from 'rxjs';
import { JobParams, type JobDefinition } from '../api/index.ts';
import { CheckpointCoordinator, CheckpointStore, type CheckpointManifest, type LoadedCheckpoint } from '../checkpoint/index.ts';
import { SluiceError, isSluiceError } from '../errors/index.ts';
import { JobAttempt, type RestoredState, type SubtaskMetrics } from '../exec/index.ts';
import { createRestartStrategy, defaultRestartStrategy, type RestartStrategy, type RestartStrategyConfig } from '../failover/index.ts';
import { buildPhysicalPlan, type PhysicalPlan } from '../graph/index.ts';
import { silentLogger, type Logger } from '../logging/index.ts';
import { systemClock, type Clock } from '../time/index.ts';
import type { JobEvent, JobState } from './job-events.ts';
import { toRestoredState } from './restore-plan.ts';

/** Where the first attempt takes its state from. */
export type RestoreSource =
  | { readonly from: 'latest' }
  | { readonly from: 'none' }
  | { readonly from: 'checkpoint'; readonly id: number }
  | { readonly from: 'file'; readonly path: string };

export interface JobRunnerOptions {
  readonly job: JobDefinition;
  readonly params?: JobParams;
  /** Overrides the job's default parallelism (restoring at another parallelism redistributes key groups). */
  readonly parallelism?: number;
  /** Checkpoint store; required when the job checkpoints. The runner does not close it. */
  readonly store?: CheckpointStore;
  /** Default `latest`: resume from the newest valid checkpoint or savepoint of the job, if any. */
  readonly restore?: RestoreSource;
  readonly allowNonRestoredState?: boolean;
  readonly restartStrategy?: RestartStrategyConfig;
  readonly clock?: Clock;
  readonly logger?: Logger;
  readonly random?: () => number;
  /** Test hook, see {@link CheckpointCoordinator}. */
  readonly beforeCheckpointStore?: (checkpointId: number) => void | Promise<void>;
}

/** Metrics of the running attempt, per stage (summed over subtasks). */
export interface StageMetrics {
  readonly stage: number;
  readonly operators: readonly string[];
  readonly parallelism: number;
  readonly recordsIn: number;
  readonly recordsOut: number;
  /** Subtasks waiting for room in a full channel right now. */
  readonly backpressured: number;
}

/**
 * Runs a job until it finishes, fails for good, or is cancelled: builds the plan, restores state, runs attempts,
 * and on failure asks the restart strategy whether and when to try again from the latest completed checkpoint
 * (ARCHITECTURE §5).
 *
 * @example
 * ```ts
 * const store = await CheckpointStore.open('.sluice');
 * const runner = new JobRunner({ job, store, logger });
 * runner.events.subscribe((e) => logger.info(e, e.type));
 * await runner.run();
 * ```
 */
export class JobRunner {
  readonly plan: PhysicalPlan;
  readonly #options: JobRunnerOptions;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #events = new Subject<JobEvent>();
  readonly #checkpointing: boolean;
  readonly #strategy: RestartStrategy;
  #state: JobState = 'created';
  #attempt: JobAttempt | undefined;
  #coordinator: CheckpointCoordinator | undefined;
  #cancelled: SluiceError | undefined;
  #wakeCancel: (() => void) | undefined;
  /** Checkpoints older than this id belong to an earlier run that the user chose not to resume (--fresh). */
  #minRestoreId = 0;
  #attempts = 0;
  #lastCheckpoint: CheckpointManifest | undefined;

  constructor(options: JobRunnerOptions) {
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    this.plan = buildPhysicalPlan(options.job, {
      params: options.params ?? new JobParams(),
      ...(options.parallelism === undefined ? {} : { parallelism: options.parallelism }),
    });
    this.#logger = (options.logger ?? silentLogger()).child({ job: this.plan.job });
    const checkpoints = options.job.options.checkpoints;
    this.#checkpointing = checkpoints !== undefined && checkpoints !== false;
    if (this.#checkpointing && options.store === undefined) {
      throw new SluiceError('SLUICE_INVALID_OPTION', `job "${this.plan.job}" takes checkpoints but no checkpoint store (data directory) was given`);
    }
    const strategy = options.restartStrategy ?? options.job.options.restart ?? (this.#checkpointing ? defaultRestartStrategy : { type: 'none' as const });
    this.#strategy = createRestartStrategy(strategy, options.random === undefined ? {} : { random: options.random });
  }

  /** Control-plane events: attempts, checkpoints, failures. */
  get events(): Observable<JobEvent> {
    return this.#events.asObservable();
  }

  get state(): JobState {
    return this.#state;
  }

  /** Number of attempts started so far (restarts + 1). */
  get attempts(): number {
    return this.#attempts;
  }

  get lastCheckpoint(): CheckpointManifest | undefined {
    return this.#lastCheckpoint;
  }

  /** Per-stage record counts of the running attempt. */
  metrics(): StageMetrics[] {
    const attempt = this.#attempt;
    if (attempt === undefined) return [];
    return this.plan.stages.map((stage) => {
      const subtasks: SubtaskMetrics[] = attempt.subtasks.filter((s) => s.stage === stage.index).map((s) => s.metrics);
      return {
        stage: stage.index,
        operators: stage.operators.map((o) => o.uid),
        parallelism: stage.parallelism,
        recordsIn: subtasks.reduce((n, m) => n + m.recordsIn, 0),
        recordsOut: subtasks.reduce((n, m) => n + m.recordsOut, 0),
        backpressured: subtasks.filter((m) => m.backpressured).length,
      };
    });
  }

  /** Takes a checkpoint (or savepoint) now and resolves when it is durable. */
  async checkpoint(kind: 'checkpoint' | 'savepoint' = 'checkpoint'): Promise<CheckpointManifest> {
    const coordinator = this.#coordinator;
    if (coordinator === undefined) {
      throw new SluiceError('SLUICE_JOB_NOT_RUNNING', `job "${this.plan.job}" is not running with checkpoints: nothing to ${kind}`);
    }
    return coordinator.triggerNow(kind);
  }

  /** Stops the job: the running attempt is cancelled (sinks abort what is not committed). */
  cancel(message = 'cancelled by the user'): void {
    if (this.#cancelled !== undefined) return;
    this.#cancelled = new SluiceError('SLUICE_CANCELLED', `job "${this.plan.job}" ${message}`);
    this.#attempt?.fail(this.#cancelled);
    this.#wakeCancel?.();
  }

  /**
   * Runs attempts until the job finishes (resolves `finished`), is cancelled (resolves `cancelled`) or fails for good
   * (rejects with the last failure).
   */
  async run(): Promise<'finished' | 'cancelled'> {
    let restored = await this.#initialRestore();
    for (;;) {
      if (this.#cancelled !== undefined) return this.#end('cancelled');
      const attemptNo = this.#attempts++;
      const attempt = new JobAttempt({
        plan: this.plan,
        attempt: attemptNo,
        clock: this.#clock,
        logger: this.#logger.child({ attempt: attemptNo }),
        ...(this.#options.job.options.channelCapacityBytes === undefined ? {} : { channelCapacityBytes: this.#options.job.options.channelCapacityBytes }),
        restored,
        checkpoints: this.#checkpointing ? { acknowledge: (a) => this.#coordinator?.acknowledge(a), sourceFinished: (s) => this.#coordinator?.sourceFinished(s) } : undefined,
      });
      this.#attempt = attempt;
      this.#coordinator = this.#checkpointing ? this.#newCoordinator(attempt) : undefined;
      this.#state = 'running';
      this.#strategy.onRestarted(this.#clock.now());
      this.#events.next({ type: 'attempt-started', attempt: attemptNo, restoredFrom: restored?.checkpointId, parallelism: this.plan.parallelism });
      this.#logger.info({ attempt: attemptNo, restoredFrom: restored?.checkpointId, parallelism: this.plan.parallelism }, restored === undefined ? 'job starting' : `job starting from checkpoint ${restored.checkpointId}`);
      this.#coordinator?.start();
      try {
        await attempt.run();
        this.#coordinator?.stop();
        await this.#cleanUpAfterFinish();
        return this.#end('finished');
      } catch (err) {
        this.#coordinator?.stop(err);
        if (this.#cancelled !== undefined) return this.#end('cancelled');
        const decision = this.#strategy.onFailure(this.#clock.now());
        const error = isSluiceError(err) ? err : new SluiceError('SLUICE_JOB_FAILED', `job "${this.plan.job}" failed: ${(err as Error)?.message ?? String(err)}`, { cause: err });
        if (!decision.restart) {
          this.#logger.error({ err: error }, `job failed and will not restart: ${decision.reason}`);
          this.#events.next({ type: 'attempt-failed', attempt: attemptNo, error, restartInMs: undefined });
          this.#state = 'failed';
          this.#events.next({ type: 'failed', error });
          this.#events.complete();
          throw error;
        }
        this.#state = 'restarting';
        this.#logger.warn({ err: error.message, attempt: attemptNo, restartInMs: decision.delayMs }, `attempt ${attemptNo} failed; restarting in ${decision.delayMs} ms`);
        this.#events.next({ type: 'attempt-failed', attempt: attemptNo, error, restartInMs: decision.delayMs });
        await this.#sleepUnlessCancelled(decision.delayMs);
        restored = this.#checkpointing ? await this.#latestRestorable() : undefined;
      }
    }
  }

  #newCoordinator(attempt: JobAttempt): CheckpointCoordinator {
    const checkpoints = this.#options.job.options.checkpoints;
    if (checkpoints === undefined || checkpoints === false || this.#options.store === undefined) {
      throw new SluiceError('SLUICE_INTERNAL', 'coordinator without checkpoint options');
    }
    return new CheckpointCoordinator({
      attempt,
      store: this.#options.store,
      options: checkpoints,
      clock: this.#clock,
      logger: this.#logger,
      onComplete: (manifest) => {
        this.#lastCheckpoint = manifest;
        this.#events.next({ type: 'checkpoint-completed', manifest });
      },
      ...(this.#options.beforeCheckpointStore === undefined ? {} : { beforeStore: this.#options.beforeCheckpointStore }),
    });
  }

  async #initialRestore(): Promise<RestoredState | undefined> {
    const store = this.#options.store;
    const source = this.#options.restore ?? { from: 'latest' };
    if (store === undefined) {
      if (source.from !== 'latest' && source.from !== 'none') {
        throw new SluiceError('SLUICE_INVALID_OPTION', 'restoring from a checkpoint needs a data directory (--data-dir)');
      }
      return undefined;
    }
    switch (source.from) {
      case 'none':
        this.#minRestoreId = await store.nextId(this.plan.job);
        return undefined;
      case 'latest':
        return this.#latestRestorable();
      case 'checkpoint':
        return this.#toRestored(await store.load(this.plan.job, source.id));
      case 'file': {
        const manifest = await store.importFrom(source.path, { job: this.plan.job });
        this.#logger.info({ file: source.path, checkpoint: manifest.id }, `imported savepoint ${source.path} as ${manifest.id}`);
        return this.#toRestored(await store.load(this.plan.job, manifest.id));
      }
    }
  }

  async #latestRestorable(): Promise<RestoredState | undefined> {
    const store = this.#options.store;
    if (store === undefined) return undefined;
    if (this.#minRestoreId === 0) {
      const loaded = await store.latestValid(this.plan.job);
      return loaded === undefined ? undefined : this.#toRestored(loaded);
    }
    // After --fresh, only checkpoints of this run count.
    for (const info of await store.list(this.plan.job)) {
      if (info.id < this.#minRestoreId) break;
      if (info.status === 'valid') return this.#toRestored(await store.load(this.plan.job, info.id));
      this.#logger.warn({ checkpoint: info.id, status: info.status }, `checkpoint ${info.id} is ${info.status}; trying an older one`);
    }
    return undefined;
  }

  #toRestored(loaded: LoadedCheckpoint): RestoredState {
    return toRestoredState(loaded, this.plan, { allowNonRestoredState: this.#options.allowNonRestoredState ?? false });
  }

  /** A finished bounded job's checkpoints would only replay nothing; savepoints stay. */
  async #cleanUpAfterFinish(): Promise<void> {
    const store = this.#options.store;
    if (store === undefined || !this.#checkpointing) return;
    for (const info of await store.list(this.plan.job)) {
      if (info.kind === 'checkpoint') await store.delete(this.plan.job, info.id);
    }
  }

  async #sleepUnlessCancelled(ms: number): Promise<void> {
    if (ms <= 0) return;
    await new Promise<void>((resolve) => {
      const handle = this.#clock.setTimeout(resolve, ms);
      this.#wakeCancel = () => {
        this.#clock.clearTimeout(handle);
        resolve();
      };
    });
    this.#wakeCancel = undefined;
  }

  #end(outcome: 'finished' | 'cancelled'): 'finished' | 'cancelled' {
    this.#state = outcome;
    this.#coordinator = undefined;
    this.#events.next({ type: outcome });
    this.#events.complete();
    this.#logger.info(`job ${outcome}`);
    return outcome;
  }
}

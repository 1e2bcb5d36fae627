import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Subject, type Observable } from 'rxjs';
import { JobParams } from '../api/index.ts';
import { CheckpointCoordinator, DEFAULT_CHECKPOINT_TIMEOUT_MS, type CheckpointManifest } from '../checkpoint/index.ts';
import { SluiceError, isSluiceError } from '../errors/index.ts';
import { WatermarkBoard } from '../event-time/watermark-board.ts';
import { JobAttempt, type AttemptSubtask, type RestoredState, type RunningAttempt, type SubtaskAck } from '../exec/index.ts';
import { classifyFailure, createRestartStrategy, defaultRestartStrategy, maxRestartDelayMs, type RestartDecision, type RestartStrategy } from '../failover/index.ts';
import { buildPhysicalPlan, type PhysicalPlan } from '../graph/index.ts';
import { silentLogger, type Logger } from '../logging/index.ts';
import { systemClock, type Clock } from '../time/index.ts';
import type { CheckpointTiming, SplitsChange } from '../api/index.ts';
import type { JobEvent, JobState, RescaleRecord } from './job-events.ts';
import { CheckpointRestorer } from './checkpoint-restorer.ts';
import { pendingRescale, rescaleRecord, type PendingRescale } from './pending-rescale.ts';
import { SplitWatch } from './split-watch.ts';
import { connectorMetrics, sourceLag, stageMetrics, subtaskMetrics, type ConnectorMetricsView, type SourceLag, type StageMetrics, type SubtaskMetricsView } from './attempt-metrics.ts';
import { usableCores, WorkerAttempt, workerCount } from '../workers/index.ts';
import { adviseOnLevelDbJob } from '../state/leveldb/job-advice.ts';
import { reserveTableMmapSlots } from '../state/leveldb/table-mmap-slots.ts';
import type { JobRunnerOptions } from './job-runner-options.ts';

/** How often a runner held back by a lost cluster ownership looks again (it waits for its cancel). */
const OWNERSHIP_POLL_MS = 100;

/**
 * Runs a job until it finishes, fails for good, or is cancelled: builds the plan, restores state, runs attempts,
 * and on failure asks the restart strategy whether and when to try again from the latest completed checkpoint
 * (docs/checkpoints.md, "Failover").
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
  #plan: PhysicalPlan;
  readonly #options: JobRunnerOptions;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #events = new Subject<JobEvent>();
  readonly #checkpointing: boolean;
  readonly #strategy: RestartStrategy;
  readonly #checkpointTiming: CheckpointTiming | undefined;
  #state: JobState = 'created';
  #attempt: RunningAttempt | undefined;
  /** `workers` as set (runner option, else the job's); undefined: one per core (see `workerCount`). */
  readonly #requestedWorkers: number | undefined;
  #workers = 0;
  readonly #jobModule: string | undefined;
  #coordinator: CheckpointCoordinator | undefined;
  #cancelled: SluiceError | undefined;
  #wakeCancel: (() => void) | undefined;
  readonly #restorer: CheckpointRestorer;
  readonly #splits: SplitWatch;
  #attempts = 0;
  #lastCheckpoint: CheckpointManifest | undefined;
  #sourceStart: 'earliest' | 'latest' | undefined;
  #pendingRescale: PendingRescale | undefined;
  readonly #rescales: RescaleRecord[] = [];

  constructor(options: JobRunnerOptions) {
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    this.#sourceStart = options.sourceStart;
    this.#plan = buildPhysicalPlan(options.job, {
      params: options.params ?? new JobParams(),
      ...(options.parallelism === undefined ? {} : { parallelism: options.parallelism }),
    });
    this.#logger = (options.logger ?? silentLogger()).child({ job: this.#plan.job });
    this.#restorer = new CheckpointRestorer({ store: options.store, allowNonRestoredState: options.allowNonRestoredState ?? false, logger: this.#logger });
    this.#splits = new SplitWatch(options.job.options.rescale, this.#logger);
    const checkpoints = options.job.options.checkpoints;
    this.#checkpointing = checkpoints !== undefined && checkpoints !== false;
    if (this.#checkpointing && options.store === undefined) {
      throw new SluiceError('SLUICE_INVALID_OPTION', `job "${this.#plan.job}" takes checkpoints but no checkpoint store (data directory) was given`, { retriable: false });
    }
    this.#requestedWorkers = options.workers ?? options.job.options.workers;
    this.#jobModule = options.jobModule === undefined ? undefined : options.jobModule instanceof URL ? options.jobModule.href : options.jobModule.startsWith('file:') ? options.jobModule : pathToFileURL(resolve(options.jobModule)).href;
    const requested = this.#requestedWorkers;
    workerCount({ requested, plan: this.#plan, canUseWorkers: false }); // validates a requested count up front
    if (requested !== undefined && requested > 0 && this.#jobModule === undefined) {
      throw new SluiceError('SLUICE_INVALID_OPTION', `job "${this.#plan.job}" runs on ${requested} workers, which import the job's module: pass jobModule (sluice run passes the job file), or set workers to 0`, { retriable: false });
    }
    if (requested !== undefined && requested > 0 && options.clock !== undefined && options.clock !== systemClock) {
      throw new SluiceError('SLUICE_INVALID_OPTION', `job "${this.#plan.job}" runs on ${requested} workers, which keep the system clock: an injected clock needs workers 0`, { retriable: false });
    }
    const strategy = options.restartStrategy ?? options.job.options.restart ?? (this.#checkpointing ? defaultRestartStrategy : { type: 'none' as const });
    this.#strategy = createRestartStrategy(strategy, options.random === undefined ? {} : { random: options.random });
    this.#checkpointTiming =
      checkpoints === undefined || checkpoints === false
        ? undefined
        : { intervalMs: checkpoints.intervalMs, timeoutMs: checkpoints.timeoutMs ?? DEFAULT_CHECKPOINT_TIMEOUT_MS, maxRestartDelayMs: maxRestartDelayMs(strategy) };
  }

  /** The plan being run; replaced by a rescale. */
  get plan(): PhysicalPlan {
    return this.#plan;
  }

  /** Completed rescales of this run, oldest first. */
  get rescales(): readonly RescaleRecord[] {
    return this.#rescales;
  }

  /** Control-plane events: attempts, checkpoints, failures. */
  get events(): Observable<JobEvent> {
    return this.#events.asObservable();
  }

  get state(): JobState {
    return this.#state;
  }

  /** Worker threads of the current (or last) attempt; 0 while in-process or before the first attempt. */
  get workers(): number {
    return this.#workers;
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
    return stageMetrics(this.#attempt);
  }

  /** Every subtask's counters in the running attempt (metrics exporters read them at scrape time). */
  subtaskMetrics(): SubtaskMetricsView[] {
    return subtaskMetrics(this.#attempt);
  }

  /** Per-split lag of every source of the running attempt (splits whose reader cannot tell are left out). */
  sourceLag(): SourceLag[] {
    return sourceLag(this.#attempt);
  }

  /**
   * What the operators of the running attempt measure beyond the subtask counters, per operator and subtask: the
   * connectors' (sinks' writers) and the keyed state backends' (`sluice_state_*`).
   */
  connectorMetrics(): ConnectorMetricsView[] {
    return connectorMetrics(this.#attempt);
  }

  /** Takes a checkpoint (or savepoint) now and resolves when it is durable. */
  async checkpoint(kind: 'checkpoint' | 'savepoint' = 'checkpoint'): Promise<CheckpointManifest> {
    const coordinator = this.#coordinator;
    if (coordinator === undefined) {
      throw new SluiceError('SLUICE_JOB_NOT_RUNNING', `job "${this.#plan.job}" is not running with checkpoints: nothing to ${kind}`);
    }
    return coordinator.triggerNow(kind);
  }

  /**
   * Stops the job gracefully: takes a savepoint, then cancels. Resuming from the savepoint later continues exactly
   * where it stopped (what the sinks wrote after the savepoint is aborted or overwritten on replay).
   *
   * @example
   * ```ts
   * const savepoint = await runner.stopWithSavepoint();
   * // later: new JobRunner({ job, store, restore: { from: 'checkpoint', id: savepoint.id } })
   * ```
   */
  async stopWithSavepoint(): Promise<CheckpointManifest> {
    const manifest = await this.checkpoint('savepoint');
    this.cancel(`stopped with savepoint ${manifest.id}`);
    return manifest;
  }

  /**
   * Rescales the running job: takes a checkpoint, stops the attempt, and restarts from that checkpoint at
   * `parallelism` (key groups and source splits are redistributed). Resolves when the new attempt runs.
   *
   * @example
   * ```ts
   * const record = await runner.rescale(8);
   * logger.info(record, `rescaled ${record.from} → ${record.to} in ${record.durationMs} ms`);
   * ```
   */
  async rescale(parallelism: number, reason = 'requested by the user'): Promise<RescaleRecord> {
    return this.#rescale(parallelism, reason, 'manual');
  }

  async #rescale(parallelism: number, reason: string, trigger: RescaleRecord['trigger']): Promise<RescaleRecord> {
    const from = this.#plan.parallelism;
    if (!this.#checkpointing) {
      throw new SluiceError('SLUICE_RESCALE_NEEDS_CHECKPOINTS', `job "${this.#plan.job}" does not take checkpoints, so its state cannot move to a new parallelism: enable checkpoints in defineJob, or restart it with --parallelism`);
    }
    if (this.#pendingRescale !== undefined) {
      throw new SluiceError('SLUICE_RESCALE_IN_PROGRESS', `job "${this.#plan.job}" is already rescaling to ${this.#pendingRescale.to}: wait for it to finish`);
    }
    if (this.#state !== 'running' || this.#attempt === undefined) {
      throw new SluiceError('SLUICE_JOB_NOT_RUNNING', `job "${this.#plan.job}" is ${this.#state}, not running: it can only be rescaled while it runs`);
    }
    if (parallelism === from) {
      throw new SluiceError('SLUICE_RESCALE_UNCHANGED', `job "${this.#plan.job}" already runs at parallelism ${from}`);
    }
    // Validate the new plan before stopping anything: a bad parallelism leaves the job running as it was.
    const plan = buildPhysicalPlan(this.#options.job, { params: this.#options.params ?? new JobParams(), parallelism });
    const startedAt = this.#clock.now();
    const pending = pendingRescale({ from, to: parallelism, reason, trigger, startedAt, plan });
    this.#pendingRescale = pending;
    this.#state = 'rescaling';
    this.#events.next({ type: 'rescale-started', from, to: parallelism, reason });
    this.#logger.info({ from, to: parallelism, reason }, `rescaling ${from} → ${parallelism}: ${reason}`);
    try {
      const manifest = await this.checkpoint('checkpoint');
      pending.checkpointId = manifest.id;
    } catch (err) {
      this.#pendingRescale = undefined;
      if (this.#state === 'rescaling') this.#state = 'running';
      throw new SluiceError('SLUICE_RESCALE_FAILED', `rescaling job "${this.#plan.job}" to ${parallelism} failed: the checkpoint before stopping did not complete (${(err as Error)?.message ?? String(err)}); the job keeps running at ${from}`, { cause: err });
    }
    this.#attempt?.fail(new SluiceError('SLUICE_RESCALING', `attempt stopped to rescale ${from} → ${parallelism}`));
    return pending.promise;
  }

  /** A source's discovery saw its splits change: apply the job's rescale policy (docs/rescaling.md). */
  #onSplitsChanged(sourceUid: string, change: SplitsChange): void {
    if (!this.#splits.isNew(sourceUid, change)) return;
    this.#events.next({ type: 'splits-changed', source: sourceUid, splits: change.splits, added: change.added, removed: change.removed });
    this.#logger.info({ source: sourceUid, splits: change.splits, added: change.added, removed: change.removed }, `source "${sourceUid}" now has ${change.splits} splits`);
    const rescale = this.#splits.rescaleFor(sourceUid, change, this.#pendingRescale?.to ?? this.#plan.parallelism, this.#plan);
    if (rescale !== undefined) void this.#rescaleWhenPossible(rescale.to, rescale.reason);
  }

  /** A split change during a rescale waits for that rescale to finish, then is applied against the new parallelism. */
  async #rescaleWhenPossible(to: number, reason: string): Promise<void> {
    try {
      while (this.#pendingRescale !== undefined) await this.#pendingRescale.promise.catch(() => undefined);
      if (this.#plan.parallelism === to || this.#state !== 'running') return;
      await this.#rescale(to, reason, 'splits-changed');
    } catch (err) {
      this.#logger.warn({ err: (err as Error)?.message ?? String(err) }, `automatic rescale to ${to} did not happen`);
    }
  }

  /** Stops the job: the running attempt is cancelled (sinks abort what is not committed). */
  cancel(message = 'cancelled by the user'): void {
    if (this.#cancelled !== undefined) return;
    this.#cancelled = new SluiceError('SLUICE_CANCELLED', `job "${this.#plan.job}" ${message}`);
    this.#attempt?.fail(this.#cancelled);
    this.#wakeCancel?.();
  }

  /**
   * Runs attempts until the job finishes (resolves `finished`), is cancelled (resolves `cancelled`) or fails for good
   * (rejects with the last failure).
   */
  async run(): Promise<'finished' | 'cancelled'> {
    // Before any working database opens, on a worker thread too (the slots are the process's): see the function.
    if (this.#plan.leveldbState !== undefined) {
      adviseOnLevelDbJob(this.#logger);
      await reserveTableMmapSlots();
    }
    const initial = await this.#splits.initialParallelism(this.#plan, this.#options.parallelism !== undefined);
    if (initial !== undefined) this.#plan = buildPhysicalPlan(this.#options.job, { params: this.#options.params ?? new JobParams(), parallelism: initial });
    let restored = await this.#restorer.initial(this.#plan, this.#options.restore ?? { from: 'latest' });
    for (;;) {
      if (this.#cancelled === undefined) await this.#whileNotOwner();
      if (this.#cancelled !== undefined) return this.#end('cancelled');
      const attemptNo = this.#attempts++;
      const attempt = this.#newAttempt(attemptNo, restored);
      this.#attempt = attempt;
      this.#coordinator = this.#checkpointing ? this.#newCoordinator(attempt, restored?.manifest) : undefined;
      this.#state = 'running';
      this.#strategy.onRestarted(this.#clock.now());
      this.#events.next({ type: 'attempt-started', attempt: attemptNo, restoredFrom: restored?.checkpointId, parallelism: this.#plan.parallelism });
      this.#logger.info({ attempt: attemptNo, restoredFrom: restored?.checkpointId, parallelism: this.#plan.parallelism }, restored === undefined ? 'job starting' : `job starting from checkpoint ${restored.checkpointId}`);
      this.#coordinator?.start();
      this.#completeRescale();
      let failure: { error: unknown } | undefined;
      try {
        await attempt.run();
      } catch (err) {
        failure = { error: err };
      }
      // A store write begun before the stop still lands, and its retention deletes older checkpoints: let it finish
      // before checkpoints are listed for cleanup or restore.
      this.#coordinator?.stop(failure?.error);
      await this.#coordinator?.settled();
      if (failure === undefined) {
        this.#abortRescale(new SluiceError('SLUICE_JOB_NOT_RUNNING', `job "${this.#plan.job}" finished before it could be rescaled`));
        if (restored !== undefined && attemptNo === 0 && (this.metrics()[0]?.recordsOut ?? 0) === 0) {
          this.#logger.info(
            { restoredFrom: restored.checkpointId },
            `job "${this.#plan.job}" had already finished: checkpoint ${restored.checkpointId} covers all of its input, so this run read nothing new. To process everything again from the start, run it with --fresh (its sinks then write their output again)`,
          );
        }
        if (this.#checkpointing) await this.#restorer.keepOnlyFinal(this.#plan.job);
        return this.#end('finished');
      }
      const err = failure.error;
      if (this.#cancelled !== undefined) {
        this.#abortRescale(this.#cancelled);
        return this.#end('cancelled');
      }
      const rescale = this.#pendingRescale;
      if (rescale?.checkpointId !== undefined && isSluiceError(err) && err.code === 'SLUICE_RESCALING') {
        this.#plan = rescale.plan;
        restored = await this.#restorer.load(this.#plan, rescale.checkpointId);
        continue;
      }
      this.#abortRescale(new SluiceError('SLUICE_RESCALE_FAILED', `job "${this.#plan.job}" failed while rescaling; it restarts at parallelism ${this.#plan.parallelism}`, { cause: err }));
      const error = isSluiceError(err) ? err : new SluiceError('SLUICE_JOB_FAILED', `job "${this.#plan.job}" failed: ${(err as Error)?.message ?? String(err)}`, { cause: err });
      // A fatal error bypasses the restart strategy (Flink's non-recoverable errors): replaying the same input with
      // the same options would fail the same way, forever under the default exponential-delay strategy.
      const verdict = classifyFailure(error);
      const decision: RestartDecision = verdict.fatal
        ? { restart: false, reason: `${verdict.decidedBy.code} is not retriable, restarting cannot help (docs/errors.md)` }
        : this.#strategy.onFailure(this.#clock.now());
      if (!decision.restart) {
        this.#logger.error({ err: error, attempt: attemptNo, fatal: verdict.fatal }, `job failed and will not restart: ${decision.reason}`);
        this.#events.next({ type: 'attempt-failed', attempt: attemptNo, error, restartInMs: undefined, fatal: verdict.fatal });
        this.#state = 'failed';
        this.#events.next({ type: 'failed', error, fatal: verdict.fatal });
        this.#events.complete();
        throw error;
      }
      this.#state = 'restarting';
      // The whole error (stack and causes): the user's file:line is in the cause's stack.
      this.#logger.warn({ err: error, attempt: attemptNo, restartInMs: decision.delayMs }, `attempt ${attemptNo} failed; restarting in ${decision.delayMs} ms`);
      this.#events.next({ type: 'attempt-failed', attempt: attemptNo, error, restartInMs: decision.delayMs, fatal: false });
      await this.#sleepUnlessCancelled(decision.delayMs);
      try {
        restored = this.#checkpointing ? await this.#restorer.latest(this.#plan) : undefined;
      } catch (restoreError) {
        throw this.#failedToRestore(restoreError, attemptNo);
      }
    }
  }

  /** No checkpoint could be restored for the next attempt: the job fails for good, and says so like any failure. */
  #failedToRestore(err: unknown, attemptNo: number): SluiceError {
    const error = isSluiceError(err) ? err : new SluiceError('SLUICE_JOB_FAILED', `job "${this.#plan.job}" could not restore a checkpoint to restart from: ${(err as Error)?.message ?? String(err)}`, { cause: err });
    this.#logger.error({ err: error, attempt: attemptNo }, 'job failed and will not restart: no checkpoint could be restored');
    this.#state = 'failed';
    this.#events.next({ type: 'failed', error, fatal: true });
    this.#events.complete();
    return error;
  }

  /** The new attempt of a rescale runs: record it and tell whoever asked. */
  #completeRescale(): void {
    const pending = this.#pendingRescale;
    if (pending === undefined || pending.checkpointId === undefined || this.#plan !== pending.plan) return;
    this.#pendingRescale = undefined;
    const record = rescaleRecord(pending, pending.checkpointId, this.#clock.now());
    this.#rescales.push(record);
    this.#events.next({ type: 'rescaled', rescale: record });
    this.#logger.info(record, `rescaled ${record.from} → ${record.to} in ${record.durationMs} ms (checkpoint ${record.checkpointId})`);
    pending.resolve(record);
  }

  #abortRescale(error: SluiceError): void {
    const pending = this.#pendingRescale;
    if (pending === undefined) return;
    this.#pendingRescale = undefined;
    pending.reject(error);
  }

  /** In this thread (`workers` 0) or on worker threads: the runner and the coordinator drive both alike. */
  #newAttempt(attemptNo: number, restored: RestoredState | undefined): RunningAttempt {
    const common = {
      plan: this.#plan,
      attempt: attemptNo,
      logger: this.#logger.child({ attempt: attemptNo }),
      channelCapacityBytes: this.#options.job.options.channelCapacityBytes,
      restored,
      sourceStart: this.#sourceStart,
      checkpointTiming: this.#checkpointTiming,
      ownerEpoch: this.#options.ownerEpoch,
      ownerLease: this.#options.ownerLease,
      watermarkBoard: WatermarkBoard.forPlan(this.#plan),
      onSplitsChanged: (uid: string, change: SplitsChange) => this.#onSplitsChanged(uid, change),
      checkpoints: this.#checkpointing ? { acknowledge: (a: SubtaskAck) => this.#coordinator?.acknowledge(a), sourceFinished: (s: AttemptSubtask) => this.#coordinator?.sourceFinished(s) } : undefined,
    };
    const canUseWorkers = this.#jobModule !== undefined && this.#clock === systemClock;
    const cores = usableCores();
    const count = workerCount({ requested: this.#requestedWorkers, plan: this.#plan, canUseWorkers, cores });
    this.#workers = count.workers;
    // A default count says how many cores it found: in a container that is its CPU limit, not the host's cores.
    const found = count.source === 'default' && count.workers > 0 ? { usableCores: cores } : {};
    common.logger.info({ workers: count.workers, parallelism: this.#plan.stages.map((s) => s.parallelism), ...found }, count.workers === 0 ? 'running in-process' : `running on ${count.workers} worker threads`);
    if (this.#workers === 0) return new JobAttempt({ ...common, clock: this.#clock });
    return new WorkerAttempt({
      ...common,
      workers: this.#workers,
      jobModule: this.#jobModule as string,
      params: this.#options.params ?? new JobParams(),
      resourceLimits: this.#options.workerResourceLimits,
    });
  }

  #newCoordinator(attempt: RunningAttempt, restoredFrom: CheckpointManifest | undefined): CheckpointCoordinator {
    const checkpoints = this.#options.job.options.checkpoints;
    if (checkpoints === undefined || checkpoints === false || this.#options.store === undefined) {
      throw new SluiceError('SLUICE_INTERNAL', 'coordinator without checkpoint options');
    }
    return new CheckpointCoordinator({
      attempt,
      store: this.#options.store,
      restoredFrom,
      options: checkpoints,
      clock: this.#clock,
      logger: this.#logger,
      onComplete: (manifest) => {
        this.#lastCheckpoint = manifest;
        // Positions recorded from here on are the ones to resume from: the clear/catch-up override has done its job.
        this.#sourceStart = undefined;
        this.#events.next({ type: 'checkpoint-completed', manifest });
      },
      onFailed: (checkpointId, error) => this.#events.next({ type: 'checkpoint-failed', checkpointId, error }),
      ...(this.#options.beforeCheckpointStore === undefined ? {} : { beforeStore: this.#options.beforeCheckpointStore }),
      ...(this.#options.replicateCheckpoint === undefined ? {} : { replicate: this.#options.replicateCheckpoint }),
    });
  }

  /** Cluster mode: holds the next attempt back while this member does not own the job, until it is cancelled. */
  async #whileNotOwner(): Promise<void> {
    const lease = this.#options.ownerLease;
    if (lease === undefined || lease.holds()) return;
    this.#logger.warn(`job "${this.#plan.job}": this member no longer owns the job (its cluster session ended); no attempt starts here, and the job stops once the member has noticed the loss`);
    while (this.#cancelled === undefined && !lease.holds()) await this.#sleepUnlessCancelled(OWNERSHIP_POLL_MS);
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

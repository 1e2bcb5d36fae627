import type { CheckpointOptions } from '../api/index.ts';
import { SluiceError } from '../errors/index.ts';
import type { AttemptSubtask, CheckpointListener, RunningAttempt, SubtaskAck } from '../exec/index.ts';
import { summarizePlan } from '../graph/index.ts';
import type { Logger } from '../logging/index.ts';
import type { Clock, TimerHandle } from '../time/index.ts';
import { gatherCheckpoint } from './checkpoint-blobs.ts';
import { ChainCompactor, delegatingOperators } from './chain-compactor.ts';
import type { CheckpointStore } from './checkpoint-store.ts';
import type { CheckpointKind, CheckpointManifest } from './manifest.ts';

export const DEFAULT_CHECKPOINT_TIMEOUT_MS = 10 * 60_000;
export const DEFAULT_RETAINED_CHECKPOINTS = 3;

interface InFlight {
  readonly id: number;
  readonly kind: CheckpointKind;
  readonly startedAt: number;
  readonly acks: SubtaskAck[];
  readonly final: boolean;
  timeout: TimerHandle | undefined;
  readonly waiters: Array<{ resolve: (m: CheckpointManifest) => void; reject: (err: unknown) => void }>;
}

/** A completed checkpoint, as the coordinator reports it. */
export interface CompletedCheckpoint {
  readonly manifest: CheckpointManifest;
}

export interface CheckpointCoordinatorOptions {
  readonly attempt: RunningAttempt;
  readonly store: CheckpointStore;
  readonly options: CheckpointOptions;
  readonly clock: Clock;
  readonly logger: Logger;
  /** The checkpoint the attempt restored, if any: an incremental job's first checkpoint builds on its chains. */
  readonly restoredFrom?: CheckpointManifest | undefined;
  /** Called with every completed checkpoint (status, metrics). */
  readonly onComplete?: (manifest: CheckpointManifest) => void;
  /** Called when a checkpoint is abandoned (before its attempt is failed with the same error). */
  readonly onFailed?: (checkpointId: number, error: Error) => void;
  /**
   * Test hook: runs after all acknowledgements arrived and before the store write. Throwing fails the checkpoint
   * (and the attempt), like a crash between "all subtasks snapshotted" and "checkpoint durable".
   */
  readonly beforeStore?: (checkpointId: number, sourcePositions: CheckpointManifest['sourcePositions']) => void | Promise<void>;
  /**
   * Makes a stored checkpoint durable somewhere else before it counts as complete (cluster mode sends it to the
   * cluster's checkpoints topic). Sinks commit only after it resolved. When it fails, the local copy is deleted again,
   * so the local latest checkpoint never gets ahead of the replicated one, and the attempt fails.
   */
  readonly replicate?: (manifest: CheckpointManifest) => Promise<void>;
}

/**
 * Drives aligned-barrier checkpoints for one attempt (docs/checkpoints.md): triggers checkpoint `n` at the sources every
 * `intervalMs` (respecting `minPauseMs`, one in flight, `timeoutMs`), collects every subtask's acknowledgement,
 * writes blobs, then the manifest, to the store, and only then tells subtasks the checkpoint is complete
 * (sinks commit). When every source of a bounded job has ended, it takes a final checkpoint and then releases the
 * end of input, so sinks commit all output before the job finishes.
 *
 * A checkpoint that fails (store error, timeout) fails the attempt: the restart strategy then restores the last
 * completed checkpoint, which is how Flink behaves with zero tolerable checkpoint failures.
 */
export class CheckpointCoordinator implements CheckpointListener {
  readonly #attempt: RunningAttempt;
  readonly #store: CheckpointStore;
  readonly #options: CheckpointOptions;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #onComplete: ((manifest: CheckpointManifest) => void) | undefined;
  readonly #onFailed: ((checkpointId: number, error: Error) => void) | undefined;
  readonly #beforeStore: ((checkpointId: number, sourcePositions: CheckpointManifest['sourcePositions']) => void | Promise<void>) | undefined;
  readonly #replicate: ((manifest: CheckpointManifest) => Promise<void>) | undefined;
  #inFlight: InFlight | undefined;
  /** The latest checkpoint of this attempt (or the restored one): incremental snapshots build on its chains. */
  #parent: CheckpointManifest | undefined;
  /** Merges long chains of backends that delegate rebasing, off the subtasks' threads. */
  readonly #compactor: ChainCompactor;
  /** The store write in progress, if any: it runs to its end even after `stop()` (see {@link settled}). */
  #writing: Promise<unknown> | undefined;
  #triggering = false;
  #timer: TimerHandle | undefined;
  #lastCompletedAt = Number.NEGATIVE_INFINITY;
  #lastTriggeredAt = Number.NEGATIVE_INFINITY;
  #finishedSources = new Set<AttemptSubtask>();
  #finalRequested = false;
  #stopped = false;
  readonly #queued: Array<{ kind: CheckpointKind; resolve: (m: CheckpointManifest) => void; reject: (err: unknown) => void }> = [];

  constructor(options: CheckpointCoordinatorOptions) {
    this.#attempt = options.attempt;
    this.#store = options.store;
    this.#options = options.options;
    this.#clock = options.clock;
    this.#logger = options.logger;
    this.#onComplete = options.onComplete;
    this.#onFailed = options.onFailed;
    this.#beforeStore = options.beforeStore;
    this.#replicate = options.replicate;
    this.#parent = options.restoredFrom;
    this.#compactor = new ChainCompactor(options.store, options.attempt.plan.maxParallelism, options.logger);
  }

  /** Starts periodic triggering. */
  start(): void {
    this.#schedule(this.#options.intervalMs);
  }

  /** Stops triggering; a checkpoint in flight is abandoned (its waiters are rejected). */
  stop(reason: unknown = new SluiceError('SLUICE_CANCELLED', 'checkpointing stopped')): void {
    this.#stopped = true;
    this.#compactor.stop();
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    const inFlight = this.#inFlight;
    this.#inFlight = undefined;
    if (inFlight !== undefined) {
      if (inFlight.timeout !== undefined) this.#clock.clearTimeout(inFlight.timeout);
      for (const w of inFlight.waiters) w.reject(reason);
    }
    for (const q of this.#queued.splice(0)) q.reject(reason);
  }

  /**
   * Resolves once no store write of this coordinator is in progress. A write that began before `stop()` still lands
   * (and its retention may delete older checkpoints), so whoever reads or deletes checkpoints next waits for this.
   */
  async settled(): Promise<void> {
    while (this.#writing !== undefined) await this.#writing.catch(() => undefined);
    await this.#compactor.idle();
  }

  /**
   * Takes a checkpoint or savepoint now (after the one in flight, if any) and resolves once it is durable.
   *
   * @example
   * ```ts
   * const manifest = await coordinator.triggerNow('savepoint');
   * ```
   */
  triggerNow(kind: CheckpointKind = 'checkpoint'): Promise<CheckpointManifest> {
    return new Promise((resolve, reject) => {
      if (this.#stopped) {
        reject(new SluiceError('SLUICE_JOB_NOT_RUNNING', 'the job is not running: cannot take a checkpoint'));
        return;
      }
      this.#queued.push({ kind, resolve, reject });
      void this.#maybeTrigger();
    });
  }

  acknowledge(ack: SubtaskAck): void {
    const inFlight = this.#inFlight;
    if (inFlight === undefined || ack.checkpointId !== inFlight.id) return; // late ack of an abandoned checkpoint
    inFlight.acks.push(ack);
    if (inFlight.acks.length === this.#attempt.subtasks.length) void this.#complete(inFlight);
  }

  sourceFinished(subtask: AttemptSubtask): void {
    this.#finishedSources.add(subtask);
    const sources = this.#attempt.subtasks.filter((s) => s.isSource).length;
    if (this.#finishedSources.size === sources) {
      this.#finalRequested = true;
      void this.#maybeTrigger();
    }
  }

  #schedule(delayMs: number): void {
    if (this.#stopped) return;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      void this.#maybeTrigger(true);
    }, Math.max(0, delayMs));
  }

  async #maybeTrigger(periodic = false): Promise<void> {
    if (this.#stopped || this.#inFlight !== undefined || this.#triggering) return;
    const queued = this.#queued.shift();
    const final = this.#finalRequested && queued === undefined;
    if (queued === undefined && !final) {
      if (!periodic) return;
      const now = this.#clock.now();
      const earliest = this.#lastCompletedAt + (this.#options.minPauseMs ?? 0);
      if (now < earliest) {
        this.#schedule(earliest - now);
        return;
      }
    }
    this.#triggering = true;
    let id: number;
    try {
      id = await this.#store.nextId(this.#attempt.plan.job);
    } catch (err) {
      this.#triggering = false;
      const failure = new SluiceError('SLUICE_CHECKPOINT_FAILED', `could not allocate a checkpoint id for job "${this.#attempt.plan.job}": ${(err as Error).message}`, { cause: err, retriable: true });
      queued?.reject(failure);
      this.#attempt.fail(failure);
      return;
    }
    this.#triggering = false;
    if (this.#stopped) {
      queued?.reject(new SluiceError('SLUICE_CANCELLED', 'checkpointing stopped'));
      return;
    }
    const now = this.#clock.now();
    const inFlight: InFlight = {
      id,
      kind: queued?.kind ?? 'checkpoint',
      startedAt: now,
      acks: [],
      final,
      timeout: undefined,
      waiters: queued === undefined ? [] : [{ resolve: queued.resolve, reject: queued.reject }],
    };
    if (final) this.#finalRequested = false;
    this.#inFlight = inFlight;
    this.#lastTriggeredAt = now;
    const timeoutMs = this.#options.timeoutMs ?? DEFAULT_CHECKPOINT_TIMEOUT_MS;
    inFlight.timeout = this.#clock.setTimeout(() => {
      if (this.#inFlight !== inFlight) return;
      const err = new SluiceError(
        'SLUICE_CHECKPOINT_TIMEOUT',
        `checkpoint ${id} of job "${this.#attempt.plan.job}" did not complete within ${timeoutMs} ms (${inFlight.acks.length}/${this.#attempt.subtasks.length} subtasks acknowledged); raise checkpoints.timeoutMs or look for a stuck sink`,
        { retriable: true },
      );
      this.#abandon(inFlight, err);
    }, timeoutMs);
    this.#logger.debug({ checkpoint: id, kind: inFlight.kind, final }, 'triggering checkpoint');
    for (const subtask of this.#attempt.subtasks) if (subtask.isSource) subtask.triggerCheckpoint(id);
  }

  async #complete(inFlight: InFlight): Promise<void> {
    const plan = this.#attempt.plan;
    let gathered: ReturnType<typeof gatherCheckpoint>;
    const delegating = delegatingOperators(inFlight.acks);
    try {
      await this.#compactor.compactOverdue(this.#parent, delegating);
      if (this.#inFlight !== inFlight) return; // stopped meanwhile
      gathered = gatherCheckpoint(inFlight.acks, this.#parent, this.#compactor);
    } catch (err) {
      this.#abandon(inFlight, err instanceof SluiceError ? err : new SluiceError('SLUICE_CHECKPOINT_FAILED', `checkpoint ${inFlight.id} of job "${plan.job}" could not merge a keyed-state chain: ${(err as Error).message}`, { cause: err, retriable: true }));
      return;
    }
    const { blobs, sourcePositions } = gathered;
    if (this.#attempt.signal.aborted) {
      // Acks can still arrive while a failing attempt tears down; a failover restores an earlier checkpoint instead.
      this.#abandon(inFlight, new SluiceError('SLUICE_CHECKPOINT_FAILED', `checkpoint ${inFlight.id} of job "${plan.job}" abandoned: the attempt is stopping`, { retriable: true }));
      return;
    }
    let manifest: CheckpointManifest;
    const writing = this.#trackWrite(async () => {
      await this.#beforeStore?.(inFlight.id, sourcePositions);
      const stored = await this.#store.write(
        {
          job: plan.job,
          id: inFlight.id,
          kind: inFlight.kind,
          timestamp: inFlight.startedAt,
          durationMs: this.#clock.now() - inFlight.startedAt,
          parallelism: plan.parallelism,
          maxParallelism: plan.maxParallelism,
          operators: summarizePlan(plan),
          sourcePositions,
        },
        blobs,
        { retain: this.#options.retain ?? DEFAULT_RETAINED_CHECKPOINTS, standAlone: plan.standAloneCheckpoints === true },
      );
      if (this.#replicate !== undefined) {
        try {
          await this.#replicate(stored);
        } catch (err) {
          await this.#store.delete(stored.job, stored.id).catch(() => undefined); // best effort: never ahead of the replica
          throw err;
        }
      }
      return stored;
    });
    try {
      manifest = await writing;
    } catch (err) {
      this.#abandon(
        inFlight,
        new SluiceError('SLUICE_CHECKPOINT_FAILED', `checkpoint ${inFlight.id} of job "${plan.job}" could not be stored: ${(err as Error).message}`, { cause: err, retriable: true }),
      );
      return;
    }
    if (this.#inFlight !== inFlight) return; // stopped while writing
    if (inFlight.timeout !== undefined) this.#clock.clearTimeout(inFlight.timeout);
    this.#inFlight = undefined;
    this.#parent = manifest;
    this.#compactor.afterCheckpoint(manifest, delegating);
    this.#lastCompletedAt = this.#clock.now();
    // Debug: one line per checkpoint (every second or so) would flood an info log; `sluice run` shows the newest on
    // its progress line, `sluice status` lists them.
    this.#logger.debug(
      { checkpoint: manifest.id, kind: manifest.kind, durationMs: manifest.durationMs, bytes: manifest.totalBytes, writtenBytes: manifest.writtenBytes ?? manifest.totalBytes },
      `${manifest.kind} ${manifest.id} complete`,
    );
    // Only now may sinks commit and sources report offsets: the checkpoint is durable.
    for (const subtask of this.#attempt.subtasks) subtask.completeCheckpoint(manifest.id);
    if (inFlight.final) {
      for (const subtask of this.#attempt.subtasks) if (subtask.isSource) subtask.releaseEnd();
    }
    this.#onComplete?.(manifest);
    for (const w of inFlight.waiters) w.resolve(manifest);
    if (this.#queued.length > 0 || this.#finalRequested) {
      void this.#maybeTrigger();
    } else {
      const now = this.#clock.now();
      const next = Math.max(this.#lastTriggeredAt + this.#options.intervalMs, now + (this.#options.minPauseMs ?? 0));
      this.#schedule(next - now);
    }
  }

  /** Runs one store write, tracked for {@link settled}. */
  #trackWrite<T>(write: () => Promise<T>): Promise<T> {
    const writing = write();
    this.#writing = writing;
    const clear = (): void => {
      if (this.#writing === writing) this.#writing = undefined;
    };
    writing.then(clear, clear);
    return writing;
  }

  #abandon(inFlight: InFlight, err: SluiceError): void {
    if (this.#inFlight !== inFlight) return;
    this.#inFlight = undefined;
    if (inFlight.timeout !== undefined) this.#clock.clearTimeout(inFlight.timeout);
    for (const w of inFlight.waiters) w.reject(err);
    this.#logger.warn({ checkpoint: inFlight.id, err: err.message }, 'checkpoint failed');
    this.#onFailed?.(inFlight.id, err);
    this.#attempt.fail(err);
  }
}

import type { Subscription } from 'rxjs';
import { isIncremental, writtenBytesOf, type CheckpointManifest } from '../checkpoint/index.ts';
import { causeChain, isSluiceError, stackWithCauses } from '../errors/index.ts';
import { classifyFailure } from '../failover/index.ts';
import type { JobRunner, RescaleRecord, StageMetrics } from '../runner/index.ts';
import { LagHistory, type LagHistoryView } from './lag-history.ts';

/** Per-stage throughput and backpressure, as `status` shows it. */
export interface StageStatus {
  readonly stage: number;
  readonly operators: readonly string[];
  readonly parallelism: number;
  readonly recordsIn: number;
  readonly recordsOut: number;
  /** Rates between the two newest samples (one a second); 0 until two samples exist. */
  readonly recordsInPerSecond: number;
  readonly recordsOutPerSecond: number;
  /** Share of the stage's subtasks waiting on a full channel, averaged over the last {@link RATIO_WINDOW} samples (0–1). */
  readonly backpressureRatio: number;
  /** Records the stage's windows dropped as later than their allowed lateness, in the running attempt. */
  readonly lateRecordsDropped: number;
  /** Records the stage's operators skipped because their function threw (`onError('skip')`), in the running attempt. */
  readonly recordsSkipped?: number;
  /** Bytes waiting in the input channels of the stage's subtasks. */
  readonly inputQueuedBytes?: number;
  /** The stage's lowest watermark (event time, epoch ms), or null without event time. */
  readonly watermark?: number | null;
  /** The stages this one feeds (several when its stream is consumed more than once). */
  readonly feeds?: readonly number[];
  /** Keys with keyed state in the stage, per named state; null for a stage without keyed state. Absent from older services. */
  readonly stateEntries?: number | null;
  /**
   * LevelDB state backend: the share of the stage's state reads its caches served in the running attempt (0–1, three
   * decimals); null for a stage without such a cache or before its first read. Absent from older services.
   */
  readonly stateCacheHitRatio?: number | null;
}

export interface CheckpointRecord {
  readonly id: number;
  readonly kind: CheckpointManifest['kind'];
  readonly timestamp: number;
  readonly durationMs: number;
  /** Bytes a restore reads. */
  readonly totalBytes: number;
  /** Bytes the checkpoint wrote itself: less than `totalBytes` when it is incremental. Absent from older services. */
  readonly writtenBytes?: number;
  /** Full or incremental (docs/checkpoints.md). Absent from older services: full. */
  readonly incremental?: boolean;
}

/** A checkpoint that failed (timed out or could not be stored); its attempt restarts from the previous one. */
export interface FailedCheckpointRecord {
  readonly id: number;
  readonly at: number;
  readonly message: string;
}

export interface ExceptionRecord {
  readonly at: number;
  readonly attempt: number | undefined;
  readonly code: string | undefined;
  readonly message: string;
  /**
   * The error's stack followed by each cause's (`caused by: …` lines): when user code threw, the innermost one
   * names its file:line.
   */
  readonly stack: string;
  /** Code of the innermost SluiceError in the cause chain when it differs from `code` (what the connector said). */
  readonly rootCode?: string;
  /** The error cannot go away on a retry: the job failed without a restart (docs/errors.md). */
  readonly fatal: boolean;
  /** Delay before the restart, or absent when the job failed for good. */
  readonly restartInMs?: number;
}

const HISTORY = 20;
const RATIO_WINDOW = 10;

interface Sample {
  readonly at: number;
  readonly stages: readonly StageMetrics[];
}

/**
 * Everything `status` reports that a runner does not keep itself: rates from successive `metrics()` samples,
 * checkpoint history, recent exceptions, rescales. One tracker per job for the life of the service; it follows each
 * new runner of the job (restarts, resumes, replacements) so history survives them.
 *
 * @example
 * ```ts
 * const tracker = new JobTracker();
 * tracker.follow(runner);
 * tracker.stages(); // per-stage rates and backpressure
 * ```
 */
export class JobTracker {
  readonly #checkpoints: CheckpointRecord[] = [];
  readonly #failedCheckpoints: FailedCheckpointRecord[] = [];
  readonly #lag = new LagHistory();
  readonly #exceptions: ExceptionRecord[] = [];
  readonly #rescales: RescaleRecord[] = [];
  #samples: Sample[] = [];
  #runner: JobRunner | undefined;
  #subscription: Subscription | undefined;
  #timer: NodeJS.Timeout | undefined;
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /** Starts following a new runner of the job (the previous one is over). */
  follow(runner: JobRunner, sampleEveryMs = 1000): void {
    this.stop();
    this.#runner = runner;
    this.#samples = [];
    this.#subscription = runner.events.subscribe((event) => {
      switch (event.type) {
        case 'checkpoint-completed': {
          const m = event.manifest;
          push(this.#checkpoints, { id: m.id, kind: m.kind, timestamp: m.timestamp, durationMs: m.durationMs, totalBytes: m.totalBytes, writtenBytes: writtenBytesOf(m), incremental: isIncremental(m) });
          break;
        }
        case 'checkpoint-failed':
          push(this.#failedCheckpoints, { id: event.checkpointId, at: this.#now(), message: event.error.message });
          break;
        case 'attempt-failed':
          if (isSluiceError(event.error, 'SLUICE_CANCELLED') || isSluiceError(event.error, 'SLUICE_RESCALING')) break;
          push(this.#exceptions, { ...describeError(event.error, this.#now()), attempt: event.attempt, ...(event.restartInMs === undefined ? {} : { restartInMs: event.restartInMs }) });
          break;
        case 'rescaled':
          push(this.#rescales, event.rescale);
          break;
        case 'attempt-started':
          this.#samples = [];
          break;
        default:
      }
    });
    this.#timer = setInterval(() => this.sample(), sampleEveryMs);
    this.#timer.unref();
  }

  /** Records a failure that happened outside an attempt (the job could not start). */
  recordException(error: unknown): void {
    push(this.#exceptions, { ...describeError(error, this.#now()), attempt: undefined });
  }

  /** Takes one metrics sample of the followed runner (the timer calls this every second). */
  sample(): void {
    const runner = this.#runner;
    if (runner === undefined) return;
    const at = this.#now();
    this.#samples.push({ at, stages: runner.metrics() });
    if (this.#samples.length > RATIO_WINDOW) this.#samples.shift();
    this.#lag.add(at, runner.sourceLag());
  }

  /** Stops sampling; history stays. */
  stop(): void {
    this.#subscription?.unsubscribe();
    this.#subscription = undefined;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#runner = undefined;
  }

  /** Per-stage status of the followed runner (empty when none runs). */
  stages(): StageStatus[] {
    const runner = this.#runner;
    if (runner === undefined) return [];
    const current = runner.metrics();
    const samples = this.#samples;
    const newest = samples[samples.length - 1];
    const previous = samples[samples.length - 2];
    const seconds = newest !== undefined && previous !== undefined ? (newest.at - previous.at) / 1000 : 0;
    return current.map((stage) => {
      const a = previous?.stages.find((s) => s.stage === stage.stage);
      const b = newest?.stages.find((s) => s.stage === stage.stage);
      const rate = (field: 'recordsIn' | 'recordsOut'): number => (a === undefined || b === undefined || seconds <= 0 ? 0 : Math.max(0, Math.round((b[field] - a[field]) / seconds)));
      const ratios = samples.map((s) => s.stages.find((x) => x.stage === stage.stage)).filter((s) => s !== undefined).map((s) => s.backpressured / Math.max(1, s.parallelism));
      return {
        stage: stage.stage,
        operators: stage.operators,
        parallelism: stage.parallelism,
        recordsIn: stage.recordsIn,
        recordsOut: stage.recordsOut,
        recordsInPerSecond: rate('recordsIn'),
        recordsOutPerSecond: rate('recordsOut'),
        backpressureRatio: ratios.length === 0 ? 0 : Math.round((ratios.reduce((x, y) => x + y, 0) / ratios.length) * 100) / 100,
        lateRecordsDropped: stage.lateRecordsDropped,
        recordsSkipped: stage.recordsSkipped,
        inputQueuedBytes: stage.inputQueuedBytes,
        watermark: stage.watermark ?? null,
        feeds: runner.plan.stages[stage.stage]?.outputs ?? [],
        stateEntries: stage.stateEntries ?? null,
        stateCacheHitRatio: hitRatio(stage.stateCache),
      };
    });
  }

  /** Newest first. */
  checkpoints(): CheckpointRecord[] {
    return [...this.#checkpoints].reverse();
  }

  /** Newest first. */
  failedCheckpoints(): FailedCheckpointRecord[] {
    return [...this.#failedCheckpoints].reverse();
  }

  /** Each split's lag, one sample a second over the last minutes (the dashboard's lag chart). */
  lagHistory(): LagHistoryView {
    return this.#lag.view();
  }

  /** Newest first. */
  exceptions(): ExceptionRecord[] {
    return [...this.#exceptions].reverse();
  }

  /** Oldest first, over every run of the job in this service. */
  rescales(): RescaleRecord[] {
    return [...this.#rescales];
  }
}

function push<T>(list: T[], item: T): void {
  list.push(item);
  if (list.length > HISTORY) list.shift();
}

function describeError(error: unknown, at: number): Omit<ExceptionRecord, 'attempt' | 'restartInMs'> {
  const code = isSluiceError(error) ? error.code : undefined;
  const root = causeChain(error).filter((e) => isSluiceError(e)).at(-1);
  return {
    at,
    code,
    message: error instanceof Error ? error.message : String(error),
    stack: stackWithCauses(error),
    ...(root === undefined || root.code === code ? {} : { rootCode: root.code }),
    fatal: classifyFailure(error).fatal,
  };
}

function hitRatio(cache: StageMetrics['stateCache']): number | null {
  if (cache === undefined || cache.hits + cache.misses === 0) return null;
  return Math.round((cache.hits / (cache.hits + cache.misses)) * 1000) / 1000;
}

import { setMaxListeners } from 'node:events';
import { MessageChannel, type MessagePort, type ResourceLimits, type Worker } from 'node:worker_threads';
import type { JobParams } from '../api/index.ts';
import { isSluiceError, SluiceError } from '../errors/index.ts';
import { fromWireError, toWireError } from '../exchange/index.ts';
import { DEFAULT_CHANNEL_CAPACITY_BYTES, type AttemptSettings, type RunningAttempt } from '../exec/index.ts';
import type { PhysicalPlan } from '../graph/index.ts';
import type { Logger } from '../logging/index.ts';
import { PEER_FAILED } from './peer-channels.ts';
import { firstDifference, planFingerprint } from './plan-fingerprint.ts';
import { workerOf } from './placement.ts';
import { answerChainRead } from './chain-reads.ts';
import { restoredSubset } from './restored-subset.ts';
import { loadWorker, type BootedWorker } from './start-worker.ts';
import { workerBundle } from './worker-bundle.ts';
import { sharedWorkerPool } from './worker-pool.ts';
import { SubtaskHandle } from './subtask-handle.ts';
import { relayWorkerLog } from './worker-log.ts';
import type { FromWorker, ToWorker, WorkerSetup } from './worker-protocol.ts';
import { leavesMainThreadACore } from './worker-count.ts';

/**
 * Capacity of a channel between two workers. Larger than in-process (64 KiB) because a remote channel holds the
 * batches in flight too, and one batch of 1,000 ~100-byte records alone is ~100 KiB: runtime/exchange's throughput
 * bench needs room for 2–4 batches to keep both threads busy.
 */
export const DEFAULT_REMOTE_CHANNEL_CAPACITY_BYTES = 256 * 1024;

/** How long workers get to close their operators (sinks abort) after a failure before they are terminated. */
const STOP_GRACE_MS = 10_000;

export const WorkerErrorCodes = {
  /** Workers built a different plan than the main thread: the job's build function is not deterministic. */
  planNotDeterministic: 'SLUICE_PLAN_NOT_DETERMINISTIC',
  /** A worker thread died: an uncaught error, its resource limits, or a module that failed to load. */
  workerFailed: 'SLUICE_WORKER_FAILED',
  /** A worker thread exited while the attempt ran (`process.exit` in job code ends only its worker). */
  workerExited: 'SLUICE_WORKER_EXITED',
  /** A channel from another worker failed: the echo of that worker's failure, replaced by its own report. */
  peerFailed: PEER_FAILED,
  /** `workers` needs the job's module, an integer count, and no injected clock. */
  invalidOption: 'SLUICE_INVALID_OPTION',
} as const;

export interface WorkerAttemptOptions extends AttemptSettings {
  /** Number of worker threads, ≥ 1. */
  readonly workers: number;
  /** URL (file: href) of the module that default-exports the job: each worker imports it and builds the plan. */
  readonly jobModule: string;
  /** The params the plan was built with; workers build theirs with the same. */
  readonly params: JobParams;
  readonly channelCapacityBytes?: number | undefined;
  readonly remoteChannelCapacityBytes?: number | undefined;
  readonly resourceLimits?: ResourceLimits | undefined;
}

interface WorkerState {
  readonly index: number;
  readonly thread: Worker;
  fingerprint: string[] | undefined;
  /** Subtask messages sent before `start`: delivered right after it. */
  pending: ToWorker[] | undefined;
  /** Highest checkpoint whose `complete` this worker has queued as mail. */
  completeQueued: number;
  finished: boolean;
  /** Closed its operators (finished, failed or answered `stop`) or is gone. */
  settled: boolean;
}

/**
 * One attempt whose subtasks run on `workers` worker threads (issue 15): subtask `i` of every stage on worker
 * `i mod W`. Each worker imports the job module and builds the plan itself; the attempt starts only when every
 * worker's plan fingerprint equals this thread's (else it fails with `SLUICE_PLAN_NOT_DETERMINISTIC`, before any
 * source is opened). Checkpoints stay coordinated here: triggers and completions go to the workers, acknowledgements
 * with their snapshot bytes come back. Any failure — a subtask's error, an uncaught error or `process.exit` in a
 * worker, its resource limits — fails the whole attempt: workers close their operators, then all are terminated.
 *
 * @example
 * ```ts
 * const attempt = new WorkerAttempt({ plan, attempt: 0, logger, workers: 2, jobModule: pathToFileURL('jobs/count.ts').href, params });
 * await attempt.run();
 * ```
 */
export class WorkerAttempt implements RunningAttempt {
  readonly plan: PhysicalPlan;
  readonly attempt: number;
  readonly subtasks: readonly SubtaskHandle[];
  readonly #options: WorkerAttemptOptions;
  readonly #logger: Logger;
  readonly #abort = new AbortController();
  readonly #fingerprint: string[];
  #workers: WorkerState[] = [];
  #failure: unknown;
  #started = false;
  #wake: (() => void) | undefined;
  #maxUnacknowledgedBytes = 0;
  #terminating = false;
  /** Highest checkpoint whose completion was sent to the workers. */
  #completeSent = 0;
  /** `release-end`s waiting until every worker has queued the completion that precedes them. */
  #heldReleases: Array<{ worker: number; message: ToWorker }> = [];
  /** Subtask messages for each worker sent before it was spawned. */
  #beforeSpawn: ToWorker[][] = [];

  constructor(options: WorkerAttemptOptions) {
    if (!Number.isInteger(options.workers) || options.workers < 1) {
      throw new SluiceError(WorkerErrorCodes.invalidOption, `workers must be a positive integer (or 0 to run in-process), got ${String(options.workers)}`, { retriable: false });
    }
    this.plan = options.plan;
    this.attempt = options.attempt;
    this.#options = options;
    this.#logger = options.logger;
    this.#fingerprint = planFingerprint(options.plan);
    setMaxListeners(0, this.#abort.signal);
    const handles: SubtaskHandle[] = [];
    for (const stage of this.plan.stages) {
      const isSource = stage.operators[0]?.node.kind === 'source';
      for (let i = 0; i < stage.parallelism; i++) {
        const worker = workerOf(i, options.workers);
        handles.push(new SubtaskHandle({ stage: stage.index, index: i, parallelism: stage.parallelism, isSource, worker, send: (m) => this.#sendToSubtask(worker, m) }));
      }
    }
    this.subtasks = handles;
  }

  /**
   * The most bytes any channel between two workers had sent and not yet taken by its consumer, as of the workers'
   * latest metrics: credit-based flow control keeps it at most the remote channel capacity (or one larger batch).
   */
  get maxUnacknowledgedBytes(): number {
    return this.#maxUnacknowledgedBytes;
  }

  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  /** Starts the workers and resolves when every subtask finished; rejects with the first failure once all are gone. */
  async run(): Promise<void> {
    // Threads first: they boot on other cores while this one bundles the job (the first attempt of a job module).
    const pool = sharedWorkerPool();
    const booted = Array.from({ length: this.#options.workers }, () => pool.take(this.#options.resourceLimits));
    const bundle = await workerBundle(this.#options.jobModule, this.#logger).catch(async (err: unknown) => {
      await Promise.all(booted.map((w) => w.thread.terminate()));
      throw err;
    });
    if (this.#failure !== undefined) await Promise.all(booted.map((w) => w.thread.terminate()));
    else this.#spawn(booted, bundle);
    while (this.#failure === undefined && !this.#workers.every((w) => w.finished)) await this.#changed();
    if (this.#failure === undefined) {
      await this.#terminateAll();
      return;
    }
    const grace = setTimeout(() => this.#wake?.(), STOP_GRACE_MS);
    const deadline = Date.now() + STOP_GRACE_MS;
    while (!this.#workers.every((w) => w.settled) && Date.now() < deadline) await this.#changed();
    clearTimeout(grace);
    await this.#terminateAll();
    sharedWorkerPool().keepReady(this.#workers.length, this.#options.resourceLimits); // for the restart that follows
    throw this.#failure;
  }

  /** Fails the attempt: the first reason wins; every worker is asked to close its operators and then terminated. */
  fail(reason: unknown): void {
    if (this.#failure !== undefined) return;
    this.#failure = reason;
    this.#abort.abort(reason);
    for (const worker of this.#workers) if (!worker.settled) worker.thread.postMessage({ type: 'stop', reason: toWireError(reason) } satisfies ToWorker);
    this.#wake?.();
  }

  /**
   * A worker that died is the cause; its peers may have reported first that it vanished (their exchange with it
   * closed), and that report names no culprit. `run()` waits for every worker to settle — the dead one included —
   * before it throws, so the root cause replaces the echo in time (see {@link isEcho}).
   */
  #failWithRootCause(error: SluiceError): void {
    if (this.#terminating) return; // our own terminate() ends them
    if (this.#failure !== undefined && isEcho(this.#failure)) this.#failure = error;
    else this.fail(error);
  }

  cancel(message = 'job cancelled'): void {
    this.fail(new SluiceError('SLUICE_CANCELLED', message));
  }

  #changed(): Promise<void> {
    return new Promise((resolve) => (this.#wake = resolve));
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  #spawn(booted: readonly BootedWorker[], bundle: string | undefined): void {
    const n = this.#options.workers;
    // ports[a][b]: worker a's end of the channel between a and b.
    const ports: Array<Array<MessagePort | null>> = Array.from({ length: n }, () => new Array<MessagePort | null>(n).fill(null));
    for (let a = 0; a < n; a++) {
      for (let b = a + 1; b < n; b++) {
        const { port1, port2 } = new MessageChannel();
        (ports[a] as Array<MessagePort | null>)[b] = port1;
        (ports[b] as Array<MessagePort | null>)[a] = port2;
      }
    }
    const capacity = this.#options.channelCapacityBytes ?? DEFAULT_CHANNEL_CAPACITY_BYTES;
    const fullCheckpointsFromDeltas = leavesMainThreadACore(n);
    for (let w = 0; w < n; w++) {
      const peers = ports[w] as Array<MessagePort | null>;
      const setup: WorkerSetup = {
        jobModule: this.#options.jobModule,
        params: [...this.#options.params.entries()],
        parallelism: this.plan.parallelism,
        worker: w,
        workers: n,
        attempt: this.attempt,
        channelCapacityBytes: capacity,
        remoteChannelCapacityBytes: this.#options.remoteChannelCapacityBytes ?? Math.max(capacity, DEFAULT_REMOTE_CHANNEL_CAPACITY_BYTES),
        checkpointing: this.#options.checkpoints !== undefined,
        checkpointTiming: this.#options.checkpointTiming,
        ownerEpoch: this.#options.ownerEpoch,
        ownerLease: this.#options.ownerLease?.buffer,
        watermarkBoard: this.#options.watermarkBoard?.buffer,
        sourceStart: this.#options.sourceStart,
        fullCheckpointsFromDeltas,
        logLevel: this.#logger.level,
        peers,
      };
      const worker = booted[w] as BootedWorker;
      loadWorker(worker, bundle, setup, peers.filter((p): p is MessagePort => p !== null));
      const thread = worker.thread;
      const state: WorkerState = { index: w, thread, fingerprint: undefined, pending: this.#beforeSpawn[w] ?? [], completeQueued: 0, finished: false, settled: false };
      this.#workers.push(state);
      thread.on('message', (message: FromWorker) => this.#onMessage(state, message));
      const onError = (err: Error): void => {
        state.settled = true;
        this.#failWithRootCause(new SluiceError(WorkerErrorCodes.workerFailed, `worker ${w} of job "${this.plan.job}" failed: ${err.message}`, { cause: err, retriable: true }));
        this.#notify();
      };
      const onExit = (code: number): void => {
        state.settled = true;
        if (!state.finished) {
          this.#failWithRootCause(new SluiceError(WorkerErrorCodes.workerExited, `worker ${w} of job "${this.plan.job}" exited with code ${code} while the attempt ran (process.exit in job code ends its worker); restarting from the last checkpoint`, { retriable: true }));
        }
        this.#notify();
      };
      thread.on('error', onError);
      thread.on('exit', onExit);
      // Died before this attempt listened (while booting, or while the job was bundled): as if just now.
      if (worker.early.error !== undefined) onError(worker.early.error);
      else if (worker.early.exitCode !== undefined) onExit(worker.early.exitCode);
    }
  }

  #onMessage(worker: WorkerState, message: FromWorker): void {
    switch (message.type) {
      case 'read-chain':
        void this.#answerChainRead(worker, message);
        return;
      case 'plan':
        this.#onPlan(worker, message.fingerprint);
        return;
      case 'ack':
        this.#options.checkpoints?.acknowledge(message.ack);
        return;
      case 'complete-queued':
        worker.completeQueued = Math.max(worker.completeQueued, message.checkpointId);
        if (this.#heldReleases.length > 0 && this.#completionsQueued()) {
          for (const { worker: w, message: release } of this.#heldReleases.splice(0)) this.#post(w, release);
        }
        return;
      case 'source-finished': {
        const handle = this.#handle(message.stage, message.index);
        if (handle !== undefined) this.#options.checkpoints?.sourceFinished(handle);
        return;
      }
      case 'splits-changed':
        this.#options.onSplitsChanged?.(message.uid, message.change);
        return;
      case 'metrics':
        for (const row of message.rows) this.#handle(row[0], row[1])?.update(row);
        for (const [stage, index, lags] of message.lags) this.#handle(stage, index)?.updateLag(lags);
        for (const [stage, index, metrics] of message.connectors) this.#handle(stage, index)?.updateConnectorMetrics(metrics);
        this.#maxUnacknowledgedBytes = Math.max(this.#maxUnacknowledgedBytes, message.maxUnacknowledgedBytes);
        return;
      case 'log':
        relayWorkerLog(this.#logger, worker.index, message.line);
        return;
      case 'finished':
        for (const row of message.rows) this.#handle(row[0], row[1])?.update(row);
        for (const [stage, index, metrics] of message.connectors) this.#handle(stage, index)?.updateConnectorMetrics(metrics);
        this.#maxUnacknowledgedBytes = Math.max(this.#maxUnacknowledgedBytes, message.maxUnacknowledgedBytes);
        worker.finished = true;
        worker.settled = true;
        this.#notify();
        return;
      case 'failed': {
        // Its operators are still closing: settled once `closed` follows.
        const error = fromWireError(message.error);
        if (this.#failure !== undefined && isEcho(this.#failure) && !isEcho(error) && !this.#terminating) this.#failure = error;
        else this.fail(error);
        this.#notify();
        return;
      }
      case 'closed':
        worker.settled = true;
        this.#notify();
        return;
    }
  }

  #onPlan(worker: WorkerState, fingerprint: string[]): void {
    worker.fingerprint = fingerprint;
    const difference = firstDifference(this.#fingerprint, fingerprint);
    if (difference !== undefined) {
      this.fail(
        new SluiceError(
          WorkerErrorCodes.planNotDeterministic,
          `job "${this.plan.job}" built a different plan in worker ${worker.index} than on the main thread: main has ${difference.expected}, worker ${worker.index} has ${difference.actual}. A job's build function must give the same plan every time it runs with the same params (no Math.random(), Date.now() or changing environment in uids, parallelism or keyBy); fix it, or run with --workers 0. (A job file edited on disk since the job was loaded gives this too: sluice submit --replace runs the edited version.)`,
          { retriable: false },
        ),
      );
      return;
    }
    if (this.#failure !== undefined || !this.#workers.every((w) => w.fingerprint !== undefined) || this.#started) return;
    this.#started = true;
    for (const w of this.#workers) {
      const restored = this.#options.restored === undefined ? undefined : restoredSubset(this.#options.restored, this.plan, w.index, this.#workers.length);
      w.thread.postMessage({ type: 'start', restored } satisfies ToWorker);
      for (const m of w.pending ?? []) w.thread.postMessage(m);
      w.pending = undefined;
    }
  }

  /** Sends a worker the restored chain it asked for (chain-reads.ts); a failed attempt's workers are stopping. */
  async #answerChainRead(worker: WorkerState, request: Extract<FromWorker, { type: 'read-chain' }>): Promise<void> {
    const { reply, transfer } = await answerChainRead(this.#options.restored, request);
    if (this.#failure === undefined && !worker.settled) worker.thread.postMessage(reply satisfies ToWorker, transfer);
  }

  /**
   * In-process, the coordinator's completion of the final checkpoint is queued as mail in every subtask before any
   * source releases its end, so a sink commits before the end reaches it. Across threads, the end travels from the
   * source's worker over the exchange and could overtake main's `complete` to the sink's worker; so a `release-end`
   * waits until every running worker has queued that completion.
   */
  #sendToSubtask(worker: number, message: ToWorker): void {
    if (message.type === 'complete') this.#completeSent = Math.max(this.#completeSent, message.checkpointId);
    if (message.type === 'release-end' && !this.#completionsQueued()) {
      this.#heldReleases.push({ worker, message });
      return;
    }
    this.#post(worker, message);
  }

  #completionsQueued(): boolean {
    return this.#workers.every((w) => w.settled || w.completeQueued >= this.#completeSent);
  }

  #post(worker: number, message: ToWorker): void {
    if (this.#failure !== undefined) return;
    const state = this.#workers[worker];
    if (state === undefined) {
      // Not spawned yet (the bundle is being built): delivered with the other messages sent before `start`.
      (this.#beforeSpawn[worker] ??= []).push(message);
      return;
    }
    if (state.pending !== undefined) state.pending.push(message);
    else if (!state.settled) state.thread.postMessage(message);
  }

  #handle(stage: number, index: number): SubtaskHandle | undefined {
    return this.subtasks.find((s) => s.stage === stage && s.index === index);
  }

  async #terminateAll(): Promise<void> {
    this.#terminating = true;
    await Promise.all(this.#workers.map((w) => w.thread.terminate()));
  }
}

/**
 * A failure that only reports another worker's: its channels failed with that worker's error (`PEER_FAILED`), or its
 * exchange with a worker that vanished closed. The failing worker reports its own error too (before it closes
 * anything), or its thread's exit or error arrives, and `run()` waits for both before it throws; whichever reaches
 * this thread first, the root cause is what the attempt fails with.
 */
function isEcho(err: unknown): boolean {
  return isSluiceError(err, PEER_FAILED) || isSluiceError(err, 'SLUICE_EXCHANGE_DISCONNECTED');
}

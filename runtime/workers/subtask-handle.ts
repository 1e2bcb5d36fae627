import { SubtaskMetrics, type AttemptSubtask, type OperatorConnectorMetrics } from '../exec/index.ts';
import type { SplitLag } from '../api/index.ts';
import type { LagRow, MetricsRow, ToWorker } from './worker-protocol.ts';

/**
 * A subtask that runs in a worker, as the checkpoint coordinator and the runner see it on the main thread: calls
 * become messages to its worker (which runs them as mail there), and its metrics are the latest the worker sent.
 */
export class SubtaskHandle implements AttemptSubtask {
  readonly stage: number;
  readonly index: number;
  readonly name: string;
  readonly isSource: boolean;
  readonly worker: number;
  readonly metrics = new SubtaskMetrics();
  readonly #send: (message: ToWorker) => void;
  #lag: readonly SplitLag[] | undefined;
  #connectorMetrics: readonly OperatorConnectorMetrics[] = [];

  constructor(options: { stage: number; index: number; parallelism: number; isSource: boolean; worker: number; send: (message: ToWorker) => void }) {
    this.stage = options.stage;
    this.index = options.index;
    this.isSource = options.isSource;
    this.worker = options.worker;
    this.name = `stage ${options.stage} subtask ${options.index + 1}/${options.parallelism} (worker ${options.worker})`;
    this.#send = options.send;
  }

  triggerCheckpoint(checkpointId: number): void {
    this.#send({ type: 'trigger', stage: this.stage, index: this.index, checkpointId });
  }

  completeCheckpoint(checkpointId: number): void {
    this.#send({ type: 'complete', stage: this.stage, index: this.index, checkpointId });
  }

  releaseEnd(): void {
    this.#send({ type: 'release-end', stage: this.stage, index: this.index });
  }

  /** As of the worker's latest metrics (its reader computes it there). */
  sourceLag(): readonly SplitLag[] | undefined {
    return this.#lag;
  }

  /** Takes the per-split lag the worker sent for this source subtask. */
  updateLag(lags: LagRow[2]): void {
    this.#lag = lags.map(([split, lag, position]) => (position === undefined ? { split, lag } : { split, lag, position }));
  }

  /** As of the worker's latest metrics. */
  connectorMetrics(): readonly OperatorConnectorMetrics[] {
    return this.#connectorMetrics;
  }

  /** Takes what the worker sent of the subtask's connector metrics. */
  updateConnectorMetrics(metrics: readonly OperatorConnectorMetrics[]): void {
    this.#connectorMetrics = metrics;
  }

  /** Takes a metrics row the worker sent for this subtask. */
  update(row: MetricsRow): void {
    const m = this.metrics;
    m.recordsIn = row[2];
    m.recordsOut = row[3];
    m.backpressuredMs = row[4];
    m.backpressured = row[5] === 1;
    m.sourcePauses = row[6];
    m.finished = row[7] === 1;
    m.lateRecordsDropped = row[8];
    m.activeMs = row[9];
    m.idleMs = row[10];
    m.inputQueuedBytes = row[11];
    m.lastAlignmentMs = row[12];
    m.alignmentMs = row[13];
    m.inputWatermark = row[14];
    m.recordsSkipped = row[15];
    m.opened = row[16] === 1;
    m.aligned = row[17] === 1;
    m.alignmentPaused = row[18] === 1;
    m.alignmentPausedSplits = row[19];
  }
}

import type { MessagePort } from 'node:worker_threads';
import type { CheckpointTiming, SplitsChange } from '../api/index.ts';
import type { WireError } from '../exchange/index.ts';
import type { OperatorConnectorMetrics, SubtaskAck } from '../exec/index.ts';
import type { RestoredSubset } from './restored-subset.ts';

/**
 * The control protocol between a `WorkerAttempt` (main thread) and its workers, over each worker's own port
 * (`worker.postMessage` / `parentPort`); records never travel here, they go through runtime/exchange on one
 * MessageChannel per pair of workers.
 *
 * 1. Main starts worker `w` with {@link WorkerSetup}. The worker imports the job module, builds the plan with the same
 *    params and parallelism and sends `plan` (its fingerprint). Nothing has been opened yet.
 * 2. Once every fingerprint equals main's, main sends `start` (with the worker's part of the restored state: its key
 *    groups' numbers, not their chains). The worker builds and opens its subtasks and runs them; a keyed subtask
 *    restoring asks for each of its chains with `read-chain`, and main answers `chain` (chain-reads.ts).
 * 3. While running: main → worker `trigger`, `complete`, `release-end` for one subtask; worker → main `ack` (snapshot
 *    bytes transferred), `source-finished`, `splits-changed`, `metrics` (counters and source lag, every
 *    {@link METRICS_INTERVAL_MS}), `log`.
 * 4. The worker ends with `finished` (all its subtasks reached the end and closed, last metrics included), or sends
 *    `failed` the moment a subtask fails (before closing anything, so the root cause reaches main ahead of the peers
 *    that fail because their channels to it failed) and `closed` once its subtasks are closed with outcome `failed`.
 *    Main answers any failure by sending `stop` to every worker; a worker closes its subtasks and answers `closed`.
 *    Then main terminates every worker.
 */
export interface WorkerSetup {
  readonly jobModule: string;
  readonly params: ReadonlyArray<[string, string]>;
  readonly parallelism: number;
  readonly worker: number;
  readonly workers: number;
  readonly attempt: number;
  readonly channelCapacityBytes: number;
  readonly remoteChannelCapacityBytes: number;
  readonly checkpointing: boolean;
  readonly checkpointTiming: CheckpointTiming | undefined;
  readonly ownerEpoch: number | undefined;
  /** Cluster mode: the job's owner lease (OwnerLease.buffer), shared with the main thread that keeps it. */
  readonly ownerLease: SharedArrayBuffer | undefined;
  /** The attempt's `WatermarkBoard` (watermark alignment), when a source has an alignment. */
  readonly watermarkBoard: SharedArrayBuffer | undefined;
  readonly sourceStart: 'earliest' | 'latest' | undefined;
  /**
   * Heap subtasks send deltas for full checkpoints (`leavesMainThreadACore`): decided once per attempt on the main
   * thread, which reads the process's usable cores, so every worker follows the same answer.
   */
  readonly fullCheckpointsFromDeltas: boolean;
  readonly logLevel: string;
  /** One port per peer worker, indexed by the peer's number; `null` at this worker's own index. */
  readonly peers: ReadonlyArray<MessagePort | null>;
}

export const METRICS_INTERVAL_MS = 250;

/** `[stage, subtask, recordsIn, recordsOut, backpressuredMs, backpressured (0/1), sourcePauses, finished (0/1), lateRecordsDropped, activeMs, idleMs, inputQueuedBytes, lastAlignmentMs, alignmentMs, inputWatermark (NaN: none), recordsSkipped, opened (0/1), aligned (0/1), alignmentPaused (0/1), alignmentPausedSplits]` */
export type MetricsRow = [number, number, number, number, number, number, number, number, number, number, number, number, number, number, number, number, number, number, number, number];

/** Per-split lag of one source subtask: `[stage, subtask, [[split, lag], …]]` (only readers that can tell). */
export type LagRow = [number, number, Array<[split: string, lag: number, position?: number]>];

/** What the connectors of one subtask's operators measured: `[stage, subtask, [{ uid, metrics }, …]]` (only subtasks with some). */
export type ConnectorRow = [number, number, OperatorConnectorMetrics[]];

export type ToWorker =
  | { readonly type: 'start'; readonly restored: RestoredSubset | undefined }
  | { readonly type: 'trigger'; readonly stage: number; readonly index: number; readonly checkpointId: number }
  | { readonly type: 'complete'; readonly stage: number; readonly index: number; readonly checkpointId: number }
  | { readonly type: 'release-end'; readonly stage: number; readonly index: number }
  | { readonly type: 'stop'; readonly reason: WireError }
  /** The answer to `read-chain`: the chain (its buffer transferred), or why it could not be read. */
  | { readonly type: 'chain'; readonly id: number; readonly chain: Uint8Array | undefined; readonly error: WireError | undefined };

export type FromWorker =
  | { readonly type: 'plan'; readonly fingerprint: string[] }
  /** A subtask's backend restoring: the chain of one key group of operator `uid` (chain-reads.ts). */
  | { readonly type: 'read-chain'; readonly id: number; readonly uid: string; readonly keyGroup: number }
  | { readonly type: 'ack'; readonly ack: SubtaskAck }
  /** A `complete` was queued as mail for its subtask (see `WorkerAttempt`: the end of input waits for this). */
  | { readonly type: 'complete-queued'; readonly checkpointId: number }
  | { readonly type: 'source-finished'; readonly stage: number; readonly index: number }
  | { readonly type: 'splits-changed'; readonly uid: string; readonly change: SplitsChange }
  | { readonly type: 'metrics'; readonly rows: MetricsRow[]; readonly lags: LagRow[]; readonly connectors: ConnectorRow[]; readonly maxUnacknowledgedBytes: number }
  | { readonly type: 'log'; readonly line: string }
  | { readonly type: 'finished'; readonly rows: MetricsRow[]; readonly connectors: ConnectorRow[]; readonly maxUnacknowledgedBytes: number }
  | { readonly type: 'failed'; readonly error: WireError }
  | { readonly type: 'closed' };

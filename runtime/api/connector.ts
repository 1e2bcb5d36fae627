import type { ConnectorMetric } from './connector-metrics.ts';
import type { Logger } from '../logging/index.ts';
import type { Clock } from '../time/index.ts';

/**
 * The contracts connectors implement. The runtime knows `Source`, `SourceReader`, `Sink` and `SinkWriter`; it never
 * sees a Kafka consumer or an Elasticsearch client.
 */

/** A split's resumable position: opaque to the runtime, msgpack-serialisable (Kafka: the next offset). */
export interface SplitPosition {
  /** Stable identity of the split, e.g. `orders-3` for partition 3 of topic `orders`. */
  readonly split: string;
  /** What the reader needs to resume the split; the runtime stores it in checkpoints as it is. */
  readonly position: unknown;
}

/** What a source reader is told when a subtask opens it. */
export interface SourceReaderContext {
  /** The job's name. */
  readonly job: string;
  /** This reader's subtask index, from 0. */
  readonly subtask: number;
  /** How many subtasks the source runs with. */
  readonly parallelism: number;
  /**
   * Positions from the checkpoint being restored, for *all* splits of this source (from every old subtask), or
   * `undefined` on a fresh start. A reader takes the splits it owns and starts them here; a split owned but absent
   * starts where the source's `startFrom` says.
   */
  readonly restoredPositions: ReadonlyMap<string, unknown> | undefined;
  /**
   * Set when the user asked to reprocess from the start (`sluice checkpoint clear`) or skip to the end
   * (`sluice checkpoint catch-up`): every owned split starts there, whatever `startFrom` says. Restored positions are
   * then `undefined`, but operator state is still restored.
   */
  readonly startOverride?: 'earliest' | 'latest';
  /** True when the job takes checkpoints: {@link SourceReader.snapshotState} is then called on every barrier. */
  readonly checkpointing: boolean;
  /** The job's checkpoint and restart timing, when it checkpoints (see {@link SinkWriterContext.checkpointTiming}). */
  readonly checkpointTiming?: CheckpointTiming;
  /**
   * What {@link SourceReader.snapshotState} returned in the restored checkpoint, one entry per old subtask that
   * returned something (rescaling may change their number), or `undefined` on a fresh start.
   */
  readonly restoredState: readonly unknown[] | undefined;
  /** The job's logger (pino), with the source's uid and subtask bound. */
  readonly logger: Logger;
  /** Processing time: the system clock, or a test's manual clock. Use it for timeouts and retries. */
  readonly clock: Clock;
  /** Aborted when the attempt stops (failure, cancel, rescale). */
  readonly signal: AbortSignal;
  /**
   * Tells the runtime that the source's set of splits changed (Kafka: partitions added, a topic matching the pattern
   * created or deleted). The runtime applies the job's rescale policy: under `fixed` the readers keep running and pick
   * up the splits they own themselves; other policies may restart the job at a new parallelism. Every subtask may
   * report the same change; the runtime ignores repeats.
   */
  readonly reportSplitsChanged: (change: SplitsChange) => void;
}

/** A change in the splits a source reads, as seen by its discovery. */
export interface SplitsChange {
  /** Number of splits now (Kafka: partitions over all matched topics). */
  readonly splits: number;
  /** Split ids that appeared. */
  readonly added: readonly string[];
  /** Split ids that disappeared (Kafka: a deleted topic's partitions). */
  readonly removed: readonly string[];
}

/** How far one split's reader is behind the end of the split (Kafka: high watermark − next offset). */
export interface SplitLag {
  /** The split id (as in {@link SplitPosition.split}). */
  readonly split: string;
  /** Records (Kafka: offsets) between the reader's position and the end of the split. */
  readonly lag: number;
  /** The next position the reader reads, when it is a number (Kafka: the next offset); for metrics. */
  readonly position?: number;
}

/**
 * Reads the splits one source subtask owns. Modelled on Flink's SourceReader: `poll()` is synchronous and never
 * waits, so the runtime can put a checkpoint barrier between any two batches and `positions()` always matches what
 * has been handed out.
 */
export interface SourceReader<T> {
  /** Starts fetching (connect, seek). */
  start(): Promise<void>;
  /**
   * The next non-empty batch, `null` when nothing is ready now (then the runtime awaits {@link available}), or
   * {@link END_OF_INPUT} when every owned split is exhausted (bounded sources only).
   */
  poll(): readonly T[] | null | typeof END_OF_INPUT;
  /** Resolves when `poll()` may return something (data, end of input, or an error to throw). */
  available(): Promise<void>;
  /** Positions after the last batch returned by `poll()`, for every owned split. */
  positions(): SplitPosition[];
  /**
   * The split the batch last returned by `poll()` came from, for readers whose every batch comes from one split.
   * With it, event time keeps a watermark per split (a Kafka partition) and takes their minimum, so a reader of
   * several splits that each are in order, but not with each other, gives correct watermarks. Its ids are those
   * of {@link positions}.
   */
  polledSplit?(): string;
  /** Lag of every owned split, for status and metrics; absent when the source cannot tell. */
  lag?(): SplitLag[];
  /**
   * Watermark alignment, per split: the reader stops handing out (and, where it can, fetching) records of the splits
   * in `splits` until a later call leaves them out; each call names every split to keep paused (an empty set resumes
   * all). Positions of paused splits stay where the last batch left them. While every split with records left is
   * paused, `poll()` returns `null` (not the end of input) and {@link available} need not resolve until the next
   * call. Without it, alignment pauses the whole subtask only, when all its splits are ahead.
   */
  pauseSplits?(splits: ReadonlySet<string>): void;
  /**
   * Called on barrier `checkpointId` right after {@link positions}: state the reader keeps besides its positions
   * (msgpack-serialisable), stored in that checkpoint and handed back as `restoredState`. The Kafka source keeps its
   * dead-letter sink's pre-committed transactions here. Return `undefined` for nothing.
   */
  snapshotState?(checkpointId: number): Promise<unknown>;
  /**
   * The checkpoint that recorded these positions is durable (Kafka: commit offsets for lag tooling, commit the dead
   * letters' transaction).
   */
  notifyCheckpointComplete?(checkpointId: number): Promise<void>;
  /**
   * Stops fetching and releases connections; called once when the attempt ends, whatever its outcome. Backpressure
   * needs no call: a reader whose buffer is not polled stops fetching when it is full.
   */
  close(): Promise<void>;
}

/** Returned by {@link SourceReader.poll} when a bounded source has no more records. */
export const END_OF_INPUT: unique symbol = Symbol('sluice.endOfInput');

/**
 * A source of records. `createReader` is called once per source subtask per attempt.
 *
 * @example
 * ```ts
 * const numbers: Source<number> = collection([1, 2, 3], { splits: 2 });
 * ```
 */
export interface Source<T> {
  /** Short name for logs and the plan (`datagen`, `kafka`). */
  readonly name: string;
  /** What the source reads (or writes: dead letters, committed offsets) outside the job; see {@link ConnectorEndpoint}. */
  readonly endpoints?: readonly ConnectorEndpoint[];
  /** True when the source ends by itself (then the job finishes when all records are processed). */
  readonly bounded: boolean;
  /** Largest parallelism that gives every subtask work, if known up front (number of splits). */
  readonly maxUsefulParallelism?: number;
  /**
   * Counts the source's splits now (Kafka: partitions of the matched topics). The runtime asks before the first
   * attempt to choose the parallelism under the `match` and `divisor` rescale policies.
   */
  splitCount?(options: { logger: Logger }): Promise<number>;
  /** A reader for one source subtask of one attempt; the runtime starts, polls and closes it. */
  createReader(context: SourceReaderContext): SourceReader<T>;
}

/** What a sink writer is told when a subtask opens it. */
export interface SinkWriterContext {
  /** The job's name. */
  readonly job: string;
  /** This writer's subtask index, from 0. */
  readonly subtask: number;
  /** How many subtasks the sink runs with. */
  readonly parallelism: number;
  /** Restart counter of this run of the job (0 for the first attempt); lets writers name attempt-specific resources. */
  readonly attempt: number;
  /** True when the job takes checkpoints: writers then commit on `commit(n)`, otherwise on `finish()`. */
  readonly checkpointing: boolean;
  /**
   * The job's checkpoint and restart timing, when it checkpoints: how long a pre-committed transaction may have to
   * wait for its commit (a transactional sink checks its own timeout against it).
   */
  readonly checkpointTiming?: CheckpointTiming;
  /**
   * Operator state returned by `preCommit` of the restored checkpoint, from every old subtask (rescaling may change
   * their number), or `undefined` on a fresh start. Writers re-commit what it lists and abort anything else the
   * failed attempt left open.
   */
  readonly restoredState: readonly unknown[] | undefined;
  /**
   * `dead-letters` when the writer takes a source's dead letters rather than the job's output. Sinks that derive
   * names from the job (the exactly-once Kafka sink's transactional ids) keep the two apart by it.
   */
  readonly role?: 'output' | 'dead-letters' | 'late-records';
  /**
   * Cluster mode (docs/cluster.md): the epoch of this member's ownership of the job, higher for every new owner.
   * Sinks that cannot fence through transactions use it to refuse a stale owner's writes (the Elasticsearch sink
   * writes it as an external document version). `undefined` outside cluster mode.
   */
  readonly ownerEpoch?: number;
  /**
   * Cluster mode: whether this member may still act as the job's owner, answered from shared memory in any thread. A
   * member stopped past its group session (a long pause, SIGSTOP) runs on for a moment when it resumes, before it
   * has stopped its jobs; a sink that takes over shared resources — the exactly-once Kafka sink initialising its
   * transactional ids, which aborts what their current holder has open — asks first and fails instead when this is
   * false. `undefined` outside cluster mode.
   *
   * @example
   * ```ts
   * if (context.stillOwner?.() === false) throw new SluiceError('SLUICE_CLUSTER_NOT_OWNER', 'another member owns this job now');
   * ```
   */
  readonly stillOwner?: () => boolean;
  /** The job's logger (pino), with the sink's uid and subtask bound. */
  readonly logger: Logger;
  /** Processing time: the system clock, or a test's manual clock. Use it for timeouts and retries. */
  readonly clock: Clock;
  /** Aborted when the attempt stops (failure, cancel, rescale): pass it to requests so they stop too. */
  readonly signal: AbortSignal;
}

/** See {@link SinkWriterContext.checkpointTiming}. */
export interface CheckpointTiming {
  /** `checkpoints.intervalMs` of the job. */
  readonly intervalMs: number;
  /** `checkpoints.timeoutMs` of the job (default 10 min). */
  readonly timeoutMs: number;
  /** Longest delay the job's restart strategy may wait before an attempt (exponential-delay: `maxDelayMs`). */
  readonly maxRestartDelayMs: number;
}

/**
 * Writes one sink subtask's records. The two-phase protocol: `preCommit(n)` on barrier `n` makes everything written
 * so far durable-but-pending and returns the state to store in checkpoint `n`; `commit(n)` once checkpoint `n` is
 * complete. An at-least-once writer flushes in `preCommit` and ignores `commit`.
 */
export interface SinkWriter<T> {
  /** Opens connections, re-commits restored transactions, aborts leftovers. */
  start(): Promise<void>;
  /**
   * Takes a batch of records, in order. Return a promise to hold the subtask back until the batch is accepted
   * (backpressure); records written before barrier `n` belong to checkpoint `n`.
   */
  write: (records: readonly T[]) => void | Promise<void>;
  /**
   * On barrier `checkpointId`: makes everything written so far durable but not yet visible (a flushed transaction, a
   * pending file) and returns what `commit` and a restored attempt need to finish it (msgpack-serialisable), stored
   * in the checkpoint.
   */
  preCommit(checkpointId: number): Promise<unknown>;
  /**
   * Checkpoint `checkpointId` is durable: make what its `preCommit` covered visible. A failure can come between the
   * two, and a restored attempt's `start()` then commits what the checkpoint lists: committing twice must be harmless.
   */
  commit(checkpointId: number): Promise<void>;
  /** End of input: flush, and commit when the job does not checkpoint. */
  finish(): Promise<void>;
  /**
   * Releases resources; `failed` = the attempt failed, so abort the transaction still open for records after the last
   * barrier. Transactions already pre-committed are left alone: the checkpoint that lists them may still be stored
   * while the attempt tears down, and the next attempt's `start()` commits or aborts them from its restored state.
   */
  close(outcome: 'finished' | 'failed' | 'cancelled'): Promise<void>;
  /**
   * What the writer measured so far (requests, retries, latency…), exported as Prometheus metrics labelled with the
   * job, the sink's uid and the subtask (docs/observability.md). Read a few times a second: return counters kept
   * as the writer works, never compute them here.
   */
  metrics?(): readonly ConnectorMetric[];
}

/**
 * A system or path outside the job that a source or sink reads or writes. Tools that must keep a job's runs away from
 * production read these: `sluice verify` refuses, before it runs, a job that would touch any Kafka, Elasticsearch or
 * path but its devstack's and its run's own directory. Connectors that touch nothing outside the process (generated
 * and in-memory sources, the console and collect sinks) list none; a connector of your own that reads or writes
 * elsewhere should list where.
 *
 * @example
 * ```ts
 * const rows: Sink<Row> = {
 *   name: 'rows',
 *   endpoints: [{ system: 'files', path: directory }],
 *   createWriter: (context) => new RowFileWriter(directory, context),
 * };
 * ```
 */
export type ConnectorEndpoint =
  | { readonly system: 'kafka'; readonly brokers: readonly string[] }
  | { readonly system: 'elasticsearch'; readonly nodes: readonly string[] }
  /** A file or a directory (relative paths are relative to the process's working directory). */
  | { readonly system: 'files'; readonly path: string };

/**
 * A destination for records. `createWriter` is called once per sink subtask per attempt.
 *
 * @example
 * ```ts
 * const out = collectSink<number>();
 * ```
 */
export interface Sink<T> {
  /** Short name for logs and the plan (`kafka`, `elasticsearch`). */
  readonly name: string;
  /** Where the sink writes outside the job; see {@link ConnectorEndpoint}. */
  readonly endpoints?: readonly ConnectorEndpoint[];
  /** A writer for one sink subtask of one attempt; the runtime starts it, writes to it, and closes it. */
  createWriter(context: SinkWriterContext): SinkWriter<T>;
}

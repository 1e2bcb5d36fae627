import type { RestartStrategyConfig } from '../failover/index.ts';
import type { RescaleOptions } from '../rescale/index.ts';
import { JobParams } from './job-params.ts';
import type { LogicalNode } from './logical-graph.ts';
import { GraphRecorder, StreamEnvironment } from './stream.ts';

/** Periodic checkpoint settings (docs/checkpoints.md). */
export interface CheckpointOptions {
  /** Time between checkpoint triggers. */
  intervalMs: number;
  /** Least time between the end of one checkpoint and the start of the next; default 0. */
  minPauseMs?: number;
  /** A checkpoint not complete after this long is declared failed; default 10 minutes. */
  timeoutMs?: number;
  /** Completed checkpoints kept (savepoints are kept until deleted); default 3. */
  retain?: number;
  /**
   * Write only the keyed state that changed since the previous checkpoint (Flink's incremental checkpoints): a
   * checkpoint of a job with large state then costs about what changed, not all of it. Restores read each key
   * group's last full blob and the deltas after it; savepoints and exports are always full. Default false on the
   * heap backend, true on the LevelDB backend. With false every checkpoint stands alone, at the cost of writing all
   * of the state each time; LevelDB subtasks, and heap ones on worker threads that leave the main thread a core,
   * still send only what changed, and the store merges it into full blobs one key group at a time. See
   * docs/checkpoints.md.
   *
   * @example
   * ```ts
   * defineJob({ name: 'sessions', checkpoints: { intervalMs: 1000, incremental: true } }, (env) => …);
   * ```
   */
  incremental?: boolean;
}

/**
 * Where keyed state lives (docs/state-backends.md). `heap` (the default) keeps every key's state in the JavaScript
 * heap: fastest, bounded by memory. `leveldb` keeps it in a local LevelDB per operator subtask behind a heap cache of
 * `cacheBytes`: state may be many times the heap, at the cost of a synchronous disk read per cache miss. Both write
 * the same checkpoints, so a job can switch backends across a restart from a checkpoint or savepoint.
 *
 * @example
 * ```ts
 * defineJob({ name: 'profiles', state: { backend: 'leveldb', cacheBytes: 128 << 20 }, checkpoints: { intervalMs: 10_000, incremental: true } }, (env) => …);
 * ```
 */
export interface StateBackendOptions {
  /**
   * `'heap'`: state as objects in the heap (the default). `'leveldb'`: state in a local LevelDB behind a bounded
   * cache, for state larger than memory (docs/state-backends.md).
   */
  backend: 'heap' | 'leveldb';
  /** LevelDB only: estimated heap bytes of cached state per operator subtask; default 64 MiB. */
  cacheBytes?: number;
  /**
   * LevelDB only: the local folder under which each operator subtask's working database is created (and removed
   * when its attempt ends); default the OS temp folder. Use a local disk with room for the state.
   */
  directory?: string;
  /**
   * LevelDB only: how many files each working database may keep open (LevelDB's `max_open_files`, 74–50,000;
   * default 1000). Each open table holds a file descriptor and its index and filter in memory (~50–100 KiB); a
   * lower value bounds that at a cost in throughput: a cache miss may reopen a table. (While LevelDB still mapped its
   * tables into memory, 128 gave a peak RSS of 766 MiB against 1071 MiB at 10M keys, at 0.64× the update rate; tables
   * are now read, not mapped, and the default peaks near 500 MiB.) See docs/state-backends.md.
   *
   * @example
   * ```ts
   * defineJob({ name: 'profiles', state: { backend: 'leveldb', maxOpenFiles: 128 } }, (env) => …);
   * ```
   */
  maxOpenFiles?: number;
}

/** Options of a job, set in `defineJob` and partly overridable from the command line. */
export interface JobOptions {
  /** Unique name; checkpoints and the job registry are keyed by it. Letters, digits, `.`, `_`, `-`. */
  name: string;
  /** Default parallelism of every operator; default 1. */
  parallelism?: number;
  /** Number of key groups; fixed for the life of the job's state; default 128. */
  maxParallelism?: number;
  /** Capacity of each channel between subtasks, in bytes; default 64 KiB (see `DEFAULT_CHANNEL_CAPACITY_BYTES`). */
  channelCapacityBytes?: number;
  /**
   * Worker threads the subtasks run on (subtask `i` of every stage on worker `i mod workers`), capped by the largest
   * stage parallelism; 0 runs every subtask in the main thread. Default: one per core the process may use (a
   * container's CPU limit counts, docs/workers.md) when the job comes from a module file (`sluice run`,
   * `sluice submit`, JobRunner's `jobModule`), else 0. Each worker imports the job's module, so its build function
   * must be deterministic (docs/workers.md).
   */
  workers?: number;
  /** Where keyed state lives; default `{ backend: 'heap' }`. */
  state?: StateBackendOptions;
  /** Checkpointing; off when absent or `false`. */
  checkpoints?: CheckpointOptions | false;
  /** What to do when an attempt fails; default exponential-delay when checkpointing is on, else none. */
  restart?: RestartStrategyConfig;
  /**
   * How parallelism follows the source's partitions when they change (docs/rescaling.md); default
   * `{ policy: 'fixed' }`: keep the parallelism and assign new partitions to the running subtasks.
   */
  rescale?: RescaleOptions;
}

/** The function that builds a job's graph. It runs at plan time, once per plan. */
export type JobBuilder = (env: StreamEnvironment, params: JobParams) => void;

/** A job as a module default-exports it. */
export interface JobDefinition {
  /** Marks what {@link defineJob} returned. */
  readonly kind: 'sluice.job';
  /** The job's options, as given to {@link defineJob}. */
  readonly options: Readonly<JobOptions>;
  /** The function that builds the job's graph. */
  readonly build: JobBuilder;
}

/**
 * Defines a job. A job module default-exports the result.
 *
 * @example
 * ```ts
 * export default defineJob({ name: 'wordcount', parallelism: 2 }, (env) => {
 *   env.source(collection(['a b', 'b c']))
 *     .flatMap((line) => line.split(' '))
 *     .map((word) => ({ word, count: 1 }))
 *     .keyBy((w) => w.word)
 *     .reduce((a, b) => ({ word: a.word, count: a.count + b.count }))
 *     .sink(consoleSink());
 * });
 * ```
 */
export function defineJob(options: JobOptions, build: JobBuilder): JobDefinition {
  return { kind: 'sluice.job', options: Object.freeze({ ...options }), build };
}

/**
 * True when `value` looks like what {@link defineJob} returns (used when loading job modules).
 *
 * @example
 * ```ts
 * const { default: job } = await import('./jobs/orders.ts');
 * if (!isJobDefinition(job)) throw new Error('jobs/orders.ts must export default defineJob(...)');
 * ```
 */
export function isJobDefinition(value: unknown): value is JobDefinition {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as { kind?: unknown }).kind === 'sluice.job' &&
    typeof (value as { build?: unknown }).build === 'function'
  );
}

/** Runs a job's build function and returns the logical nodes it recorded. */
export function recordLogicalGraph(job: JobDefinition, params: JobParams = new JobParams()): LogicalNode[] {
  const recorder = new GraphRecorder();
  job.build(new StreamEnvironment(recorder), params);
  return recorder.nodes;
}

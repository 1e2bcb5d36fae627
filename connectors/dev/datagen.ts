import { END_OF_INPUT, type Source, type SourceReader, type SourceReaderContext, type SplitPosition } from '../../runtime/api/index.ts';
import { SluiceError } from '../../runtime/errors/index.ts';
import { ownsSplit } from './split-ownership.ts';

/** Options of {@link datagen}. */
export interface DatagenOptions<T> {
  /** Builds record number `index` (0-based, global). Must be deterministic for replays to be exact. */
  record: (index: number) => T;
  /** Records in total; omit for an unbounded source. */
  count?: number;
  /** Number of splits; records are dealt out in contiguous ranges (bounded) or by `index % splits` (unbounded). */
  splits?: number;
  /** Records per second across all splits; omit for as fast as downstream takes them. */
  ratePerSecond?: number;
  /** Records per batch; default 1,000. */
  batchSize?: number;
}

interface SplitCursor {
  readonly split: number;
  /** Next index to produce (a global record index). */
  next: number;
  /** One past the last index of a bounded split. */
  readonly end: number;
  /** Index step: 1 for a contiguous range, `splits` for an interleaved unbounded split. */
  readonly step: number;
}

/**
 * A deterministic generator source: record `i` is always `record(i)`, so a replay from a checkpoint produces exactly
 * the same records. Positions are the next index of each split.
 *
 * @example
 * ```ts
 * env.source(datagen({ count: 1_000_000, splits: 4, record: (i) => ({ user: `u${i % 1000}`, amount: i % 7 }) }));
 * ```
 */
export function datagen<T>(options: DatagenOptions<T>): Source<T> {
  const splits = options.splits ?? 1;
  const batchSize = options.batchSize ?? 1000;
  if (typeof options.record !== 'function') throw invalid('record', 'a function (index) => record');
  if (!Number.isInteger(splits) || splits < 1) throw invalid('splits', 'a positive integer', splits);
  if (!Number.isInteger(batchSize) || batchSize < 1) throw invalid('batchSize', 'a positive integer', batchSize);
  if (options.count !== undefined && (!Number.isInteger(options.count) || options.count < 0)) {
    throw invalid('count', 'a non-negative integer', options.count);
  }
  if (options.ratePerSecond !== undefined && !(options.ratePerSecond > 0)) {
    throw invalid('ratePerSecond', 'a positive number', options.ratePerSecond);
  }
  return {
    name: 'datagen',
    bounded: options.count !== undefined,
    maxUsefulParallelism: splits,
    createReader: (context) => new DatagenReader(options, splits, batchSize, context),
  };
}

function invalid(option: string, expected: string, got?: unknown): SluiceError {
  return new SluiceError('SLUICE_INVALID_OPTION', `datagen option "${option}" must be ${expected}${got === undefined ? '' : `, got ${String(got)}`}`, { retriable: false });
}

class DatagenReader<T> implements SourceReader<T> {
  readonly #record: (index: number) => T;
  readonly #batchSize: number;
  readonly #cursors: SplitCursor[] = [];
  readonly #context: SourceReaderContext;
  readonly #ratePerMs: number | undefined;
  #turn = 0;
  /** Split of the batch `poll()` returned last. */
  #polledSplit = 0;
  #startedAt = 0;
  #emitted = 0;
  /** Splits paused by watermark alignment (their ids), and what wakes a wait for one to resume. */
  #paused: ReadonlySet<string> = new Set();
  #resumed: { promise: Promise<void>; resolve: () => void } | undefined;

  constructor(options: DatagenOptions<T>, splits: number, batchSize: number, context: SourceReaderContext) {
    this.#record = options.record;
    this.#batchSize = batchSize;
    this.#context = context;
    const count = options.count;
    let owned = 0;
    for (let s = 0; s < splits; s++) {
      if (!ownsSplit(s, context.subtask, context.parallelism)) continue;
      owned++;
      const start = count === undefined ? s : Math.floor((s * count) / splits);
      const end = count === undefined ? Number.POSITIVE_INFINITY : Math.floor(((s + 1) * count) / splits);
      const restored = context.restoredPositions?.get(`datagen-${s}`);
      // `latest` skips what a bounded split has left; an unbounded split has no backlog, so it starts as usual.
      const first = context.startOverride === 'latest' && Number.isFinite(end) ? end : typeof restored === 'number' ? restored : start;
      this.#cursors.push({ split: s, next: first, end, step: count === undefined ? splits : 1 });
    }
    this.#ratePerMs = options.ratePerSecond === undefined ? undefined : (options.ratePerSecond * owned) / splits / 1000;
  }

  async start(): Promise<void> {
    this.#startedAt = this.#context.clock.now();
  }

  poll(): readonly T[] | null | typeof END_OF_INPUT {
    const cursors = this.#cursors;
    let limit = this.#batchSize;
    if (this.#ratePerMs !== undefined) {
      const allowed = Math.floor((this.#context.clock.now() - this.#startedAt) * this.#ratePerMs) - this.#emitted;
      if (allowed <= 0) return this.#exhausted() ? END_OF_INPUT : null;
      limit = Math.min(limit, allowed);
    }
    let paused = false;
    for (let tried = 0; tried < cursors.length; tried++) {
      const cursor = cursors[this.#turn] as SplitCursor;
      this.#turn = (this.#turn + 1) % cursors.length;
      if (cursor.next >= cursor.end) continue;
      if (this.#paused.size > 0 && this.#paused.has(`datagen-${cursor.split}`)) {
        paused = true;
        continue;
      }
      const n = Math.min(limit, Math.ceil((cursor.end - cursor.next) / cursor.step));
      const out = new Array<T>(n);
      const record = this.#record;
      let index = cursor.next;
      for (let i = 0; i < n; i++, index += cursor.step) out[i] = record(index);
      cursor.next = index;
      this.#emitted += n;
      this.#polledSplit = cursor.split;
      return out;
    }
    return paused ? null : END_OF_INPUT;
  }

  pauseSplits(splits: ReadonlySet<string>): void {
    this.#paused = new Set(splits);
    this.#resumed?.resolve();
    this.#resumed = undefined;
  }

  available(): Promise<void> {
    if (this.#paused.size > 0 && this.#cursors.every((c) => c.next >= c.end || this.#paused.has(`datagen-${c.split}`))) {
      // Everything left is paused: nothing comes until alignment resumes a split.
      if (this.#resumed === undefined) {
        let resolve!: () => void;
        const promise = new Promise<void>((r) => (resolve = r));
        this.#resumed = { promise, resolve };
      }
      return this.#resumed.promise;
    }
    if (this.#ratePerMs === undefined) return Promise.resolve();
    // Wait for roughly one batch worth of tokens (at least 1 ms) instead of spinning.
    const wait = Math.max(1, Math.min(100, this.#batchSize / this.#ratePerMs / 10));
    return this.#context.clock.sleep(wait, this.#context.signal).catch(() => undefined);
  }

  positions(): SplitPosition[] {
    return this.#cursors.map((c) => ({ split: `datagen-${c.split}`, position: c.next }));
  }

  polledSplit(): string {
    return `datagen-${this.#polledSplit}`;
  }

  async close(): Promise<void> {}

  #exhausted(): boolean {
    return this.#cursors.every((c) => c.next >= c.end);
  }
}

import { ASYNC_MAP_DEFAULTS, type AsyncMapOptions } from '../../api/async-map.ts';
import { SluiceError } from '../../errors/index.ts';
import { packValue } from '../../serde/index.ts';
import type { Clock, TimerHandle } from '../../time/index.ts';
import { ChainedOperator, type Downstream, type OperatorPlace, type OperatorSnapshot } from './chained-operator.ts';

/** One input in flight: asked for, answered (or timed out, or skipped), not yet emitted. */
interface InFlight<I, O> {
  readonly record: I;
  readonly timestamp: number | undefined;
  state: 'running' | 'done' | 'skipped';
  result: O | undefined;
  readonly abort: AbortController;
  timer: TimerHandle | undefined;
}

/** What a checkpoint keeps of an input in flight: the record and its event time, to ask again after a restore. */
type StoredInFlight = [record: unknown, timestamp: number | null];

/** One subtask's operator state: its records in flight, in input order, and where they were. */
interface StoredState {
  readonly subtask: number;
  readonly parallelism: number;
  readonly records: StoredInFlight[];
}

/**
 * `asyncMap`: calls an async function per record with up to `concurrency` records in flight, emits the results in
 * input order (or as they come), and keeps the records in flight in its checkpoints.
 *
 * Everything that touches the rest of the chain runs on the subtask's turn: a result that arrives while the subtask
 * is busy elsewhere is emitted by a mail (`post`), between two batches; one that arrives while `process` waits for
 * room is emitted by `process` itself (the subtask is waiting on it, so nothing else runs). A checkpoint stores
 * the records not yet emitted and forwards the barrier at once: their results go out after the barrier, and a
 * restore from that checkpoint asks for them again (Flink's AsyncWaitOperator does the same).
 */
export class AsyncMapOperator<I, O> extends ChainedOperator<I> {
  readonly #fn: (value: I, signal: AbortSignal) => Promise<O>;
  readonly #next: Downstream<O>;
  readonly #clock: Clock;
  readonly #post: (mail: () => Promise<void> | void) => void;
  readonly #concurrency: number;
  readonly #timeoutMs: number;
  readonly #onTimeout: NonNullable<AsyncMapOptions<I, O>['onTimeout']>;
  readonly #ordered: boolean;
  readonly #restored: readonly unknown[] | undefined;
  /** In input order; ordered mode emits from the head only. */
  #queue: InFlight<I, O>[] = [];
  #failure: unknown;
  #mailPosted = false;
  /** Resolves the wait of `process`/`finish` on the next answer. */
  #wake: (() => void) | undefined;
  #closed = false;

  constructor(
    place: OperatorPlace,
    fn: (value: I, signal: AbortSignal) => Promise<O>,
    options: AsyncMapOptions<I, O>,
    context: { readonly clock: Clock; readonly post: (mail: () => Promise<void> | void) => void; readonly restored: readonly unknown[] | undefined },
    next: Downstream<O>,
  ) {
    super(place, next as Downstream<unknown>);
    this.#fn = fn;
    this.#next = next;
    this.#clock = context.clock;
    this.#post = context.post;
    this.#restored = context.restored;
    this.#concurrency = options.concurrency ?? ASYNC_MAP_DEFAULTS.concurrency;
    this.#timeoutMs = options.timeoutMs ?? ASYNC_MAP_DEFAULTS.timeoutMs;
    this.#onTimeout = options.onTimeout ?? ASYNC_MAP_DEFAULTS.onTimeout;
    this.#ordered = (options.order ?? ASYNC_MAP_DEFAULTS.order) === 'ordered';
  }

  /**
   * Asks again for the records the restored checkpoint had in flight, before any new input. At the same parallelism
   * each subtask takes back its own, in their order, so ordered mode keeps each input's order across a restart.
   * After a rescale the records are dealt out round-robin: each once, but not necessarily to the subtask that now
   * reads their source split.
   */
  override async open(): Promise<void> {
    const states = (this.#restored ?? []) as StoredState[];
    const { subtask, parallelism } = this.place;
    if (states.every((s) => s.parallelism === parallelism)) {
      for (const state of states) if (state.subtask === subtask) for (const [record, timestamp] of state.records) this.#start(record as I, timestamp ?? undefined);
      return;
    }
    const stored = [...states].sort((a, b) => a.subtask - b.subtask).flatMap((s) => s.records);
    for (let n = subtask; n < stored.length; n += parallelism) {
      const [record, timestamp] = stored[n] as StoredInFlight;
      this.#start(record as I, timestamp ?? undefined);
    }
  }

  process(records: readonly I[], timestamps?: readonly number[]): Promise<void> | undefined {
    this.#throwIfFailed();
    let i = 0;
    while (i < records.length && this.#queue.length < this.#concurrency) {
      this.#start(records[i] as I, timestamps?.[i]);
      i++;
    }
    if (i === records.length) return undefined;
    // Full: wait for answers, emitting them here (the subtask is waiting on this batch), then start the rest.
    return (async () => {
      while (i < records.length) {
        if (!this.#hasReady()) await this.#answered();
        await this.#emitReady();
        while (i < records.length && this.#queue.length < this.#concurrency) {
          this.#start(records[i] as I, timestamps?.[i]);
          i++;
        }
      }
    })();
  }

  /** Waits until every record before the watermark is emitted, then passes it on. */
  override processWatermark(watermark: number): Promise<void> | undefined {
    if (this.#queue.length === 0) return this.#next.processWatermark(watermark);
    return this.#drain().then(() => this.#next.processWatermark(watermark));
  }

  override async snapshot(_checkpointId: number): Promise<OperatorSnapshot> {
    this.#throwIfFailed();
    // Answered records that ordered mode still holds are stored too: after a restore they are asked for again.
    const records: StoredInFlight[] = this.#queue.filter((e) => e.state !== 'skipped').map((e) => [e.record, e.timestamp ?? null]);
    if (records.length === 0) return {};
    const state: StoredState = { subtask: this.place.subtask, parallelism: this.place.parallelism, records };
    return { operator: packValue(state) };
  }

  override async finish(): Promise<void> {
    await this.#drain();
  }

  override async close(_outcome: 'finished' | 'failed' | 'cancelled'): Promise<void> {
    this.#closed = true;
    for (const entry of this.#queue) this.#settle(entry);
    this.#queue = [];
  }

  #start(record: I, timestamp: number | undefined): void {
    const entry: InFlight<I, O> = { record, timestamp, state: 'running', result: undefined, abort: new AbortController(), timer: undefined };
    this.#queue.push(entry);
    // The verdict waits for the event loop's check phase: after a stall of the process (load, a long GC), the timer
    // may fire together with the answer's own due timer or arrived I/O, and Node runs due timers list by list, so a
    // timeout due later can run before an answer due earlier. Deferred, everything that was due runs first, and an
    // answer that came in time is kept (seen: a 0–19 ms lookup timed out at 150 ms on a loaded machine).
    entry.timer = this.#clock.setTimeout(() => setImmediate(() => this.#timedOut(entry)), this.#timeoutMs);
    let pending: Promise<O>;
    try {
      pending = Promise.resolve(this.#fn(record, entry.abort.signal));
    } catch (err) {
      pending = Promise.reject(err);
    }
    pending.then(
      (result) => {
        if (entry.state !== 'running' || this.#closed) return;
        this.#settle(entry);
        entry.state = 'done';
        entry.result = result;
        this.#onAnswer();
      },
      (err: unknown) => {
        if (entry.state !== 'running' || this.#closed) return;
        this.#settle(entry);
        try {
          this.skipOrFail(err, record);
          entry.state = 'skipped';
        } catch (failure) {
          this.#failure ??= failure;
        }
        this.#onAnswer();
      },
    );
  }

  #timedOut(entry: InFlight<I, O>): void {
    if (entry.state !== 'running' || this.#closed) return;
    this.#settle(entry);
    const onTimeout = this.#onTimeout;
    if (onTimeout === 'skip') {
      entry.state = 'skipped';
      this.skipOrFail(new Error(`timed out after ${this.#timeoutMs} ms`), entry.record, true);
    } else if (onTimeout === 'fail') {
      this.#failure ??= this.fail(
        new SluiceError('SLUICE_ASYNC_TIMEOUT', `a record took longer than timeoutMs (${this.#timeoutMs} ms); raise timeoutMs, or set onTimeout to 'skip' or to a function giving a fallback output`),
      );
    } else {
      try {
        entry.result = onTimeout(entry.record);
        entry.state = 'done';
      } catch (err) {
        this.#failure ??= this.fail(err, 'failed in onTimeout');
      }
    }
    this.#onAnswer();
  }

  /** Stops the record's timer and aborts its function's signal (a no-op once it answered). */
  #settle(entry: InFlight<I, O>): void {
    if (entry.timer !== undefined) this.#clock.clearTimeout(entry.timer);
    entry.timer = undefined;
    entry.abort.abort(new SluiceError('SLUICE_CANCELLED', 'no longer waited for'));
  }

  /** An answer came: wake a waiting `process`/`finish`, else have the subtask emit it between batches. */
  #onAnswer(): void {
    const wake = this.#wake;
    if (wake !== undefined) {
      this.#wake = undefined;
      wake();
      return;
    }
    if (this.#mailPosted) return;
    this.#mailPosted = true;
    this.#post(() => {
      this.#mailPosted = false;
      return this.#emitReady();
    });
  }

  /** Whether `#emitReady` would emit or drop something now. */
  #hasReady(): boolean {
    const queue = this.#queue;
    if (this.#ordered) return queue.length > 0 && (queue[0] as InFlight<I, O>).state !== 'running';
    return queue.some((e) => e.state !== 'running');
  }

  #answered(): Promise<void> {
    return new Promise<void>((resolve) => (this.#wake = resolve));
  }

  /** Sends what is ready downstream: the answered head of the queue (ordered), or every answered record. */
  #emitReady(): Promise<void> | undefined {
    this.#throwIfFailed();
    const out: O[] = [];
    const outTimestamps: number[] = [];
    let timed = false;
    const take = (entry: InFlight<I, O>): void => {
      if (entry.state !== 'done') return;
      out.push(entry.result as O);
      if (entry.timestamp !== undefined) timed = true;
      outTimestamps.push(entry.timestamp ?? 0);
    };
    if (this.#ordered) {
      let n = 0;
      while (n < this.#queue.length && (this.#queue[n] as InFlight<I, O>).state !== 'running') take(this.#queue[n++] as InFlight<I, O>);
      if (n > 0) this.#queue = this.#queue.slice(n);
    } else if (this.#hasReady()) {
      const running: InFlight<I, O>[] = [];
      for (const entry of this.#queue) {
        if (entry.state === 'running') running.push(entry);
        else take(entry);
      }
      this.#queue = running;
    }
    if (out.length === 0) return undefined;
    return this.#next.process(out, timed ? outTimestamps : undefined);
  }

  /** Waits until every record in flight was answered and emitted. */
  async #drain(): Promise<void> {
    for (;;) {
      await this.#emitReady();
      if (this.#queue.length === 0) return;
      // Checked and awaited in one turn: an answer that came while emitReady waited is in the queue, not missed.
      if (!this.#hasReady()) await this.#answered();
    }
  }

  #throwIfFailed(): void {
    if (this.#failure !== undefined) throw this.#failure;
  }
}

import type { KeyedProcessContext, StateDeclarations, TimerService } from '../../api/index.ts';
import { OPERATOR_HOOKS, type OperatorHooks } from '../../api/operator-hooks.ts';
import type { DueTimer, StateKey } from '../../state/index.ts';
import { withTtl, type ExpiringState } from '../../state/ttl/ttl-handles.ts';
import type { Clock } from '../../time/index.ts';
import { emitToSideOutput, type Downstream, type OperatorPlace } from './chained-operator.ts';
import { KeyedOperator, type KeyedSetup } from './keyed-operator.ts';

type AnyContext = KeyedProcessContext<StateKey, unknown, StateDeclarations>;

/**
 * Keys of TTL'd state whose expiry is looked for after each batch, per record of the batch (Flink's incremental
 * cleanup checks 5 per state access): enough to keep up with keys that come and go, cheap next to the records.
 */
const TTL_SWEEP_PER_RECORD = 4;

/** A declared state with a time-to-live: its handle, and how the backend's sweep removes what expired of a key. */
interface ExpiringDeclaration {
  readonly name: string;
  readonly afterMs: number;
  readonly handle: ExpiringState;
  /** For a map or a list, whose entries expire one by one: checks the key through the handle. */
  readonly expireKey: ((key: StateKey) => boolean) | undefined;
}

/** A per-record function of a keyed process operator: `processElement`, or one input's of a connected pair. */
export type ElementFn = (value: unknown, ctx: AnyContext) => unknown;

export interface KeyedProcessSpec {
  readonly state?: StateDeclarations;
  onTimer?(timestamp: number, ctx: AnyContext): unknown;
}

/** The context object handed to the user's function; one per operator, updated per record or timer. */
interface MutableContext {
  key: StateKey;
  timestamp: number | undefined;
  timeDomain: 'event-time' | 'processing-time' | undefined;
  readonly state: Record<string, unknown>;
  readonly timers: TimerService;
  emit(value: unknown): void;
  output(name: string, value: unknown): void;
  readonly [OPERATOR_HOOKS]: OperatorHooks;
}

/**
 * Keyed `process`: the user's function with declared state, processing-time timers, event-time timers and side
 * outputs. One context object is reused for every record (its `key` and `timestamp` are updated), so calling the
 * function allocates nothing on our side. An output gets the timestamp of the record that produced it, or of the
 * event-time timer that fired (Flink's semantics); outputs of processing-time timers carry none.
 *
 * Subclasses with several inputs (runtime/exec/operators/connected-operators.ts) run each input's function through
 * {@link processWith}, with that input's key selector, against the same state and timers.
 */
export class KeyedProcessOperator<I> extends KeyedOperator<I> {
  readonly #spec: KeyedProcessSpec;
  readonly #processElement: ElementFn;
  readonly #next: Downstream<unknown>;
  /** The context user functions get; subclasses add fields to it (broadcast state). */
  protected readonly ctx: MutableContext;
  #out: unknown[] = [];
  /** The event times of `#out` so far (some may still be missing: see `processWith`); undefined without event time. */
  #outTimestamps: number[] | undefined;
  /** The declared states with a time-to-live, and the clock their expiry is measured on. */
  readonly #expiring: ReadonlyArray<ExpiringDeclaration>;
  readonly #clock: Clock;
  /**
   * The processing time TTL'd state is judged and stamped at: read once per batch of records or timers, not per
   * access (two clock reads per record were ~9 % of a TTL'd count). A batch takes milliseconds.
   */
  #ttlNow = 0;

  constructor(place: OperatorPlace, setup: KeyedSetup, spec: KeyedProcessSpec, processElement: ElementFn, clock: Clock, next: Downstream<unknown>) {
    super(place, setup, next);
    this.#spec = spec;
    this.#processElement = processElement;
    this.#next = next;
    this.#clock = clock;
    const state: Record<string, unknown> = {};
    const expiring: ExpiringDeclaration[] = [];
    for (const [name, decl] of Object.entries(spec.state ?? {})) {
      if (decl.ttl !== undefined) {
        const handle = withTtl(this.backend, name, decl.kind, () => this.#ttlNow, decl.ttl);
        state[name] = handle;
        // A value is removed with its key by the backend's sweep; a map's or a list's entries expire one by one, so
        // the sweep hands their keys to the handle.
        const expireKey =
          decl.kind === 'value'
            ? undefined
            : (key: StateKey): boolean => {
                this.backend.setCurrentKey(key);
                return handle.expireIfIdle();
              };
        expiring.push({ name, afterMs: decl.ttl.afterMs, handle, expireKey });
        continue;
      }
      state[name] =
        decl.kind === 'value'
          ? this.backend.getValueState(name)
          : decl.kind === 'map'
            ? this.backend.getMapState(name)
            : this.backend.getListState(name);
    }
    this.#expiring = expiring;
    const backend = this.backend;
    const timers: TimerService = {
      currentProcessingTime: () => clock.now(),
      registerProcessingTimeTimer: (timestamp) => backend.registerTimer(timestamp),
      deleteProcessingTimeTimer: (timestamp) => backend.deleteTimer(timestamp),
      currentWatermark: () => this.watermark,
      registerEventTimeTimer: (timestamp) => backend.registerEventTimeTimer(timestamp),
      deleteEventTimeTimer: (timestamp) => backend.deleteEventTimeTimer(timestamp),
    };
    this.ctx = {
      key: '',
      timestamp: undefined,
      timeDomain: undefined,
      state,
      timers,
      emit: (value) => void this.#out.push(value),
      output: (name, value) => emitToSideOutput(this.place, name, value, this.ctx.timestamp),
      [OPERATOR_HOOKS]: {
        emitAt: (value, timestamp, recordTimestamp) => {
          const out = this.#out;
          const stamps = this.#outTimestamps;
          if (stamps !== undefined) {
            while (stamps.length < out.length) stamps.push(recordTimestamp);
            stamps.push(timestamp);
          }
          out.push(value);
        },
        outputAt: (name, value, timestamp) => emitToSideOutput(this.place, name, value, timestamp),
        dropLate: (timestamp, why) => this.dropLate(timestamp, why),
      },
    };
  }

  process(records: readonly I[], timestamps?: readonly number[]): Promise<void> | undefined {
    return this.processWith(this.#processElement, this.keyOf as (value: unknown) => StateKey, records, timestamps);
  }

  /** Runs `fn` on each record with its key (from `keyOf`) as the current key, and sends what it returned or emitted. */
  protected processWith(fn: ElementFn, keyOf: (value: unknown) => StateKey, records: readonly unknown[], timestamps?: readonly number[]): Promise<void> | undefined {
    const out: unknown[] = (this.#out = []);
    const outTimestamps: number[] | undefined = (this.#outTimestamps = timestamps === undefined ? undefined : []);
    const ctx = this.ctx;
    ctx.timeDomain = undefined;
    const backend = this.backend;
    this.readTtlClock();
    let mark = 0;
    // The loop resumes after a skipped record (onError 'skip'): no try/catch per record on the path that does not throw.
    for (let i = 0; i < records.length; i++) {
      try {
        for (; i < records.length; i++) {
          mark = out.length;
          const record = records[i];
          const key = keyOf(record);
          backend.setCurrentKey(key);
          ctx.key = key;
          ctx.timestamp = timestamps?.[i];
          const result = fn(record, ctx as unknown as AnyContext);
          if (result !== undefined) out.push(result);
          if (outTimestamps !== undefined) {
            while (outTimestamps.length < out.length) outTimestamps.push(timestamps![i] as number);
          }
        }
      } catch (err) {
        this.skipOrFail(err, records[i]);
        // What the skipped record emitted before its function threw goes with it; state it changed stays changed.
        out.length = mark;
        if (outTimestamps !== undefined) outTimestamps.length = mark;
      }
    }
    if (this.#expiring.length > 0) this.#expireIdle(records.length);
    return this.send(out, outTimestamps);
  }

  /** Reads the time TTL'd state is judged at, before a batch that may use state (records, timers, broadcast records). */
  protected readTtlClock(): void {
    if (this.#expiring.length > 0) this.#ttlNow = this.#clock.now();
  }

  /**
   * Removes some expired keys of each TTL'd state: the heap backend sweeps its tables itself; the LevelDB backend
   * names keys a scan of its database found idle, and each one's handle removes its state if it did expire.
   */
  #expireIdle(records: number): void {
    const backend = this.backend;
    const budget = TTL_SWEEP_PER_RECORD * records;
    for (const { name, afterMs, handle, expireKey } of this.#expiring) {
      const cutoff = this.#ttlNow - afterMs;
      if (backend.expireIdle !== undefined) {
        backend.expireIdle(name, cutoff, budget, expireKey);
        continue;
      }
      // One key per record: checking a key no longer cached reads it (and its time) from disk, ~10 µs.
      for (const key of backend.idleKeys?.(name, cutoff, records) ?? []) {
        backend.setCurrentKey(key);
        handle.expireIfIdle();
      }
    }
  }

  /** Sends records a subclass's function produced outside {@link processWith} (a broadcast record's outputs). */
  protected send(out: unknown[], timestamps: number[] | undefined): Promise<void> | undefined {
    return out.length === 0 ? undefined : this.#next.process(out, timestamps);
  }

  override fireTimers(now: number): Promise<void> | undefined {
    const due = this.backend.pollDueTimers(now);
    if (due.length === 0) return undefined;
    return this.#fire(due, 'processing-time');
  }

  /** Fires the event-time timers the watermark reached, sends their output, then passes the watermark on. */
  override processWatermark(watermark: number): Promise<void> | undefined {
    if (!this.advanceWatermark(watermark)) return undefined;
    return this.#fireDueEventTimers(watermark);
  }

  /**
   * Fires every event-time timer at or before `watermark`, including those `onTimer` registers at or before it while
   * they fire (Flink's semantics: they fire in this advance, in timestamp order), then passes the watermark on.
   */
  #fireDueEventTimers(watermark: number): Promise<void> | undefined {
    for (;;) {
      // One timestamp at a time, so a timer onTimer registers before the next due timestamp fires before it.
      const next = this.backend.nextEventTimeTimerTimestamp();
      if (next === undefined || next > watermark) return this.#next.processWatermark(watermark);
      const pending = this.#fire(this.backend.pollDueEventTimeTimers(next), 'event-time');
      if (pending !== undefined) return pending.then(() => this.#fireDueEventTimers(watermark));
    }
  }

  #fire(due: readonly DueTimer[], domain: 'event-time' | 'processing-time'): Promise<void> | undefined {
    const out: unknown[] = (this.#out = []);
    const outTimestamps: number[] | undefined = (this.#outTimestamps = domain === 'event-time' ? [] : undefined);
    const ctx = this.ctx;
    ctx.timeDomain = domain;
    this.readTtlClock();
    const onTimer = this.#spec.onTimer;
    try {
      for (const timer of due) {
        if (onTimer === undefined) continue;
        this.backend.setCurrentKey(timer.key);
        ctx.key = timer.key;
        ctx.timestamp = domain === 'event-time' ? timer.timestamp : undefined;
        const result = onTimer.call(this.#spec, timer.timestamp, ctx as unknown as AnyContext);
        if (result !== undefined) out.push(result);
        if (outTimestamps !== undefined) {
          while (outTimestamps.length < out.length) outTimestamps.push(timer.timestamp);
        }
      }
    } catch (err) {
      throw this.fail(err, 'failed in onTimer');
    }
    return this.send(out, outTimestamps);
  }
}

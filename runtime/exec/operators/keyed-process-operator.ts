import type { KeyedProcessContext, StateDeclarations, TimerService } from '../../api/index.ts';
import { NO_WATERMARK } from '../../api/event-time.ts';
import type { DueTimer, StateKey } from '../../state/index.ts';
import type { Clock } from '../../time/index.ts';
import type { Downstream, OperatorPlace } from './chained-operator.ts';
import { KeyedOperator, type KeyedSetup } from './keyed-operator.ts';

type AnyContext = KeyedProcessContext<StateKey, unknown, StateDeclarations>;

interface KeyedProcessSpec {
  readonly state?: StateDeclarations;
  processElement(value: unknown, ctx: AnyContext): unknown;
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
}

/**
 * Keyed `process`: the user's function with declared state, processing-time timers and event-time timers. One
 * context object is reused for every record (its `key` and `timestamp` are updated), so calling the function
 * allocates nothing on our side. An output gets the timestamp of the record that produced it, or of the event-time
 * timer that fired (Flink's semantics); outputs of processing-time timers carry none.
 */
export class KeyedProcessOperator<I> extends KeyedOperator<I> {
  readonly #spec: KeyedProcessSpec;
  readonly #next: Downstream<unknown>;
  readonly #ctx: MutableContext;
  #out: unknown[] = [];
  #watermark = NO_WATERMARK;

  constructor(place: OperatorPlace, setup: KeyedSetup, spec: KeyedProcessSpec, clock: Clock, next: Downstream<unknown>) {
    super(place, setup, next);
    this.#spec = spec;
    this.#next = next;
    const state: Record<string, unknown> = {};
    for (const [name, decl] of Object.entries(spec.state ?? {})) {
      state[name] =
        decl.kind === 'value'
          ? this.backend.getValueState(name)
          : decl.kind === 'map'
            ? this.backend.getMapState(name)
            : this.backend.getListState(name);
    }
    const backend = this.backend;
    const timers: TimerService = {
      currentProcessingTime: () => clock.now(),
      registerProcessingTimeTimer: (timestamp) => backend.registerTimer(timestamp),
      deleteProcessingTimeTimer: (timestamp) => backend.deleteTimer(timestamp),
      currentWatermark: () => this.#watermark,
      registerEventTimeTimer: (timestamp) => backend.registerEventTimeTimer(timestamp),
      deleteEventTimeTimer: (timestamp) => backend.deleteEventTimeTimer(timestamp),
    };
    this.#ctx = { key: '', timestamp: undefined, timeDomain: undefined, state, timers, emit: (value) => void this.#out.push(value) };
  }

  process(records: readonly I[], timestamps?: readonly number[]): Promise<void> | undefined {
    const out: unknown[] = (this.#out = []);
    const outTimestamps: number[] | undefined = timestamps === undefined ? undefined : [];
    const ctx = this.#ctx;
    ctx.timeDomain = undefined;
    const backend = this.backend;
    const keyOf = this.keyOf;
    let mark = 0;
    // The loop resumes after a skipped record (onError 'skip'): no try/catch per record on the path that does not throw.
    for (let i = 0; i < records.length; i++) {
      try {
        for (; i < records.length; i++) {
          mark = out.length;
          const record = records[i] as I;
          const key = keyOf(record);
          backend.setCurrentKey(key);
          ctx.key = key;
          ctx.timestamp = timestamps?.[i];
          const result = this.#spec.processElement(record, ctx as unknown as AnyContext);
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
    return out.length === 0 ? undefined : this.#next.process(out, outTimestamps);
  }

  override fireTimers(now: number): Promise<void> | undefined {
    const due = this.backend.pollDueTimers(now);
    if (due.length === 0) return undefined;
    return this.#fire(due, 'processing-time');
  }

  /** Fires the event-time timers the watermark reached, sends their output, then passes the watermark on. */
  override processWatermark(watermark: number): Promise<void> | undefined {
    if (watermark <= this.#watermark) return undefined;
    this.#watermark = watermark;
    const due = this.backend.pollDueEventTimeTimers(watermark);
    const pending = due.length === 0 ? undefined : this.#fire(due, 'event-time');
    if (pending === undefined) return this.#next.processWatermark(watermark);
    return pending.then(() => this.#next.processWatermark(watermark));
  }

  #fire(due: readonly DueTimer[], domain: 'event-time' | 'processing-time'): Promise<void> | undefined {
    const out: unknown[] = (this.#out = []);
    const outTimestamps: number[] | undefined = domain === 'event-time' ? [] : undefined;
    const ctx = this.#ctx;
    ctx.timeDomain = domain;
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
    return out.length === 0 ? undefined : this.#next.process(out, outTimestamps);
  }
}

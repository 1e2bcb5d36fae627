import type { KeyedProcessContext, StateDeclarations, TimerService } from '../../api/index.ts';
import type { StateKey } from '../../state/index.ts';
import type { Clock } from '../../time/index.ts';
import type { Downstream, OperatorPlace } from './chained-operator.ts';
import { KeyedOperator, type KeyedSetup } from './keyed-operator.ts';

type AnyContext = KeyedProcessContext<StateKey, unknown, StateDeclarations>;

interface KeyedProcessSpec {
  readonly state?: StateDeclarations;
  processElement(value: unknown, ctx: AnyContext): unknown;
  onTimer?(timestamp: number, ctx: AnyContext): unknown;
}

/**
 * Keyed `process`: the user's function with declared state and processing-time timers. One context object is reused
 * for every record (its `key` is updated), so calling the function allocates nothing on our side.
 */
export class KeyedProcessOperator<I> extends KeyedOperator<I> {
  readonly #spec: KeyedProcessSpec;
  readonly #next: Downstream<unknown>;
  readonly #ctx: { key: StateKey; state: Record<string, unknown>; timers: TimerService; emit(value: unknown): void };
  #out: unknown[] = [];

  constructor(place: OperatorPlace, setup: KeyedSetup, spec: KeyedProcessSpec, clock: Clock, next: Downstream<unknown>) {
    super(place, setup);
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
    };
    this.#ctx = { key: '', state, timers, emit: (value) => void this.#out.push(value) };
  }

  process(records: readonly I[]): Promise<void> | undefined {
    const out: unknown[] = (this.#out = []);
    const ctx = this.#ctx;
    const backend = this.backend;
    const keyOf = this.keyOf;
    try {
      for (let i = 0; i < records.length; i++) {
        const record = records[i] as I;
        const key = keyOf(record);
        backend.setCurrentKey(key);
        ctx.key = key;
        const result = this.#spec.processElement(record, ctx as unknown as AnyContext);
        if (result !== undefined) out.push(result);
      }
    } catch (err) {
      throw this.fail(err);
    }
    return out.length === 0 ? undefined : this.#next.process(out);
  }

  override fireTimers(now: number): Promise<void> | undefined {
    const due = this.backend.pollDueTimers(now);
    if (due.length === 0) return undefined;
    const out: unknown[] = (this.#out = []);
    const ctx = this.#ctx;
    const onTimer = this.#spec.onTimer;
    try {
      for (const timer of due) {
        if (onTimer === undefined) continue;
        this.backend.setCurrentKey(timer.key);
        ctx.key = timer.key;
        const result = onTimer.call(this.#spec, timer.timestamp, ctx as unknown as AnyContext);
        if (result !== undefined) out.push(result);
      }
    } catch (err) {
      throw this.fail(err, 'failed in onTimer');
    }
    return out.length === 0 ? undefined : this.#next.process(out);
  }
}

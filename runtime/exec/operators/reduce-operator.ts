import type { ValueState } from '../../state/index.ts';
import type { Downstream, OperatorPlace } from './chained-operator.ts';
import { KeyedOperator, type KeyedSetup } from './keyed-operator.ts';

/**
 * Keyed `reduce`: folds each key's records into one value held in keyed state and emits the updated value for every
 * record. The hot path is one key selection, one `setCurrentKey` and a `Map` get + set per record.
 */
export class ReduceOperator<T> extends KeyedOperator<T> {
  readonly #fn: (accumulator: T, value: T) => T;
  readonly #next: Downstream<T>;
  readonly #state: ValueState<T>;

  constructor(place: OperatorPlace, setup: KeyedSetup, fn: (accumulator: T, value: T) => T, next: Downstream<T>) {
    super(place, setup, next as Downstream<unknown>);
    this.#fn = fn;
    this.#next = next;
    this.#state = this.backend.getValueState<T>('reduce');
  }

  process(records: readonly T[], timestamps?: readonly number[]): Promise<void> | undefined {
    const out = new Array<T>(records.length);
    const backend = this.backend;
    const state = this.#state;
    const keyOf = this.keyOf;
    const fn = this.#fn;
    try {
      for (let i = 0; i < records.length; i++) {
        const record = records[i] as T;
        backend.setCurrentKey(keyOf(record));
        const accumulator = state.value();
        const next = accumulator === undefined ? record : fn(accumulator, record);
        state.update(next);
        out[i] = next;
      }
    } catch (err) {
      throw this.fail(err);
    }
    return this.#next.process(out, timestamps);
  }
}

import type { ValueState } from '../../state/index.ts';
import { withoutSkipped, type Downstream, type OperatorPlace } from './chained-operator.ts';
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
    let skipped: number[] | undefined;
    // The loop resumes after a skipped record (onError 'skip'): no try/catch per record on the path that does not throw.
    for (let i = 0; i < records.length; i++) {
      try {
        for (; i < records.length; i++) {
          const record = records[i] as T;
          backend.setCurrentKey(keyOf(record));
          const accumulator = state.value();
          const next = accumulator === undefined ? record : fn(accumulator, record);
          state.update(next);
          out[i] = next;
        }
      } catch (err) {
        // The accumulator is updated only after the function returned: a skipped record leaves it as it was.
        this.skipOrFail(err, records[i]);
        (skipped ??= []).push(i);
      }
    }
    if (skipped === undefined) return this.#next.process(out, timestamps);
    const kept = withoutSkipped(out, timestamps, skipped);
    return kept.records.length === 0 ? undefined : this.#next.process(kept.records, kept.timestamps);
  }
}

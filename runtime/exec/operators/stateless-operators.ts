import { ChainedOperator, type Downstream, type OperatorPlace } from './chained-operator.ts';

/** `map`: one output per input. */
export class MapOperator<I, O> extends ChainedOperator<I> {
  readonly #fn: (value: I) => O;
  readonly #next: Downstream<O>;

  constructor(place: OperatorPlace, fn: (value: I) => O, next: Downstream<O>) {
    super(place);
    this.#fn = fn;
    this.#next = next;
  }

  process(records: readonly I[]): Promise<void> | undefined {
    const fn = this.#fn;
    const out = new Array<O>(records.length);
    try {
      for (let i = 0; i < records.length; i++) out[i] = fn(records[i] as I);
    } catch (err) {
      throw this.fail(err);
    }
    return this.#next.process(out);
  }
}

/** `filter`: keeps records for which the predicate holds; an emptied batch goes no further. */
export class FilterOperator<I> extends ChainedOperator<I> {
  readonly #fn: (value: I) => boolean;
  readonly #next: Downstream<I>;

  constructor(place: OperatorPlace, fn: (value: I) => boolean, next: Downstream<I>) {
    super(place);
    this.#fn = fn;
    this.#next = next;
  }

  process(records: readonly I[]): Promise<void> | undefined {
    const fn = this.#fn;
    const out: I[] = [];
    try {
      for (let i = 0; i < records.length; i++) {
        const record = records[i] as I;
        if (fn(record)) out.push(record);
      }
    } catch (err) {
      throw this.fail(err);
    }
    return out.length === 0 ? undefined : this.#next.process(out);
  }
}

/** `flatMap`: zero or more outputs per input. */
export class FlatMapOperator<I, O> extends ChainedOperator<I> {
  readonly #fn: (value: I) => Iterable<O>;
  readonly #next: Downstream<O>;

  constructor(place: OperatorPlace, fn: (value: I) => Iterable<O>, next: Downstream<O>) {
    super(place);
    this.#fn = fn;
    this.#next = next;
  }

  process(records: readonly I[]): Promise<void> | undefined {
    const fn = this.#fn;
    const out: O[] = [];
    try {
      for (let i = 0; i < records.length; i++) {
        const produced = fn(records[i] as I);
        if (Array.isArray(produced)) {
          for (let j = 0; j < produced.length; j++) out.push(produced[j] as O);
        } else {
          for (const value of produced) out.push(value);
        }
      }
    } catch (err) {
      throw this.fail(err);
    }
    return out.length === 0 ? undefined : this.#next.process(out);
  }
}

/** A non-keyed `process`: emits any number of records per input, or returns the one output. */
export class ProcessOperator<I, O> extends ChainedOperator<I> {
  readonly #fn: { processElement(value: I, ctx: { emit(value: O): void }): O | void };
  readonly #next: Downstream<O>;
  #out: O[] = [];
  readonly #ctx = { emit: (value: O): void => void this.#out.push(value) };

  constructor(place: OperatorPlace, fn: { processElement(value: I, ctx: { emit(value: O): void }): O | void }, next: Downstream<O>) {
    super(place);
    this.#fn = fn;
    this.#next = next;
  }

  process(records: readonly I[]): Promise<void> | undefined {
    const out: O[] = (this.#out = []);
    try {
      for (let i = 0; i < records.length; i++) {
        const result = this.#fn.processElement(records[i] as I, this.#ctx);
        if (result !== undefined) out.push(result);
      }
    } catch (err) {
      throw this.fail(err);
    }
    return out.length === 0 ? undefined : this.#next.process(out);
  }
}

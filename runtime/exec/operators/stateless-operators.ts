import { ChainedOperator, emitToSideOutput, withoutSkipped, type Downstream, type OperatorPlace } from './chained-operator.ts';

// Event time: each operator hands on the timestamps of its input records with their outputs (an output of a
// `flatMap` or `process` gets the timestamp of the input that produced it), as Flink's StreamRecord does.

/** `map`: one output per input. */
export class MapOperator<I, O> extends ChainedOperator<I> {
  readonly #fn: (value: I) => O;
  readonly #next: Downstream<O>;

  constructor(place: OperatorPlace, fn: (value: I) => O, next: Downstream<O>) {
    super(place, next as Downstream<unknown>);
    this.#fn = fn;
    this.#next = next;
  }

  process(records: readonly I[], timestamps?: readonly number[]): Promise<void> | undefined {
    const fn = this.#fn;
    const out = new Array<O>(records.length);
    let skipped: number[] | undefined;
    // The loop resumes after a skipped record: no try/catch per record on the path that does not throw.
    for (let i = 0; i < records.length; i++) {
      try {
        for (; i < records.length; i++) out[i] = fn(records[i] as I);
      } catch (err) {
        this.skipOrFail(err, records[i]);
        (skipped ??= []).push(i);
      }
    }
    if (skipped === undefined) return this.#next.process(out, timestamps);
    const kept = withoutSkipped(out, timestamps, skipped);
    return kept.records.length === 0 ? undefined : this.#next.process(kept.records, kept.timestamps);
  }
}

/** `filter`: keeps records for which the predicate holds; an emptied batch goes no further. */
export class FilterOperator<I> extends ChainedOperator<I> {
  readonly #fn: (value: I) => boolean;
  readonly #next: Downstream<I>;

  constructor(place: OperatorPlace, fn: (value: I) => boolean, next: Downstream<I>) {
    super(place, next as Downstream<unknown>);
    this.#fn = fn;
    this.#next = next;
  }

  process(records: readonly I[], timestamps?: readonly number[]): Promise<void> | undefined {
    const fn = this.#fn;
    const out: I[] = [];
    const outTimestamps: number[] | undefined = timestamps === undefined ? undefined : [];
    for (let i = 0; i < records.length; i++) {
      try {
        for (; i < records.length; i++) {
          const record = records[i] as I;
          if (fn(record)) {
            out.push(record);
            outTimestamps?.push(timestamps![i] as number);
          }
        }
      } catch (err) {
        this.skipOrFail(err, records[i]);
      }
    }
    return out.length === 0 ? undefined : this.#next.process(out, outTimestamps);
  }
}

/** `flatMap`: zero or more outputs per input. */
export class FlatMapOperator<I, O> extends ChainedOperator<I> {
  readonly #fn: (value: I) => Iterable<O>;
  readonly #next: Downstream<O>;

  constructor(place: OperatorPlace, fn: (value: I) => Iterable<O>, next: Downstream<O>) {
    super(place, next as Downstream<unknown>);
    this.#fn = fn;
    this.#next = next;
  }

  process(records: readonly I[], timestamps?: readonly number[]): Promise<void> | undefined {
    const fn = this.#fn;
    const out: O[] = [];
    const outTimestamps: number[] | undefined = timestamps === undefined ? undefined : [];
    let mark = 0;
    for (let i = 0; i < records.length; i++) {
      try {
        for (; i < records.length; i++) {
          mark = out.length;
          const produced = fn(records[i] as I);
          if (Array.isArray(produced)) {
            for (let j = 0; j < produced.length; j++) out.push(produced[j] as O);
          } else {
            for (const value of produced) out.push(value);
          }
          if (outTimestamps !== undefined) {
            const timestamp = timestamps![i] as number;
            while (outTimestamps.length < out.length) outTimestamps.push(timestamp);
          }
        }
      } catch (err) {
        this.skipOrFail(err, records[i]);
        // What an iterator yielded before it threw goes with the skipped record.
        out.length = mark;
        if (outTimestamps !== undefined) outTimestamps.length = mark;
      }
    }
    return out.length === 0 ? undefined : this.#next.process(out, outTimestamps);
  }
}

type ProcessFn<I, O> = { processElement(value: I, ctx: { emit(value: O): void; output(name: string, value: unknown): void }): O | void };

/** A non-keyed `process`: emits any number of records per input, or returns the one output; may emit to side outputs. */
export class ProcessOperator<I, O> extends ChainedOperator<I> {
  readonly #fn: ProcessFn<I, O>;
  readonly #next: Downstream<O>;
  #out: O[] = [];
  /** Event time of the record being processed, for what it emits to side outputs. */
  #timestamp: number | undefined;
  readonly #ctx = {
    emit: (value: O): void => void this.#out.push(value),
    output: (name: string, value: unknown): void => emitToSideOutput(this.place, name, value, this.#timestamp),
  };

  constructor(place: OperatorPlace, fn: ProcessFn<I, O>, next: Downstream<O>) {
    super(place, next as Downstream<unknown>);
    this.#fn = fn;
    this.#next = next;
  }

  process(records: readonly I[], timestamps?: readonly number[]): Promise<void> | undefined {
    const out: O[] = (this.#out = []);
    const outTimestamps: number[] | undefined = timestamps === undefined ? undefined : [];
    let mark = 0;
    for (let i = 0; i < records.length; i++) {
      try {
        for (; i < records.length; i++) {
          mark = out.length;
          this.#timestamp = timestamps?.[i];
          const result = this.#fn.processElement(records[i] as I, this.#ctx);
          if (result !== undefined) out.push(result);
          if (outTimestamps !== undefined) {
            const timestamp = timestamps![i] as number;
            while (outTimestamps.length < out.length) outTimestamps.push(timestamp);
          }
        }
      } catch (err) {
        this.skipOrFail(err, records[i]);
        // What the skipped record emitted before its function threw goes with it.
        out.length = mark;
        if (outTimestamps !== undefined) outTimestamps.length = mark;
      }
    }
    return out.length === 0 ? undefined : this.#next.process(out, outTimestamps);
  }
}


/**
 * Side outputs: besides its main output, a process function may emit to named outputs it declares up front, each a
 * typed stream of its own (Flink's OutputTag). Declaring them lets the plan validator reject an output nobody reads
 * (its records would be lost) and gives `ctx.output` its types.
 */

/** A declared side output carrying records of type `V`. The type parameter only carries the type. */
export interface OutputDeclaration<V = unknown> {
  /** Marks the declaration; the type parameter carries the output's record type. */
  readonly kind: 'output';
  /** Phantom field for type inference; never set. */
  readonly __value?: V;
}

/**
 * Declares a side output of a process function.
 *
 * @example
 * ```ts
 * const checked = orders.keyBy((o) => o.customerId).process({
 *   outputs: { suspicious: sideOutput<Order>() },
 *   processElement(order, ctx) {
 *     if (order.total > 10_000) ctx.output('suspicious', order);
 *     else return order;
 *   },
 * });
 * checked.sideOutput('suspicious').sink(review);
 * ```
 */
export function sideOutput<V>(): OutputDeclaration<V> {
  return { kind: 'output' };
}

/**
 * The `outputs` of a `process` spec: each name maps to {@link sideOutput}, and is read with `.sideOutput(name)`.
 */
export type OutputDeclarations = Record<string, OutputDeclaration>;

/** The record type of a declared side output. */
export type OutputValue<D> = D extends OutputDeclaration<infer V> ? V : never;

/** What `ctx.output` accepts: one of the function's declared outputs and a record of its type. */
export type OutputEmitter<O extends OutputDeclarations> = <N extends keyof O & string>(name: N, value: OutputValue<O[N]>) => void;

/**
 * A record an operator's function threw on, as its error output (`.errors()`) carries it: the input record, what was
 * thrown, and where.
 */
export interface FailedRecord<T> {
  /** The record the function threw on, as it came in. */
  readonly record: T;
  /** The uid of the operator whose function threw. */
  readonly operator: string;
  /** What the function threw. */
  readonly error: {
    readonly name: string;
    readonly message: string;
    /** The SluiceError code, when the error has one. */
    readonly code?: string;
  };
}

/** The internal name of an operator's error output; user-declared names cannot start with "!". */
export const ERROR_OUTPUT = '!errors';

/** The internal name of a window's late-records output (`.lateRecords()`). */
export const LATE_OUTPUT = '!late';

/** The internal name of an interval join's late left records (`.lateRecords('left')`). */
export const LATE_LEFT_OUTPUT = '!late-left';

/** The internal name of an interval join's late right records (`.lateRecords('right')`). */
export const LATE_RIGHT_OUTPUT = '!late-right';

/** A side output name a process function may declare: non-empty, not starting with "!" (reserved). */
export function isValidOutputName(name: string): boolean {
  return name.length > 0 && !name.startsWith('!');
}

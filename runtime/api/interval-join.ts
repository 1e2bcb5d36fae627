import { SluiceError } from '../errors/index.ts';
import type { GraphRecorder } from './graph-recorder.ts';
import { intervalJoinFunction, type IntervalJoinFunction } from './interval-join-function.ts';
import type { LateOutputs } from './join-support.ts';
import type { LogicalInput } from './logical-graph.ts';
import type { OutputDeclarations } from './side-outputs.ts';
import { JoinedStream } from './stream.ts';

/** Whether each bound of {@link IntervalJoinBuilder.between} includes its end (both do unless told otherwise). */
export interface IntervalBoundsOptions {
  /** `l + lower < r` instead of `<=`. */
  readonly lowerExclusive?: boolean;
  /** `r < l + upper` instead of `<=`. */
  readonly upperExclusive?: boolean;
}

/**
 * Two keyed streams to be joined by event time (`left.intervalJoin(right)`): say how far apart the times of a
 * matching pair may be with {@link between}.
 *
 * @example
 * ```ts
 * orders.keyBy((o) => o.id).intervalJoin(shipments.keyBy((s) => s.orderId)); // an IntervalJoinBuilder
 * ```
 */
export class IntervalJoinBuilder<L, R, K> {
  readonly #recorder: GraphRecorder;
  readonly #inputs: readonly [LogicalInput, LogicalInput];

  constructor(recorder: GraphRecorder, left: LogicalInput, right: LogicalInput) {
    this.#recorder = recorder;
    this.#inputs = [left, right];
  }

  /**
   * Joins a left record at time `l` with every right record of the same key at a time `r` with
   * `l + lowerMs <= r <= l + upperMs` (Flink's `between`). Bounds are integers of ms and may be negative: `(-5_000,
   * 5_000)` pairs records at most 5 s apart either way.
   *
   * @example
   * ```ts
   * // shipments within an hour after their order
   * orders.keyBy((o) => o.id).intervalJoin(shipments.keyBy((s) => s.orderId)).between(0, 3_600_000);
   * ```
   */
  between(lowerMs: number, upperMs: number, options: IntervalBoundsOptions = {}): IntervalJoin<L, R, K> {
    for (const [name, value] of [['lowerMs', lowerMs], ['upperMs', upperMs]] as const) {
      if (!Number.isSafeInteger(value)) throw new SluiceError('SLUICE_INVALID_JOB', `intervalJoin().between(): ${name} must be an integer number of ms, got ${String(value)}`);
    }
    const lower = options.lowerExclusive === true ? lowerMs + 1 : lowerMs;
    const upper = options.upperExclusive === true ? upperMs - 1 : upperMs;
    if (lower > upper) {
      throw new SluiceError(
        'SLUICE_INVALID_JOB',
        `intervalJoin().between(${lowerMs}, ${upperMs}${options.lowerExclusive === true || options.upperExclusive === true ? ', exclusive' : ''}) matches no pair: the lower bound must not be above the upper one`,
      );
    }
    return new IntervalJoin<L, R, K>(this.#recorder, this.#inputs, lower, upper);
  }
}

/**
 * An interval join with its bounds: give it the function that makes each pair's output with {@link process}.
 *
 * @example
 * ```ts
 * const shipped = orders.keyBy((o) => o.id).intervalJoin(shipments.keyBy((s) => s.orderId)).between(0, 3_600_000);
 * shipped.process({ processElement: (order, shipment) => ({ ...order, carrier: shipment.carrier }) });
 * ```
 */
export class IntervalJoin<L, R, K> {
  readonly #recorder: GraphRecorder;
  readonly #inputs: readonly [LogicalInput, LogicalInput];
  readonly #lower: number;
  readonly #upper: number;

  constructor(recorder: GraphRecorder, inputs: readonly [LogicalInput, LogicalInput], lower: number, upper: number) {
    this.#recorder = recorder;
    this.#inputs = inputs;
    this.#lower = lower;
    this.#upper = upper;
  }

  /**
   * Calls `fn.processElement(left, right, ctx)` once for every matching pair, as soon as its second record arrives;
   * what it returns or emits carries the later of the two times. Both inputs need event time. The buffered records
   * are keyed state, exactly once through checkpoints, restores and rescales; each goes once the watermark shows no
   * record of the other side can match it. `onError`, `.uid`, `.parallelism` and side outputs work as for a keyed
   * `process`.
   *
   * @example
   * ```ts
   * orders
   *   .keyBy((o) => o.id)
   *   .intervalJoin(shipments.keyBy((s) => s.orderId))
   *   .between(0, 3_600_000)
   *   .process({
   *     processElement: (order, shipment, ctx): Shipped => ({ ...order, carrier: shipment.carrier, hours: (ctx.rightTimestamp - ctx.leftTimestamp) / 3_600_000 }),
   *   })
   *   .uid('shipped-orders');
   * ```
   */
  process<U, O extends OutputDeclarations = Record<never, never>>(fn: IntervalJoinFunction<L, R, K, U, O>): JoinedStream<U, L, R, O> {
    if (typeof fn?.processElement !== 'function') throw new SluiceError('SLUICE_INVALID_JOB', 'intervalJoin().process() needs a processElement(left, right, ctx) function');
    const late: LateOutputs = { left: false, right: false };
    const spec = intervalJoinFunction({ lower: this.#lower, upper: this.#upper }, fn, late);
    const id = this.#recorder.add({ kind: 'coProcess', name: 'intervalJoin', fn: spec as never, inputs: this.#inputs, input: this.#inputs[0] });
    return new JoinedStream<U, L, R, O>(this.#recorder, id, late);
  }
}

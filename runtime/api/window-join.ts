import { SluiceError } from '../errors/index.ts';
import type { GraphRecorder } from './graph-recorder.ts';
import type { LateOutputs } from './join-support.ts';
import type { LogicalInput } from './logical-graph.ts';
import type { OutputDeclarations } from './side-outputs.ts';
import { JoinedStream } from './stream.ts';
import { windowJoinFunction, type WindowCoGroupFunction, type WindowJoinFunction, type WindowJoinSpec } from './window-join-function.ts';
import type { WindowAssigner } from './windows.ts';

/**
 * Two keyed streams joined per event-time window (`left.windowJoin(right, assigner)`): say what each window makes, every
 * pair with {@link process} or both lists with {@link coGroup}.
 *
 * @example
 * ```ts
 * const perMinute = clicks.keyBy((c) => c.ad).windowJoin(impressions.keyBy((i) => i.ad), tumblingWindows({ sizeMs: 60_000 }));
 * ```
 */
export class WindowJoin<L, R, K> {
  readonly #recorder: GraphRecorder;
  readonly #inputs: readonly [LogicalInput, LogicalInput];
  readonly #assigner: WindowAssigner;

  constructor(recorder: GraphRecorder, left: LogicalInput, right: LogicalInput, assigner: WindowAssigner) {
    if (assigner?.kind !== 'tumbling' && assigner?.kind !== 'sliding') {
      const kind = (assigner as { kind?: unknown } | undefined)?.kind;
      throw new SluiceError(
        'SLUICE_INVALID_JOB',
        `windowJoin() takes tumbling or sliding windows (tumblingWindows(...), slidingWindows(...)), got ${kind === 'session' ? 'session windows, which merge' : String(kind)}: for sessions, connect the streams and keep the records in keyed state`,
      );
    }
    if (assigner.time !== 'event') {
      throw new SluiceError('SLUICE_INVALID_JOB', 'windowJoin() joins by event time: drop time: \'processing\' from the window assigner (and give both sources a watermark strategy)');
    }
    this.#recorder = recorder;
    this.#inputs = [left, right];
    this.#assigner = assigner;
  }

  /**
   * Calls `fn.processElement(left, right, ctx)` for every pair of a left and a right record of the same key in the same
   * window, once the watermark reaches the window's end (Flink's window join: an inner join). What it returns or emits
   * carries the window's last millisecond as its event time. A sliding window joins the pairs of each window it
   * holds, so a pair in two windows is joined twice.
   *
   * @example
   * ```ts
   * clicks
   *   .keyBy((c) => c.ad)
   *   .windowJoin(impressions.keyBy((i) => i.ad), tumblingWindows({ sizeMs: 60_000 }))
   *   .process({ processElement: (click, impression, ctx): Attributed => ({ ad: ctx.key, click: click.id, impression: impression.id, minute: ctx.window.start }) });
   * ```
   */
  process<U, O extends OutputDeclarations = Record<never, never>>(fn: WindowJoinFunction<L, R, K, U, O>): JoinedStream<U, L, R, O> {
    if (typeof fn?.processElement !== 'function') throw new SluiceError('SLUICE_INVALID_JOB', 'windowJoin().process() needs a processElement(left, right, ctx) function');
    return this.#add({ kind: 'join', fn: fn as never }, 'windowJoin');
  }

  /**
   * Calls `fn.process(lefts, rights, ctx)` once per key and window holding a record of either side, once the
   * watermark reaches the window's end, with both sides' records in arrival order; one list may be empty (Flink's
   * coGroup). Outer joins, and anything that needs a window's records of both sides together, are written with it.
   *
   * @example
   * ```ts
   * orders
   *   .keyBy((o) => o.customer)
   *   .windowJoin(payments.keyBy((p) => p.customer), tumblingWindows({ sizeMs: 3_600_000 }))
   *   .coGroup({ process: (orders, payments, ctx): Balance => ({ customer: ctx.key, hour: ctx.window.start, owed: sum(orders) - sum(payments) }) });
   * ```
   */
  coGroup<U, O extends OutputDeclarations = Record<never, never>>(fn: WindowCoGroupFunction<L, R, K, U, O>): JoinedStream<U, L, R, O> {
    if (typeof fn?.process !== 'function') throw new SluiceError('SLUICE_INVALID_JOB', 'windowJoin().coGroup() needs a process(lefts, rights, ctx) function');
    return this.#add({ kind: 'coGroup', fn: fn as never }, 'windowCoGroup');
  }

  #add<U, O extends OutputDeclarations>(spec: WindowJoinSpec, name: string): JoinedStream<U, L, R, O> {
    const late: LateOutputs = { left: false, right: false };
    const fn = windowJoinFunction(this.#assigner, spec, late);
    const id = this.#recorder.add({ kind: 'coProcess', name, fn: fn as never, inputs: this.#inputs, input: this.#inputs[0] });
    return new JoinedStream<U, L, R, O>(this.#recorder, id, late);
  }
}

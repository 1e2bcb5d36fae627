import type { MapState, StateKey } from '../state/index.ts';
import type { KeyedProcessContext } from './process-function.ts';
import { lateOutputOf, noEventTime, type JoinContext, type JoinFunctionOutputs, type LateOutputs } from './join-support.ts';
import type { OutputDeclarations } from './side-outputs.ts';
import { mapState } from './state-declarations.ts';
import { OPERATOR_HOOKS, type OperatorHooks } from './operator-hooks.ts';

/** What the user's function of an interval join gets with each pair; `timestamp` is the later of the two times. */
export interface IntervalJoinContext<K, U, O extends OutputDeclarations = Record<never, never>> extends JoinContext<K, U, O> {
  /** Event time of the left record (of the stream `intervalJoin` was called on). */
  readonly leftTimestamp: number;
  /** Event time of the right record. */
  readonly rightTimestamp: number;
}

/**
 * The function of an interval join (Flink's ProcessJoinFunction): called once for every pair of a left and a right
 * record with the same key whose times are within the bounds.
 */
export interface IntervalJoinFunction<L, R, K, U, O extends OutputDeclarations = Record<never, never>> extends JoinFunctionOutputs<O> {
  /** One pair; return the one output (its type is inferred) or call `ctx.emit` for zero or many. */
  processElement(left: L, right: R, ctx: IntervalJoinContext<K, U, O>): U | void;
}

/**
 * An interval join's bounds, both inclusive: a right record at `r` joins a left record at `l` when
 * `l + lower <= r <= l + upper`. @internal
 */
export interface JoinBounds {
  readonly lower: number;
  readonly upper: number;
}

/** Records buffered per event time, one bucket per timestamp (as Flink's interval join keeps them). */
type Buffer = MapState<number, unknown[]>;

interface JoinState {
  readonly left: Buffer;
  readonly right: Buffer;
}

type Context = KeyedProcessContext<StateKey, unknown, Record<string, never>> & {
  readonly state: JoinState;
  readonly [OPERATOR_HOOKS]: OperatorHooks;
};

/**
 * The keyed two-input function an interval join runs as (a `connect(...).process(...)` of Sluice's own, so its
 * buffers, timers, checkpoints and rescaling are those of any connected operator). Semantics are Flink's
 * IntervalJoinOperator's:
 *
 * - each record is buffered under its key and event time, then joined with every buffered record of the other side
 *   whose time is within the bounds; so every matching pair is joined once, when its second record arrives;
 * - a record behind the operator's watermark is late: not buffered nor joined, but sent to the side's late-records
 *   output when it is read, else dropped and counted (`lateRecordsDropped`, as a window's);
 * - a left record at `l` can match no right record once the watermark passes `l + upper` (later right records are
 *   at or after the watermark), so an event-time timer then removes it; a right record at `r` goes once the
 *   watermark passes `r - lower`;
 * - each output carries the later of the pair's two times.
 * @internal
 */
export function intervalJoinFunction<L, R, K, U, O extends OutputDeclarations>(bounds: JoinBounds, fn: IntervalJoinFunction<L, R, K, U, O>, late: LateOutputs) {
  const { lower, upper } = bounds;
  // When each side's bucket at `t` can go: once the watermark passes the last time a record of the other side could
  // still match it. That moment is rounded up to a multiple of a sixteenth of the bounds' width: a bucket then stays
  // at most that much longer, which changes no pair (the bounds are checked on every match), and the records of a
  // span of time share their timers' timestamps (one timer per key and span, each timestamp firing for many keys)
  // instead of one timestamp per record: the timer queue cost ~2.8 of 15.8 s in bench/interval-join.ts before.
  const granularity = Math.max(1, Math.floor((upper - lower) / CLEANUP_GRANULARITY_DIVISOR));
  // In integers (t − r is a multiple toward zero: up for a negative t), exact for any safe timestamp.
  const roundUp = (t: number): number => {
    const r = t % granularity;
    return r > 0 ? t - r + granularity : t - r;
  };
  const leftCleanup = (t: number): number => roundUp(t + Math.max(upper, 0));
  const rightCleanup = (t: number): number => roundUp(t - Math.min(lower, 0));
  const processElement = fn.processElement.bind(fn);
  // The pair's context, reused for every pair as process functions reuse theirs. In-process, the subtasks of the
  // join share this function object; each call sets what it uses first and runs to its end without yielding.
  let current: Context | undefined;
  let recordTime = 0;
  const pair = {
    key: undefined as unknown,
    leftTimestamp: 0,
    rightTimestamp: 0,
    timestamp: 0,
    emit: (value: unknown): void => (current as Context)[OPERATOR_HOOKS].emitAt(value, pair.timestamp, recordTime),
    output: (name: string, value: unknown): void => (current as Context)[OPERATOR_HOOKS].outputAt(name, value, pair.timestamp),
  };

  function side(value: unknown, ctx: Context, isLeft: boolean): void {
    const timestamp = ctx.timestamp;
    if (timestamp === undefined) throw noEventTime('an interval join');
    if (timestamp < ctx.timers.currentWatermark()) {
      if (isLeft ? late.left : late.right) ctx[OPERATOR_HOOKS].outputAt(lateOutputOf(isLeft), value, timestamp);
      else ctx[OPERATOR_HOOKS].dropLate(timestamp, `too late for the interval join to keep or join it (read such records with .lateRecords('${isLeft ? 'left' : 'right'}'))`);
      return;
    }
    const ours = isLeft ? ctx.state.left : ctx.state.right;
    const bucket = ours.get(timestamp);
    if (bucket === undefined) ours.put(timestamp, [value]);
    else {
      bucket.push(value);
      ours.put(timestamp, bucket); // a backend that stores values elsewhere (LevelDB) sees the change
    }
    // The other side's times that match: r in [l + lower, l + upper] for a left record, l in [r - upper, r - lower] for a right one.
    const from = isLeft ? timestamp + lower : timestamp - upper;
    const to = isLeft ? timestamp + upper : timestamp - lower;
    current = ctx;
    recordTime = timestamp;
    pair.key = ctx.key;
    for (const [otherTime, others] of isLeft ? ctx.state.right.entries() : ctx.state.left.entries()) {
      if (otherTime < from || otherTime > to) continue;
      pair.leftTimestamp = isLeft ? timestamp : otherTime;
      pair.rightTimestamp = isLeft ? otherTime : timestamp;
      pair.timestamp = Math.max(timestamp, otherTime);
      for (const other of others) {
        const result = isLeft ? processElement(value as L, other as R, pair as never) : processElement(other as L, value as R, pair as never);
        if (result !== undefined) pair.emit(result);
      }
    }
    ctx.timers.registerEventTimeTimer(isLeft ? leftCleanup(timestamp) : rightCleanup(timestamp));
  }

  /** Removes the buckets of `buffer` whose cleanup time the watermark reached. */
  function expire(buffer: Buffer, cleanup: (t: number) => number, watermark: number): void {
    const gone: number[] = [];
    for (const t of buffer.keys()) if (cleanup(t) <= watermark) gone.push(t);
    for (const t of gone) buffer.remove(t);
  }

  return {
    state: { left: mapState<number, unknown[]>(), right: mapState<number, unknown[]>() },
    ...(fn.outputs === undefined ? {} : { outputs: fn.outputs }),
    processElement1: (value: L, ctx: Context): void => side(value, ctx, true),
    processElement2: (value: R, ctx: Context): void => side(value, ctx, false),
    // Only cleanup timers are registered. One timer may stand for buckets of both sides (timers have no namespace):
    // each side drops what the timer's time allows; a bucket's own timer is never later than that.
    onTimer: (timestamp: number, ctx: Context): void => {
      expire(ctx.state.left, leftCleanup, timestamp);
      expire(ctx.state.right, rightCleanup, timestamp);
    },
  };
}

/** Cleanup timers are rounded up to `1 / CLEANUP_GRANULARITY_DIVISOR` of the bounds' width (see `intervalJoinFunction`). */
const CLEANUP_GRANULARITY_DIVISOR = 16;

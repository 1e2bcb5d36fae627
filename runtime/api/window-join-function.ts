import type { MapState, StateKey } from '../state/index.ts';
import { lateOutputOf, noEventTime, type JoinContext, type JoinFunctionOutputs, type LateOutputs } from './join-support.ts';
import type { KeyedProcessContext } from './process-function.ts';
import type { OutputDeclarations } from './side-outputs.ts';
import { mapState } from './state-declarations.ts';
import { OPERATOR_HOOKS, type OperatorHooks } from './operator-hooks.ts';
import { assignWindows, type TimeWindow, type WindowAssigner } from './windows.ts';

/** What a window join's functions get with each pair, or each window's two lists; `timestamp` is `window.end - 1`. */
export interface WindowJoinContext<K, U, O extends OutputDeclarations = Record<never, never>> extends JoinContext<K, U, O> {
  /** The window: `start` inclusive, `end` exclusive. */
  readonly window: TimeWindow;
}

/**
 * The function of a window join (Flink's JoinFunction): called once for every pair of a left and a right record with
 * the same key in the same window, when the window ends.
 */
export interface WindowJoinFunction<L, R, K, U, O extends OutputDeclarations = Record<never, never>> extends JoinFunctionOutputs<O> {
  /** One pair; return the one output (its type is inferred) or call `ctx.emit` for zero or many. */
  processElement(left: L, right: R, ctx: WindowJoinContext<K, U, O>): U | void;
}

/**
 * The function of a window co-group (Flink's CoGroupFunction): called once per key and window that holds a record of
 * either side, when the window ends, with both sides' records (one list may be empty): outer joins and per-window
 * comparisons are written with it.
 */
export interface WindowCoGroupFunction<L, R, K, U, O extends OutputDeclarations = Record<never, never>> extends JoinFunctionOutputs<O> {
  /** The window's records of each side, in the order they arrived; return the one output or call `ctx.emit`. */
  process(lefts: readonly L[], rights: readonly R[], ctx: WindowJoinContext<K, U, O>): U | void;
}

/** What a window join calls when a window ends. @internal */
export type WindowJoinSpec =
  | { readonly kind: 'join'; readonly fn: WindowJoinFunction<unknown, unknown, unknown, unknown, OutputDeclarations> }
  | { readonly kind: 'coGroup'; readonly fn: WindowCoGroupFunction<unknown, unknown, unknown, unknown, OutputDeclarations> };

/** Each side's records per window, by the window's start. */
type Buffer = MapState<number, unknown[]>;

type Context = KeyedProcessContext<StateKey, unknown, Record<string, never>> & {
  readonly state: { readonly left: Buffer; readonly right: Buffer };
  readonly [OPERATOR_HOOKS]: OperatorHooks;
};

/**
 * The keyed two-input function a window join runs as (a `connect(...).process(...)` of Sluice's own, like the
 * interval join). Semantics are Flink's window join and co-group on event-time windows:
 *
 * - each record goes to every window its time falls in (one for tumbling windows, several for sliding ones) whose
 *   end the watermark has not reached; a record all of whose windows have fired is late: sent to its side's
 *   late-records output when that is read, else dropped and counted (`lateRecordsDropped`, as a window's);
 * - when the watermark reaches a window's last millisecond (`end - 1`), the window fires once: every pair of its left
 *   and right records (join), or both lists (co-group), in arrival order; then its records go;
 * - outputs carry `end - 1` as their event time (they come from the window's event-time timer).
 * @internal
 */
export function windowJoinFunction(assigner: WindowAssigner, spec: WindowJoinSpec, late: LateOutputs) {
  const size = assigner.kind === 'session' ? 0 : assigner.sizeMs;
  // The user's context, reused for every window as process functions reuse theirs (see interval-join-function.ts).
  let current: Context | undefined;
  const windowCtx = {
    key: undefined as unknown,
    window: { start: 0, end: 0 } as TimeWindow,
    timestamp: 0,
    emit: (value: unknown): void => (current as Context).emit(value),
    output: (name: string, value: unknown): void => (current as Context).output(name as never, value as never),
  };

  function side(value: unknown, ctx: Context, isLeft: boolean): void {
    const timestamp = ctx.timestamp;
    if (timestamp === undefined) throw noEventTime('a window join');
    const watermark = ctx.timers.currentWatermark();
    const buffer = isLeft ? ctx.state.left : ctx.state.right;
    let kept = false;
    for (const window of assignWindows(assigner, timestamp)) {
      if (window.end - 1 <= watermark) continue; // fired already
      kept = true;
      const records = buffer.get(window.start);
      if (records === undefined) buffer.put(window.start, [value]);
      else {
        records.push(value);
        buffer.put(window.start, records); // a backend that stores values elsewhere (LevelDB) sees the change
      }
      ctx.timers.registerEventTimeTimer(window.end - 1);
    }
    if (kept) return;
    if (isLeft ? late.left : late.right) ctx[OPERATOR_HOOKS].outputAt(lateOutputOf(isLeft), value, timestamp);
    else ctx[OPERATOR_HOOKS].dropLate(timestamp, `after every window it belongs to fired (read such records with .lateRecords('${isLeft ? 'left' : 'right'}'))`);
  }

  /** Fires the key's windows that end at or before `timestamp`, oldest first, and forgets them. */
  function fire(timestamp: number, ctx: Context): void {
    const { left, right } = ctx.state;
    const due = new Set<number>();
    for (const buffer of [left, right]) for (const start of buffer.keys()) if (start + size - 1 <= timestamp) due.add(start);
    current = ctx;
    windowCtx.key = ctx.key;
    for (const start of [...due].sort((a, b) => a - b)) {
      const lefts = left.get(start) ?? [];
      const rights = right.get(start) ?? [];
      windowCtx.window = { start, end: start + size };
      windowCtx.timestamp = start + size - 1;
      if (spec.kind === 'join') {
        for (const l of lefts) {
          for (const r of rights) {
            const result = spec.fn.processElement(l, r, windowCtx as never);
            if (result !== undefined) ctx.emit(result);
          }
        }
      } else {
        const result = spec.fn.process(lefts, rights, windowCtx as never);
        if (result !== undefined) ctx.emit(result);
      }
      left.remove(start);
      right.remove(start);
    }
  }

  return {
    state: { left: mapState<number, unknown[]>(), right: mapState<number, unknown[]>() },
    ...(spec.fn.outputs === undefined ? {} : { outputs: spec.fn.outputs }),
    processElement1: (value: unknown, ctx: Context): void => side(value, ctx, true),
    processElement2: (value: unknown, ctx: Context): void => side(value, ctx, false),
    // Only the windows' event-time timers are registered, at their last millisecond.
    onTimer: (timestamp: number, ctx: Context): void => fire(timestamp, ctx),
  };
}

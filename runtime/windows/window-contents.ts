import type { TimeWindow, WindowContext, WindowSpec } from '../api/index.ts';
import type { StateKey } from '../state/index.ts';

/**
 * One window of one key as it lives in keyed state (so it is checkpointed and moves with its key group): its
 * bounds, what the window function keeps, and whether it fired on time already (then later firings are late ones).
 */
export interface WindowEntry {
  start: number;
  end: number;
  /** reduce: the folded value; aggregate: the accumulator; unset before the first record (reduce). */
  acc?: unknown;
  /** process: every record, in arrival order. */
  records?: unknown[];
  fired: boolean;
}

export type Firing = WindowContext<unknown, unknown>['firing'];

/** The window function's side of a window: how a record goes in, how two windows merge, what a firing emits. */
export interface WindowContents {
  /** An empty window (an aggregate's accumulator is created here, so `add` needs no check on the hot path). */
  create(window: TimeWindow): WindowEntry;
  add(entry: WindowEntry, value: unknown): void;
  /** Folds `from` into `into` (session windows merging). */
  merge(into: WindowEntry, from: WindowEntry): void;
  /** What the window emits when it fires; `watermark` is the operator's. */
  emit(entry: WindowEntry, key: StateKey, watermark: number, firing: Firing, out: unknown[]): void;
}

/** The contents handler for a window spec's function. */
export function windowContents(fn: WindowSpec['fn']): WindowContents {
  switch (fn.type) {
    case 'reduce': {
      const reduce = fn.reduce;
      return {
        create: empty,
        add(entry, value) {
          entry.acc = 'acc' in entry ? reduce(entry.acc, value) : value;
        },
        merge(into, from) {
          if (!('acc' in from)) return;
          into.acc = 'acc' in into ? reduce(into.acc, from.acc) : from.acc;
        },
        emit(entry, _key, _watermark, _firing, out) {
          if ('acc' in entry) out.push(entry.acc);
        },
      };
    }
    case 'aggregate': {
      const agg = fn.aggregate;
      return {
        create: (window) => ({ start: window.start, end: window.end, acc: agg.createAccumulator(), fired: false }),
        add(entry, value) {
          entry.acc = agg.add(entry.acc, value);
        },
        merge(into, from) {
          if (!('acc' in from)) return;
          // The plan builder made sure session windows (the only ones that merge) have merge().
          into.acc = 'acc' in into ? (agg.merge as NonNullable<typeof agg.merge>)(into.acc, from.acc) : from.acc;
        },
        emit(entry, key, _watermark, _firing, out) {
          out.push(agg.result('acc' in entry ? entry.acc : agg.createAccumulator(), bounds(entry), key));
        },
      };
    }
    case 'process': {
      const fnProcess = fn.process;
      return {
        create: empty,
        add(entry, value) {
          (entry.records ??= []).push(value);
        },
        merge(into, from) {
          into.records = [...(into.records ?? []), ...(from.records ?? [])];
        },
        emit(entry, key, watermark, firing, out) {
          const ctx: WindowContext<unknown, unknown> = { key, window: bounds(entry), watermark, firing, emit: (value) => void out.push(value) };
          const result = fnProcess.process(entry.records ?? [], ctx);
          if (result !== undefined) out.push(result);
        },
      };
    }
  }
}

function empty(window: TimeWindow): WindowEntry {
  return { start: window.start, end: window.end, fired: false };
}

function bounds(entry: WindowEntry): TimeWindow {
  return { start: entry.start, end: entry.end };
}

import type { KeyGroupRange } from '../key-groups.ts';
import type { KeyedTimerQueue } from '../keyed-timer-queue.ts';
import { chunkIsFull } from '../keyed-snapshot-format.ts';
import type { StateKind, StateTable } from '../state-table.ts';

/** What snapshot writers read and restorers fill: one backend's tables and timer queues. @internal */
export interface BackendState {
  readonly range: KeyGroupRange;
  readonly tables: ReadonlyMap<string, StateTable>;
  readonly timers: KeyedTimerQueue;
  readonly eventTimers: KeyedTimerQueue;
  /** The table of state `name`, created when absent; throws when it exists with another kind. */
  table(name: string, kind: StateKind): StateTable;
}

/**
 * How one key group's chain in the latest checkpoint is made: a full blob of `baseBytes`, then `length - 1` deltas
 * of `deltaBytes` together. The backend keeps this per key group to decide when a delta would cost more than a new
 * full blob (`chain-policy.ts`).
 * @internal
 */
export interface ChainStats {
  baseBytes: number;
  deltaBytes: number;
  length: number;
}

/** How many entries the snapshot loops process between two clock reads (a clock read costs ~50 ns). @internal */
export const ENTRIES_PER_CHECK = 1024;

/** Concatenates byte arrays. @internal */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const p of parts) length += p.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/**
 * Appends the pair (`a`, `b`) to the open chunk of key group slot `i`, first starting a chunk with `newChunk()` (and
 * adding it to `chunks[i]`) when none is open or the open one is full. @internal
 */
export function appendPair(open: (unknown[] | undefined)[], chunks: unknown[][][], i: number, newChunk: () => unknown[], a: unknown, b: unknown): void {
  let chunk = open[i];
  if (chunk === undefined || chunkIsFull(chunk)) {
    chunk = newChunk();
    open[i] = chunk;
    chunks[i]!.push(chunk);
  }
  chunk.push(a, b);
}

import { SluiceError } from '../../errors/index.ts';
import { isStateKey, type DecodedChunk } from '../keyed-snapshot-format.ts';
import { unpackPairs } from '../packed-pairs-chunk.ts';
import { chainParts } from './chain-parts.ts';
import { chainsInRange, type RestoreInput } from './owned-chains.ts';
import { StateErrorCodes } from '../state-errors.ts';
import { hasState, type Entry } from '../state-table.ts';
import type { TimeSlicer } from '../time-slicer.ts';
import type { BackendState, ChainStats } from './backend-state.ts';

/** A decoded timer chunk. @internal */
export type TimerChunk = Extract<DecodedChunk, { type: 'timers' }>;

/**
 * Loads key groups from snapshot blobs or chains (a full blob followed by deltas, concatenated), skipping key
 * groups outside the backend's range. A key already present is overwritten; a tombstone removes it. Returns the
 * shape of each restored chain, for the backend's next incremental snapshot. Restored entries are stamped epoch 0:
 * they are in the checkpoint already.
 * @internal
 */
export async function restoreChains(
  state: BackendState,
  keyGroups: RestoreInput,
  slicer: TimeSlicer,
): Promise<Map<number, ChainStats>> {
  const chains = new Map<number, ChainStats>();
  for await (const [keyGroup, blob] of chainsInRange(keyGroups, state.range)) {
    const { segments, baseBytes, base, deltas, timers } = await chainParts(keyGroup, blob, slicer);
    for (const chunk of [...base, ...deltas]) {
      if (chunk.type === 'packed-state') applyState(state, keyGroup, { type: 'state', name: chunk.name, kind: chunk.kind, pairs: unpackPairs(keyGroup, chunk), from: 0 });
      else if (chunk.type === 'state') applyState(state, keyGroup, chunk);
      else applyTombstones(state, keyGroup, chunk);
      await slicer.maybeYield();
    }
    restoreTimers(state, keyGroup, timers);
    chains.set(keyGroup, { baseBytes, deltaBytes: blob.length - baseBytes, length: segments });
  }
  return chains;
}

function applyState(state: BackendState, keyGroup: number, chunk: Extract<DecodedChunk, { type: 'state' }>): void {
  const table = state.table(chunk.name, chunk.kind);
  const entries = table.entries;
  const pairs = chunk.pairs;
  for (let j = chunk.from; j < pairs.length; j += 2) {
    const key = pairs[j];
    if (!isStateKey(key)) throw badEntry(keyGroup, chunk.name, key);
    const replaced = table.emptyMaps > 0 ? entries.get(key) : undefined;
    if (replaced !== undefined && !hasState(table, replaced)) table.emptyMaps--;
    entries.set(key, { key, keyGroup, value: pairs[j + 1], touched: 0 } satisfies Entry<unknown>);
  }
}

function applyTombstones(state: BackendState, keyGroup: number, chunk: Extract<DecodedChunk, { type: 'tombstones' }>): void {
  const table = state.table(chunk.name, chunk.kind);
  const entries = table.entries;
  const keys = chunk.keys;
  for (let j = chunk.from; j < keys.length; j++) {
    const key = keys[j];
    if (!isStateKey(key)) throw badEntry(keyGroup, chunk.name, key);
    const removed = entries.get(key);
    if (removed === undefined) continue;
    if (!hasState(table, removed)) table.emptyMaps--;
    entries.delete(key);
  }
}

/** Adds a key group's timers, from the timer chunks its chain ends with, to the queues. @internal */
export function restoreTimers(state: Pick<BackendState, 'timers' | 'eventTimers'>, keyGroup: number, chunks: readonly TimerChunk[]): void {
  for (const chunk of chunks) {
    const queue = chunk.domain === 'event-time' ? state.eventTimers : state.timers;
    const pairs = chunk.pairs;
    for (let j = chunk.from; j < pairs.length; j += 2) {
      const key = pairs[j];
      const timestamp = pairs[j + 1];
      if (!isStateKey(key)) throw badEntry(keyGroup, 'timers', key);
      if (typeof timestamp !== 'number') throw badEntry(keyGroup, 'timers', timestamp);
      queue.add(key, keyGroup, timestamp);
    }
  }
}

/** The error for an invalid key or timestamp in a snapshot. @internal */
export function badEntry(keyGroup: number, what: string, key: unknown): SluiceError {
  return new SluiceError(
    StateErrorCodes.snapshotCorrupt,
    `keyed state snapshot of key group ${keyGroup} is corrupt: ${what} holds an invalid entry ${String(key)}; ` +
      `restore from an earlier checkpoint`,
  );
}

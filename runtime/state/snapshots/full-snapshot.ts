import { newStateChunk, newTimerChunk, packChunk, packHeader } from '../keyed-snapshot-format.ts';
import { hasState } from '../state-table.ts';
import type { TimeSlicer } from '../time-slicer.ts';
import { appendPair, concatBytes, ENTRIES_PER_CHECK, type BackendState } from './backend-state.ts';

/**
 * Full blobs (format 1) of the backend's non-empty key groups, or only of those flagged in `only` (indexed by key
 * group minus the range start). Yields to the event loop through `slicer`; the caller must not touch the backend
 * until it settles.
 * @internal
 */
export async function writeFullBlobs(state: BackendState, slicer: TimeSlicer, only?: Uint8Array): Promise<Map<number, Uint8Array>> {
  const { start, end } = state.range;
  const groups = end - start + 1;
  // chunks[i] = the chunks of key group start+i, filled in one pass over each table (no per-key-group scans).
  const chunks: unknown[][][] = Array.from({ length: groups }, () => []);
  let n = 0;
  for (const table of state.tables.values()) {
    const open: (unknown[] | undefined)[] = new Array<unknown[] | undefined>(groups);
    const newChunk = (): unknown[] => newStateChunk(table.name, table.kind);
    for (const [key, entry] of table.entries) {
      if (++n % ENTRIES_PER_CHECK === 0) await slicer.maybeYield();
      const i = entry.keyGroup - start;
      if (only !== undefined && only[i] === 0) continue;
      if (table.emptyMaps > 0 && !hasState(table, entry)) continue;
      appendPair(open, chunks, i, newChunk, key, entry.value);
    }
  }
  for (const [domain, queue] of [['processing-time', state.timers], ['event-time', state.eventTimers]] as const) {
    const openTimers: (unknown[] | undefined)[] = new Array<unknown[] | undefined>(groups);
    for (const [key, keyGroup, timestamp] of queue.all()) {
      if (++n % ENTRIES_PER_CHECK === 0) await slicer.maybeYield();
      const i = keyGroup - start;
      if (only !== undefined && only[i] === 0) continue;
      appendPair(openTimers, chunks, i, () => newTimerChunk(domain), key, timestamp);
    }
  }

  const blobs = new Map<number, Uint8Array>();
  for (let i = 0; i < groups; i++) {
    const groupChunks = chunks[i]!;
    if (groupChunks.length === 0) continue;
    const parts: Uint8Array[] = [packHeader(start + i)];
    for (const chunk of groupChunks) {
      parts.push(packChunk(chunk));
      await slicer.maybeYield();
    }
    blobs.set(start + i, concatBytes(parts));
    chunks[i] = []; // let the chunk arrays go while the rest is packed
  }
  return blobs;
}

import { newStateChunk, newTimerChunk, packChunk, packHeader } from '../keyed-snapshot-format.ts';
import { hasState, type Entry, type StateTable } from '../state-table.ts';
import type { TimeSlicer } from '../time-slicer.ts';
import { appendPair, concatBytes, ENTRIES_PER_CHECK, type BackendState } from './backend-state.ts';

interface FullScan {
  readonly start: number;
  readonly only: Uint8Array | undefined;
  readonly table: StateTable;
  readonly chunks: unknown[][][];
  readonly open: (unknown[] | undefined)[];
  readonly newChunk: () => unknown[];
}

/**
 * Adds up to {@link ENTRIES_PER_CHECK} entries of a table to their key groups' chunks; `true` once the table is done.
 * Synchronous between yields over the Map's values, for the reason given at `scanTouchedBatch` (incremental-snapshot.ts):
 * walking its entries allocates every `[key, entry]` pair.
 */
function scanFullBatch(entries: MapIterator<Entry<unknown>>, scan: FullScan): boolean {
  for (let n = 0; n < ENTRIES_PER_CHECK; n++) {
    const next = entries.next();
    if (next.done === true) return true;
    const entry = next.value;
    const i = entry.keyGroup - scan.start;
    if (scan.only !== undefined && scan.only[i] === 0) continue;
    if (scan.table.emptyMaps > 0 && !hasState(scan.table, entry)) continue;
    appendPair(scan.open, scan.chunks, i, scan.newChunk, entry.key, entry.value);
  }
  return false;
}

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
    const scan: FullScan = { start, only, table, chunks, open: new Array<unknown[] | undefined>(groups), newChunk: () => newStateChunk(table.name, table.kind) };
    const entries = table.entries.values();
    while (!scanFullBatch(entries, scan)) await slicer.maybeYield();
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

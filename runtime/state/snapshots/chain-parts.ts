import { decodeKeyGroupBlob, type DecodedChunk, type PackedStateChunk } from '../keyed-snapshot-format.ts';
import type { TimerChunk } from './restore-chains.ts';
import type { TimeSlicer } from '../time-slicer.ts';

/** A chunk that holds state: pairs, packed or decoded, or tombstones. @internal */
export type Chunk = Extract<DecodedChunk, { type: 'state' | 'tombstones' }> | PackedStateChunk;

/** A key group's chain taken apart: its full blob's chunks, its deltas' chunks, and the timers it ends with. @internal */
export interface ChainParts {
  /** Blobs in the chain (a full blob, then deltas). */
  readonly segments: number;
  /** Bytes of the full blob. */
  readonly baseBytes: number;
  readonly base: Chunk[];
  readonly deltas: Chunk[];
  /** The timer chunks in force at the chain's end (a delta's timer reset drops those before it). */
  readonly timers: TimerChunk[];
}

/**
 * Decodes a chain (packed pairs left packed) into its parts, yielding to the event loop between chunks when given a
 * slicer. Throws `SLUICE_STATE_SNAPSHOT_CORRUPT` as `decodeKeyGroupBlob` does.
 * @internal
 */
export async function chainParts(keyGroup: number, blob: Uint8Array, slicer?: TimeSlicer): Promise<ChainParts> {
  let segments = 0;
  let baseBytes = blob.length;
  let timers: TimerChunk[] = [];
  const base: Chunk[] = [];
  const deltas: Chunk[] = [];
  for (const chunk of decodeKeyGroupBlob(keyGroup, blob, { packed: true })) {
    switch (chunk.type) {
      case 'segment':
        if (++segments === 2) baseBytes = chunk.offset;
        break;
      case 'timer-reset':
        timers = [];
        break;
      case 'timers':
        timers.push(chunk);
        break;
      default:
        (segments === 1 ? base : deltas).push(chunk);
    }
    await slicer?.maybeYield();
  }
  return { segments, baseBytes, base, deltas, timers };
}

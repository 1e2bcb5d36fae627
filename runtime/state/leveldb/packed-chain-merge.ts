import { packChunk, packHeader, type PackedStateChunk } from '../keyed-snapshot-format.ts';
import { RawBlobWriter } from '../packed-pairs-chunk.ts';
import type { StateKind } from '../state-table.ts';
import { chainParts } from '../snapshots/chain-parts.ts';
import { TimeSlicer } from '../time-slicer.ts';
import { FoldedChanges } from './folded-changes.ts';
import { KeyOrderMerge, packedKeysAscend } from './key-order.ts';

/**
 * The full blob equal to a chain the LevelDB backend wrote — a full blob of packed pairs in key order, then deltas
 * of packed pairs and tombstones — merged byte for byte: each state's pairs in key order with each key's last value,
 * deleted keys left out, then the timers the chain ends with. Nothing is decoded but keys of tombstones, so a
 * savepoint or an export of a LevelDB backend's checkpoint costs a copy, and restores as fast as a checkpoint does.
 * Yields to the event loop between chunks (the checkpoint coordinator merges chains in the background).
 * `undefined` when the chain is not of that shape (state chunks, a full blob out of key order): then decode it.
 *
 * @example
 * ```ts
 * const blob = await mergePackedChain(17, concatenatedChain); // undefined: let materializeChain decode it
 * ```
 * @internal
 */
export async function mergePackedChain(keyGroup: number, chain: Uint8Array, slicer = new TimeSlicer()): Promise<Uint8Array | undefined> {
  const { base, deltas, timers } = await chainParts(keyGroup, chain, slicer);
  const blob = Buffer.from(chain.buffer, chain.byteOffset, chain.byteLength);
  const baseByState = new Map<string, { kind: StateKind; chunks: PackedStateChunk[] }>();
  for (const chunk of base) {
    if (chunk.type !== 'packed-state') return undefined;
    const state = baseByState.get(chunk.name) ?? baseByState.set(chunk.name, { kind: chunk.kind, chunks: [] }).get(chunk.name)!;
    if (state.kind !== chunk.kind) return undefined;
    state.chunks.push(chunk);
  }
  const names = [...baseByState.keys()];
  if (!packedKeysAscend(base as PackedStateChunk[], (chunk) => names.indexOf(chunk.name))) return undefined;
  const folded = new FoldedChanges(keyGroup, blob);
  for (const chunk of deltas) {
    if (chunk.type === 'state' || !folded.add(chunk)) return undefined;
    if ((baseByState.get(chunk.name)?.kind ?? chunk.kind) !== chunk.kind) return undefined;
    await slicer.maybeYield();
  }

  const writer = new RawBlobWriter(packHeader(keyGroup), chain.length);
  for (const name of new Set([...names, ...folded.byState.keys()])) {
    const kind = baseByState.get(name)?.kind ?? folded.byState.get(name)!.kind;
    const changes = folded.byState.get(name)?.changes ?? new Map<string, number | null>();
    const merge = new KeyOrderMerge([...changes.keys()].sort());
    const change = (key: string): void => {
      const at = changes.get(key)!;
      if (at !== null) writer.pair(name, kind, Buffer.from(key, 'latin1'), folded.value(at));
    };
    for (const chunk of baseByState.get(name)?.chunks ?? []) {
      merge.chunk(chunk, (ks, ke, vs, ve) => writer.pair(name, kind, blob.subarray(ks, ke), blob.subarray(vs, ve)), change);
      await slicer.maybeYield();
    }
    merge.rest(change);
  }
  for (const chunk of timers) writer.packed(packChunk([chunk.domain === 'event-time' ? 'e' : 't', ...chunk.pairs.slice(chunk.from)]));
  return writer.finish();
}

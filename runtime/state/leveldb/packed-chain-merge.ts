import { isStateKey, packChunk, packHeader, type PackedStateChunk } from '../keyed-snapshot-format.ts';
import { binLength, binStart, forEachPackedPair, RawBlobWriter } from '../packed-pairs-chunk.ts';
import type { StateKind } from '../state-table.ts';
import { chainParts } from '../snapshots/chain-parts.ts';
import { KeyOrderMerge, packedKeysAscend } from './key-order.ts';
import { packValue } from './stored-bytes.ts';

/** One state's part of a chain: its full blob's chunks, and its deltas' changes (key → value bin offset, null: deleted). */
interface StateParts {
  readonly kind: StateKind;
  readonly base: PackedStateChunk[];
  readonly changes: Map<string, number | null>;
}

/**
 * The full blob equal to a chain the LevelDB backend wrote — a full blob of packed pairs in key order, then deltas
 * of packed pairs and tombstones — merged byte for byte: each state's pairs in key order with each key's last value,
 * deleted keys left out, then the timers the chain ends with. Nothing is decoded but keys of tombstones, so a
 * savepoint or an export of a LevelDB backend's checkpoint costs a copy, and restores as fast as a checkpoint does.
 * `undefined` when the chain is not of that shape (state chunks, a full blob out of key order): then decode it.
 *
 * @example
 * ```ts
 * const blob = await mergePackedChain(17, concatenatedChain); // undefined: let materializeChain decode it
 * ```
 * @internal
 */
export async function mergePackedChain(keyGroup: number, chain: Uint8Array): Promise<Uint8Array | undefined> {
  const { base, deltas, timers } = await chainParts(keyGroup, chain);
  const states = new Map<string, StateParts>();
  const blob = Buffer.from(chain.buffer, chain.byteOffset, chain.byteLength);
  for (const [chunks, inBase] of [[base, true], [deltas, false]] as const) {
    for (const chunk of chunks) {
      if (chunk.type === 'state') return undefined;
      const parts = states.get(chunk.name) ?? states.set(chunk.name, { kind: chunk.kind, base: [], changes: new Map() }).get(chunk.name)!;
      if (parts.kind !== chunk.kind) return undefined;
      if (chunk.type === 'tombstones') {
        for (let j = chunk.from; j < chunk.keys.length; j++) {
          const key = chunk.keys[j];
          if (!isStateKey(key)) return undefined; // decoding reports it
          const packed = packValue(key);
          parts.changes.set(Buffer.from(packed.buffer, packed.byteOffset, packed.byteLength).toString('latin1'), null);
        }
      } else if (inBase) {
        parts.base.push(chunk);
      } else {
        // The value's bin starts where the key's ends.
        forEachPackedPair(chunk, (ks, ke) => parts.changes.set(blob.toString('latin1', ks, ke), ke));
      }
    }
  }
  const names = [...states.keys()];
  if (!packedKeysAscend([...states.values()].flatMap((parts) => parts.base), (chunk) => names.indexOf(chunk.name))) return undefined;

  const writer = new RawBlobWriter(packHeader(keyGroup), chain.length);
  for (const [name, { kind, base, changes }] of states) {
    const merge = new KeyOrderMerge([...changes.keys()].sort());
    const change = (key: string): void => {
      const at = changes.get(key)!;
      if (at === null) return;
      const from = binStart(blob, at);
      writer.pair(name, kind, Buffer.from(key, 'latin1'), blob.subarray(from, from + binLength(blob, at)));
    };
    for (const chunk of base) merge.chunk(chunk, (ks, ke, vs, ve) => writer.pair(name, kind, blob.subarray(ks, ke), blob.subarray(vs, ve)), change);
    merge.rest(change);
  }
  for (const chunk of timers) writer.packed(packChunk([chunk.domain === 'event-time' ? 'e' : 't', ...chunk.pairs.slice(chunk.from)]));
  return writer.finish();
}

import type { StateKey } from '../key-groups.ts';
import { packElement, unpackElement } from '../keyed-snapshot-format.ts';

/**
 * Bytes of the LevelDB backend: working-database keys, packed values, and snapshot chunks built from them.
 *
 * A working-database key is `[key group: u16][state id: u16][the state key, msgpack]` (big-endian), so one key
 * group's entries are one contiguous range, sorted by state. A value is the msgpack of the state's value (a map
 * state's `Map` whole, a list state's array), packed with the snapshot format's settings, on its own (msgpackr records
 * defined inline). Snapshots hold these same bytes (packed-pairs chunks, `../packed-pairs-chunk.ts`), so a snapshot
 * copies stored bytes in and a restore copies them out, neither decoding nor re-packing them.
 * @internal
 */

export const KEY_PREFIX_BYTES = 4;

/** Packs a state key or value as the snapshot format does. */
export function packValue(value: unknown): Uint8Array {
  return packElement(value);
}

export function unpackValue(bytes: Uint8Array): unknown {
  return unpackElement(bytes);
}

/** The working-database key of `packedKey` in state `stateId` of `keyGroup`. */
export function storedKey(keyGroup: number, stateId: number, packedKey: Uint8Array): Uint8Array {
  const out = new Uint8Array(KEY_PREFIX_BYTES + packedKey.length);
  writeKeyPrefix(out, 0, keyGroup, stateId);
  out.set(packedKey, KEY_PREFIX_BYTES);
  return out;
}

/** Writes the `[key group: u16][state id: u16]` prefix of a working-database key into `target` at `at`. */
export function writeKeyPrefix(target: Uint8Array, at: number, keyGroup: number, stateId: number): void {
  target[at] = keyGroup >>> 8;
  target[at + 1] = keyGroup & 0xff;
  target[at + 2] = stateId >>> 8;
  target[at + 3] = stateId & 0xff;
}

/** The key group of a working-database key. */
export function keyGroupOf(stored: Uint8Array): number {
  return (stored[0]! << 8) | stored[1]!;
}

/** First key of a key group's range (`lt` bound of the one before). */
export function keyGroupStart(keyGroup: number): Uint8Array {
  return new Uint8Array([keyGroup >>> 8, keyGroup & 0xff, 0, 0]);
}

export function stateIdOf(stored: Uint8Array): number {
  return (stored[2]! << 8) | stored[3]!;
}

/** Decodes the state key of a working-database key. */
export function stateKeyOf(stored: Uint8Array): StateKey {
  return unpackElement(stored.subarray(KEY_PREFIX_BYTES)) as StateKey;
}

import { Packr } from 'msgpackr';
import type { StateKey } from '../key-groups.ts';
import { CHUNK_PAIRS, packChunk } from '../keyed-snapshot-format.ts';
import type { StateKind } from '../state-table.ts';

/**
 * Bytes of the LevelDB backend: working-database keys, packed values, and snapshot chunks built from them.
 *
 * A working-database key is `[key group: u16][state id: u16][the state key, msgpack]` (big-endian), so one key
 * group's entries are one contiguous range, sorted by state. A value is the msgpack of the state's value (a map
 * state's `Map` whole, a list state's array), packed with the snapshot format's settings. Snapshot chunks are msgpack
 * arrays; their elements are these same bytes, so a snapshot copies stored bytes instead of decoding and re-packing
 * them. Each value is packed on its own (msgpackr records defined inline), so any sequence of them is a valid array.
 * @internal
 */

const packr = new Packr({ mapsAsObjects: false, variableMapSize: true, moreTypes: true });

export const KEY_PREFIX_BYTES = 4;

/** Packs a state key or value as the snapshot format does. */
export function packValue(value: unknown): Uint8Array {
  return packr.pack(value);
}

export function unpackValue(bytes: Uint8Array): unknown {
  return packr.unpack(bytes);
}

/** The working-database key of `packedKey` in state `stateId` of `keyGroup`. */
export function storedKey(keyGroup: number, stateId: number, packedKey: Uint8Array): Uint8Array {
  const out = new Uint8Array(KEY_PREFIX_BYTES + packedKey.length);
  out[0] = keyGroup >>> 8;
  out[1] = keyGroup & 0xff;
  out[2] = stateId >>> 8;
  out[3] = stateId & 0xff;
  out.set(packedKey, KEY_PREFIX_BYTES);
  return out;
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
  return packr.unpack(stored.subarray(KEY_PREFIX_BYTES)) as StateKey;
}

/**
 * Builds one blob's chunks from packed elements: `['s', name, kind, k, v, ...]` and `['x', name, kind, k, ...]`,
 * at most {@link CHUNK_PAIRS} entries each, in the order they are added (a new chunk starts when the state or the
 * chunk type changes, so a key written, deleted and written again within one delta reads back in that order).
 */
interface OpenChunk {
  readonly head: Uint8Array;
  readonly elements: Uint8Array[];
  count: number;
  readonly tag: 's' | 'x';
  readonly name: string;
}

export class RawChunkWriter {
  readonly parts: Uint8Array[] = [];
  #open: OpenChunk | undefined;

  constructor(header: Uint8Array) {
    this.parts.push(header);
  }

  /** Adds a pair to state `name`. */
  pair(name: string, kind: StateKind, packedKey: Uint8Array, packedValue: Uint8Array): void {
    const chunk = this.#chunk('s', name, kind);
    chunk.elements.push(packedKey, packedValue);
    chunk.count++;
  }

  /** Adds a tombstone for state `name`. */
  tombstone(name: string, kind: StateKind, packedKey: Uint8Array): void {
    const chunk = this.#chunk('x', name, kind);
    chunk.elements.push(packedKey);
    chunk.count++;
  }

  /** Adds a chunk packed elsewhere (timers, a timer reset). */
  packed(bytes: Uint8Array): void {
    this.#close();
    this.parts.push(bytes);
  }

  /** The blob's bytes. */
  finish(): Uint8Array[] {
    this.#close();
    return this.parts;
  }

  #chunk(tag: 's' | 'x', name: string, kind: StateKind): OpenChunk {
    const open = this.#open;
    if (open !== undefined && open.tag === tag && open.name === name && open.count < CHUNK_PAIRS) return open;
    this.#close();
    // The packed 3-element array's elements, without its 1-byte fixarray header.
    const head = packChunk([tag, name, kind]).subarray(1);
    this.#open = { head, elements: [], count: 0, tag, name };
    return this.#open;
  }

  #close(): void {
    const open = this.#open;
    if (open === undefined) return;
    this.#open = undefined;
    this.parts.push(arrayHeader(3 + open.elements.length), open.head, ...open.elements);
  }
}

/** The msgpack header of an array of `n` elements. */
function arrayHeader(n: number): Uint8Array {
  if (n < 16) return new Uint8Array([0x90 | n]);
  if (n < 0x10000) return new Uint8Array([0xdc, n >>> 8, n & 0xff]);
  return new Uint8Array([0xdd, n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);
}

import { SluiceError } from '../errors/index.ts';
import { Packr } from '../serde/msgpackr.ts';
import { packFailure, PLAIN_DATA, VALUES_DOC } from '../serde/unserializable.ts';
import type { StateKey } from './key-groups.ts';
import { isPackedPairsChunk, readPackedPairs, unpackPairs, type PackedPairs } from './packed-pairs-chunk.ts';
import { StateErrorCodes } from './state-errors.ts';
import type { StateKind } from './state-table.ts';

/**
 * Keyed state snapshot format: per non-empty key group, a full blob, optionally followed by delta blobs.
 *
 * A blob is a concatenation of msgpack values, each packed on its own (so a reader can decode one, yield to the
 * event loop, and go on):
 *
 * ```
 * blob        := header chunk*
 * header      := [1, keyGroup]                              full blob: the key group's whole state (format 1)
 *              | [2, keyGroup, 'delta']                     delta blob: changes since the blob before it (format 2)
 * chunk       := stateChunk | packedPairs | timerChunk | tombstones | timerReset
 * stateChunk  := ['s', name, kind, k0, v0, k1, v1, ...]     kind: 'value' | 'map' | 'list'; ≤ CHUNK_PAIRS pairs;
 *                                                           one state may span several chunks. In a delta: the
 *                                                           key's whole new value (a map or list as a whole)
 * timerChunk  := ['t' | 'e', k0, ts0, k1, ts1, ...]         't': processing-time, 'e': event-time timers of the key
 *                                                           group; ≤ CHUNK_PAIRS (blobs without 'e' chunks, from
 *                                                           before event time existed, read the same)
 * packedPairs := ['p', name, kind, k0, v0, k1, v1, ...]     a stateChunk whose keys and values are msgpack bins,
 *                                                           each holding one value packed on its own (the LevelDB
 *                                                           backend writes these: packed-pairs-chunk.ts)
 * tombstones  := ['x', name, kind, k0, k1, ...]             delta only: keys that no longer have state in `name`
 * timerReset  := ['r']                                      delta only: the key group's timers are the timer
 *                                                           chunks that follow, not those of earlier blobs
 * ```
 *
 * A chain is a full blob followed by deltas, read as one byte string (their concatenation): each header starts a
 * segment, applied in order, chunk by chunk. The heap backend writes a key at most once per state in a delta; the
 * LevelDB backend writes every write-back of a key in the order it happened (value, tombstone, value…): the last wins.
 * Full blobs are format 1 byte for byte, so checkpoints from before deltas existed read unchanged.
 *
 * Keys are msgpack strings or numbers and keep their type. Values: value state → the user value; map state → a
 * msgpack map decoded as a `Map` (its keys keep their type); list state → an array. A key appears at most once per
 * state across the full blobs of a snapshot, because every key belongs to exactly one key group.
 *
 * Serialiser settings, and why:
 * - records on (the msgpackr default): plain objects are written as msgpackr records and come back as plain objects,
 *   while `mapsAsObjects: false` brings msgpack maps back as `Map`s. With `useRecords: false` both objects and Maps
 *   become msgpack maps and cannot be told apart on decode (measured: `{x: 1}` came back as `Map {'x' => 1}`).
 *   Each value is packed without shared structures, so every chunk is self-describing.
 * - `variableMapSize`: objects and Maps with more than 65,535 keys pack instead of throwing.
 * - `moreTypes`: Sets, typed arrays, RegExps and Errors survive a snapshot too.
 */
export const SNAPSHOT_FORMAT_VERSION = 1;
/** Header format of a delta blob. */
export const DELTA_FORMAT_VERSION = 2;

/** Pairs per chunk: packing 4,096 pairs takes ~0.5 ms, a fine enough grain for 5 ms time slices. */
export const CHUNK_PAIRS = 4096;

/** The format's msgpackr settings (a bench decodes the same bytes with another msgpackr instance). @internal */
export const SNAPSHOT_PACKR_OPTIONS = { mapsAsObjects: false, variableMapSize: true, moreTypes: true } as const;
// One instance for packing and unpacking: decoding must use the same options (the module-level `unpackMultiple`
// would turn Maps nested in objects into plain objects: caught by the round-trip test).
const packr = new Packr(SNAPSHOT_PACKR_OPTIONS);

/** @internal */
export function newStateChunk(name: string, kind: StateKind): unknown[] {
  return ['s', name, kind];
}

/** @internal */
export function newTimerChunk(domain: TimeDomain = 'processing-time'): unknown[] {
  return [domain === 'event-time' ? 'e' : 't'];
}

/** Which clock a timer follows: the wall clock, or the watermark. */
export type TimeDomain = 'processing-time' | 'event-time';

/** A chunk is full when it holds {@link CHUNK_PAIRS} pairs after its 3 (state) or 1 (timer) header fields. @internal */
export function chunkIsFull(chunk: unknown[]): boolean {
  return chunk.length >= 2 * CHUNK_PAIRS + 3;
}

/** @internal */
export function packHeader(keyGroup: number): Uint8Array {
  return packr.pack([SNAPSHOT_FORMAT_VERSION, keyGroup]);
}

/** @internal */
export function packDeltaHeader(keyGroup: number): Uint8Array {
  return packr.pack([DELTA_FORMAT_VERSION, keyGroup, 'delta']);
}

/** @internal */
export function newTombstoneChunk(name: string, kind: StateKind): unknown[] {
  return ['x', name, kind];
}

/** A tombstone chunk is full at {@link CHUNK_PAIRS} keys. @internal */
export function tombstonesAreFull(chunk: unknown[]): boolean {
  return chunk.length >= CHUNK_PAIRS + 3;
}

/** @internal */
export function packTimerReset(): Uint8Array {
  return packr.pack(['r']);
}

/** Packs one key or value on its own, with the format's settings (an element of a packed-pairs chunk). @internal */
export function packElement(value: unknown): Uint8Array {
  return packr.pack(value);
}

/** Decodes what {@link packElement} packed. @internal */
export function unpackElement(bytes: Uint8Array): unknown {
  return packr.unpack(bytes);
}

/**
 * Packs a chunk. A state chunk holding a value msgpack cannot write fails with `SLUICE_STATE_NOT_SERIALIZABLE`,
 * naming the state, the key and where in its value. @internal
 */
export function packChunk(chunk: unknown[]): Uint8Array {
  readAhead(chunk);
  try {
    return packr.pack(chunk);
  } catch (err) {
    if (chunk[0] !== 's') throw err;
    for (let i = 3; i + 1 < chunk.length; i += 2) {
      try {
        packr.pack(chunk[i + 1]);
      } catch (valueErr) {
        throw unserializableState(String(chunk[1]), chunk[i], chunk[i + 1], valueErr);
      }
    }
    throw err;
  }
}

/** Packs one key's value of state `name` on its own, as {@link packElement} does, or says what cannot be packed. @internal */
export function packStateValue(name: string, key: unknown, value: unknown): Uint8Array {
  try {
    return packr.pack(value);
  } catch (err) {
    throw unserializableState(name, key, value, err);
  }
}

function unserializableState(name: string, key: unknown, value: unknown, cause: unknown): SluiceError {
  return new SluiceError(
    StateErrorCodes.notSerializable,
    `state "${name}" holds, for key ${JSON.stringify(key)}, a value that cannot be written to a checkpoint ` +
      `(${packFailure(cause, [value], 'the value')}). Keyed state must be ${PLAIN_DATA}: store a string or number in place ` +
      `of a symbol ${VALUES_DOC}`,
    { cause, retriable: false },
  );
}

/** Where {@link readAhead} leaves its sum, so the reads are not optimised away. */
let readAheadSum = 0;

/**
 * Reads the first word of every key and value of `chunk` before it is packed. An incremental checkpoint's chunk
 * holds entries touched over the last interval, scattered across the heap; inside the packer each of them is a
 * cache miss taken one at a time, since the packer's work between two elements keeps the processor from running
 * ahead to the next one. In this tight loop the misses overlap, and the packer then finds the chunk in the cache.
 * Measured (2026-12-07): 590k pairs of 2M `{ key, n }` values in random order, 520–600 ns a pair packed cold,
 * 290–390 ns after this loop (121–145 ns when the pairs lie in memory order); bench/incremental-checkpoints.ts:
 * checkpoint median 177–194 ms against 219–249 ms, six interleaved pairs.
 */
function readAhead(chunk: readonly unknown[]): void {
  let sum = 0;
  for (let i = 0; i < chunk.length; i++) {
    const element = chunk[i];
    if (typeof element === 'string') sum += element.length;
    else if (typeof element === 'object' && element !== null) sum++;
  }
  readAheadSum += sum;
}

/** A decoded chunk, handed to the restorer one at a time. @internal */
export type DecodedChunk =
  | { type: 'segment'; delta: boolean; offset: number }
  | { type: 'state'; name: string; kind: StateKind; pairs: unknown[]; from: number }
  | { type: 'timers'; domain: TimeDomain; pairs: unknown[]; from: number }
  | { type: 'tombstones'; name: string; kind: StateKind; keys: unknown[]; from: number }
  | { type: 'timer-reset' };

/** A packed-pairs chunk left packed (`decodeKeyGroupBlob(…, { packed: true })`). @internal */
export type PackedStateChunk = { type: 'packed-state' } & PackedPairs;

/**
 * Decodes the blob (or chain of blobs) of `keyGroup` chunk by chunk; each header yields a `segment` first (the
 * generator lets the caller yield between chunks). Packed-pairs chunks come as `state` chunks, decoded, unless
 * `packed` asks for them as they are. Throws `SLUICE_STATE_SNAPSHOT_CORRUPT` when the bytes do not follow the format.
 * @internal
 */
export function decodeKeyGroupBlob(keyGroup: number, blob: Uint8Array): Generator<DecodedChunk>;
export function decodeKeyGroupBlob(keyGroup: number, blob: Uint8Array, options: { packed: true }): Generator<DecodedChunk | PackedStateChunk>;
export function* decodeKeyGroupBlob(keyGroup: number, blob: Uint8Array, options?: { packed: true }): Generator<DecodedChunk | PackedStateChunk> {
  let offset = 0;
  let inDelta: boolean | undefined; // undefined: before the first header
  while (offset < blob.length) {
    if (inDelta !== undefined && isPackedPairsChunk(blob, offset)) {
      const chunk = readPackedPairs(keyGroup, blob, offset);
      offset = chunk.end;
      if (options?.packed === true) yield { type: 'packed-state', ...chunk };
      else yield { type: 'state', name: chunk.name, kind: chunk.kind, pairs: unpackPairs(keyGroup, chunk), from: 0 };
      continue;
    }
    let item: unknown;
    let end = -1;
    const at = offset;
    try {
      packr.unpackMultiple(blob.subarray(offset), (value: unknown, _start?: number, stop?: number) => {
        item = value;
        end = stop ?? -1;
        return false; // one value per call: the caller may yield before the next
      });
    } catch (err) {
      throw corruptSnapshot(keyGroup, `cannot decode msgpack at byte ${offset}`, err);
    }
    if (end <= 0) throw corruptSnapshot(keyGroup, `cannot find the end of the value at byte ${offset}`);
    offset += end;
    if (!Array.isArray(item)) throw corruptSnapshot(keyGroup, `expected an array at byte ${at}`);
    const head = item[0];
    if (typeof head === 'number') {
      if (head === SNAPSHOT_FORMAT_VERSION && item.length === 2) {
        if (inDelta !== undefined) throw corruptSnapshot(keyGroup, `a full blob follows another blob at byte ${at}`);
        inDelta = false;
      } else if (head === DELTA_FORMAT_VERSION && item[2] === 'delta') {
        if (inDelta === undefined) throw corruptSnapshot(keyGroup, 'a delta blob has no full blob before it');
        inDelta = true;
      } else {
        throw corruptSnapshot(keyGroup, `unknown snapshot format version ${String(head)} at byte ${at}; expected ${SNAPSHOT_FORMAT_VERSION} or ${DELTA_FORMAT_VERSION}`);
      }
      if (item[1] !== keyGroup) throw corruptSnapshot(keyGroup, `the blob's header says key group ${String(item[1])}`);
      yield { type: 'segment', delta: inDelta, offset: at };
      continue;
    }
    if (inDelta === undefined) throw corruptSnapshot(keyGroup, 'the blob does not start with a header');
    if (head === 's' && typeof item[1] === 'string' && isKind(item[2]) && (item.length - 3) % 2 === 0) {
      yield { type: 'state', name: item[1], kind: item[2], pairs: item, from: 3 };
    } else if ((head === 't' || head === 'e') && (item.length - 1) % 2 === 0) {
      yield { type: 'timers', domain: head === 'e' ? 'event-time' : 'processing-time', pairs: item, from: 1 };
    } else if (inDelta && head === 'x' && typeof item[1] === 'string' && isKind(item[2])) {
      yield { type: 'tombstones', name: item[1], kind: item[2], keys: item, from: 3 };
    } else if (inDelta && head === 'r' && item.length === 1) {
      yield { type: 'timer-reset' };
    } else {
      throw corruptSnapshot(keyGroup, `unexpected chunk ${JSON.stringify(String(head))}${inDelta ? '' : ' in a full blob'}`);
    }
  }
  if (inDelta === undefined) throw corruptSnapshot(keyGroup, 'the blob is empty');
}

/** True when `key` can be a state key (decoded data is checked before it reaches a Map). @internal */
export function isStateKey(key: unknown): key is StateKey {
  return typeof key === 'string' || typeof key === 'number';
}

function isKind(value: unknown): value is StateKind {
  return value === 'value' || value === 'map' || value === 'list';
}

/** The error for bytes that do not follow the format. @internal */
export function corruptSnapshot(keyGroup: number, what: string, cause?: unknown): SluiceError {
  return new SluiceError(
    StateErrorCodes.snapshotCorrupt,
    `keyed state snapshot of key group ${keyGroup} is corrupt: ${what}; restore from an earlier checkpoint`,
    cause === undefined ? {} : { cause },
  );
}

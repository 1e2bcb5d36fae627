import { Packr } from 'msgpackr';
import { SluiceError } from '../errors/index.ts';
import type { StateKey } from './key-groups.ts';
import { StateErrorCodes } from './state-errors.ts';
import type { StateKind } from './state-table.ts';

/**
 * Keyed state snapshot format, version 1: one blob per non-empty key group.
 *
 * A blob is a concatenation of msgpack values, each packed on its own (so a reader can decode one, yield to the
 * event loop, and go on):
 *
 * ```
 * blob        := header chunk*
 * header      := [1, keyGroup]                              1 = format version; keyGroup = the blob's key group
 * chunk       := stateChunk | timerChunk
 * stateChunk  := ['s', name, kind, k0, v0, k1, v1, ...]     kind: 'value' | 'map' | 'list'; ≤ CHUNK_PAIRS pairs;
 *                                                           one state may span several chunks
 * timerChunk  := ['t' | 'e', k0, ts0, k1, ts1, ...]         't': processing-time, 'e': event-time timers of the key
 *                                                           group; ≤ CHUNK_PAIRS (blobs without 'e' chunks, from
 *                                                           before event time existed, read the same)
 * ```
 *
 * Keys are msgpack strings or numbers and keep their type. Values: value state → the user value; map state → a
 * msgpack map decoded as a `Map` (its keys keep their type); list state → an array. A key appears at most once per
 * state across the blobs of a snapshot, because every key belongs to exactly one key group.
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

/** Pairs per chunk: packing 4,096 pairs takes ~0.5 ms, a fine enough grain for 5 ms time slices. */
export const CHUNK_PAIRS = 4096;

const packrOptions = { mapsAsObjects: false, variableMapSize: true, moreTypes: true } as const;
// One instance for packing and unpacking: decoding must use the same options (the module-level `unpackMultiple`
// would turn Maps nested in objects into plain objects: caught by the round-trip test).
const packr = new Packr(packrOptions);

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
export function packChunk(chunk: unknown[]): Uint8Array {
  return packr.pack(chunk);
}

/** A decoded chunk, handed to the restorer one at a time. @internal */
export type DecodedChunk =
  | { type: 'state'; name: string; kind: StateKind; pairs: unknown[]; from: number }
  | { type: 'timers'; domain: TimeDomain; pairs: unknown[]; from: number };

/**
 * Decodes the blob of `keyGroup` chunk by chunk (the generator lets the caller yield between chunks).
 * Throws `SLUICE_STATE_SNAPSHOT_CORRUPT` when the blob does not follow the format.
 * @internal
 */
export function* decodeKeyGroupBlob(keyGroup: number, blob: Uint8Array): Generator<DecodedChunk> {
  let offset = 0;
  let first = true;
  while (offset < blob.length) {
    let item: unknown;
    let end = -1;
    try {
      packr.unpackMultiple(blob.subarray(offset), (value: unknown, _start?: number, stop?: number) => {
        item = value;
        end = stop ?? -1;
        return false; // one value per call: the caller may yield before the next
      });
    } catch (err) {
      throw corrupt(keyGroup, `cannot decode msgpack at byte ${offset}`, err);
    }
    if (end <= 0) throw corrupt(keyGroup, `cannot find the end of the value at byte ${offset}`);
    offset += end;
    if (!Array.isArray(item)) throw corrupt(keyGroup, `expected an array at byte ${offset}`);
    if (first) {
      first = false;
      if (item[0] !== SNAPSHOT_FORMAT_VERSION) {
        throw corrupt(keyGroup, `unknown snapshot format version ${String(item[0])}; expected ${SNAPSHOT_FORMAT_VERSION}`);
      }
      if (item[1] !== keyGroup) throw corrupt(keyGroup, `the blob's header says key group ${String(item[1])}`);
      continue;
    }
    if (item[0] === 's' && typeof item[1] === 'string' && isKind(item[2]) && (item.length - 3) % 2 === 0) {
      yield { type: 'state', name: item[1], kind: item[2], pairs: item, from: 3 };
    } else if ((item[0] === 't' || item[0] === 'e') && (item.length - 1) % 2 === 0) {
      yield { type: 'timers', domain: item[0] === 'e' ? 'event-time' : 'processing-time', pairs: item, from: 1 };
    } else {
      throw corrupt(keyGroup, `unexpected chunk ${JSON.stringify(String(item[0]))}`);
    }
  }
  if (first) throw corrupt(keyGroup, 'the blob is empty');
}

/** True when `key` can be a state key (decoded data is checked before it reaches a Map). @internal */
export function isStateKey(key: unknown): key is StateKey {
  return typeof key === 'string' || typeof key === 'number';
}

function isKind(value: unknown): value is StateKind {
  return value === 'value' || value === 'map' || value === 'list';
}

function corrupt(keyGroup: number, what: string, cause?: unknown): SluiceError {
  return new SluiceError(
    StateErrorCodes.snapshotCorrupt,
    `keyed state snapshot of key group ${keyGroup} is corrupt: ${what}; restore from an earlier checkpoint`,
    cause === undefined ? {} : { cause },
  );
}

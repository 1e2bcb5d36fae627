import { Packr } from 'msgpackr';

/**
 * msgpackr settings for operator state and source positions in checkpoints. `useRecords: false` keeps the bytes
 * self-describing (no shared structure table that a later process would need); `mapsAsObjects: false` keeps `Map`s
 * as `Map`s; `variableMapSize` lifts msgpackr's 65,535-key limit on plain objects.
 */
const packr = new Packr({ useRecords: false, mapsAsObjects: false, variableMapSize: true, moreTypes: true });

/** Serialises a msgpack-compatible value (objects, arrays, Maps, Sets, Dates, typed arrays, bigints). */
export function packValue(value: unknown): Uint8Array {
  return packr.pack(value);
}

/** Inverse of {@link packValue}. */
export function unpackValue<T = unknown>(bytes: Uint8Array): T {
  return packr.unpack(bytes) as T;
}

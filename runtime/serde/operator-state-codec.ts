import { Packr } from './msgpackr.ts';

/**
 * msgpackr settings for operator state and source positions in checkpoints.
 *
 * Plain objects and `Map`s must both come back as what they were (a sink's `{ transactions: [...] }` and a source's
 * `Map` of positions). With `useRecords: true` objects are written as msgpackr records and `Map`s as msgpack maps, so
 * `mapsAsObjects: false` can decode maps as `Map`s without turning objects into maps too. No shared `structures`
 * array is configured, so every blob carries its own record definitions and a fresh process can read it (checked by
 * unpacking with a new `Packr` in the tests).
 */
const packr = new Packr({ useRecords: true, mapsAsObjects: false, moreTypes: true });

/** Serialises a msgpack-compatible value (objects, arrays, Maps, Sets, Dates, typed arrays, bigints). */
export function packValue(value: unknown): Uint8Array {
  return packr.pack(value);
}

/** Inverse of {@link packValue}. */
export function unpackValue<T = unknown>(bytes: Uint8Array): T {
  return packr.unpack(bytes) as T;
}

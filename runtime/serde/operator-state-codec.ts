import { SluiceError } from '../errors/index.ts';
import { StateErrorCodes } from '../state/state-errors.ts';
import { Packr } from './msgpackr.ts';
import { packFailure, PLAIN_DATA, VALUES_DOC } from './unserializable.ts';

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

/**
 * Serialises a msgpack-compatible value (objects, arrays, Maps, Sets, Dates, typed arrays, bigints). Operator state
 * holds user data (broadcast state, records an `asyncMap` or a window holds): a value msgpack cannot write fails with
 * `SLUICE_STATE_NOT_SERIALIZABLE`, not retriable.
 */
export function packValue(value: unknown): Uint8Array {
  try {
    return packr.pack(value);
  } catch (err) {
    throw new SluiceError(
      StateErrorCodes.notSerializable,
      `an operator's state (broadcast state, or records an asyncMap or a window holds) cannot be written to a checkpoint ` +
        `(${packFailure(err, [value], 'the state')}). It must be ${PLAIN_DATA} ${VALUES_DOC}`,
      { cause: err, retriable: false },
    );
  }
}

/** Inverse of {@link packValue}. */
export function unpackValue<T = unknown>(bytes: Uint8Array): T {
  return packr.unpack(bytes) as T;
}

import { SluiceError } from '../errors/index.ts';
import { StateErrorCodes } from './state-errors.ts';

/**
 * Keys must be well-formed strings (or numbers), because every place a key is kept or sent holds it as UTF-8: a
 * checkpoint, the LevelDB backend's database, a record batch to another thread, and the key group hash. UTF-8 has no
 * form for an unpaired surrogate — half an emoji, as `slice()` and `substring()` leave when they cut one in two — so
 * such a key would come back from a restore as a different string (`'ab\uD83D'` and `'ab\uD83C'` both as `'ab���'`):
 * the state of both lost, under one key that no record has. Refusing the key when it first reaches state, with a
 * message that says how to cut strings, loses nothing; accepting it loses state at the next failover.
 */

/** Index of the first unpaired surrogate in `s`, or -1 when `s` is well-formed (has a UTF-8 form). @internal */
export function loneSurrogateAt(s: string): number {
  if (s.isWellFormed()) return -1;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0xd800 || c > 0xdfff) continue;
    const next = s.charCodeAt(i + 1);
    if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) i++; // a pair
    else return i;
  }
  return -1;
}

/**
 * The error for a key with an unpaired surrogate at `at`: `what` says where it was met ("the key", "the map key of
 * state \"x\""). Not retriable: a restart replays the record that carried it. @internal
 */
export function illFormedKey(what: string, key: string, at: number): SluiceError {
  return new SluiceError(
    StateErrorCodes.invalidKey,
    `${what} ${JSON.stringify(key)} has an unpaired surrogate at index ${at} (half of an emoji or other character ` +
      'outside the BMP, as slice() or substring() leave when they cut one in two). Keys are kept as UTF-8 in ' +
      'checkpoints and between threads, which cannot hold it, so the key would change at a restore and its state ' +
      'would be lost; return a well-formed string: cut by code points (Array.from(s).slice(0, n).join(\'\')), or ' +
      'replace the half with U+FFFD (s.toWellFormed())',
    { retriable: false },
  );
}

import { SluiceError } from '../errors/index.ts';
import { murmur3String, NO_UTF8 } from './murmur3.ts';
import { illFormedKey, loneSurrogateAt } from './well-formed-key.ts';

/**
 * A key as the state backends see it. Strings and numbers only: both have a stable text form and keep their type
 * through msgpack snapshots.
 *
 * **Persisted contract**: a key is hashed as the UTF-8 bytes of `String(key)` with MurmurHash3 x86_32, seed 0, so the
 * number `42` and the string `"42"` fall into the same key group (they are still different keys). Changing this
 * mapping would send restored state to the wrong subtasks; never change it for an existing `maxParallelism`.
 */
export type StateKey = string | number;

/** Inclusive range of key groups `[start, end]` owned by one subtask. */
export interface KeyGroupRange {
  start: number;
  end: number;
}

/** Error codes thrown by the key-group functions. */
export const KeyGroupErrorCodes = {
  invalidParallelism: 'SLUICE_INVALID_PARALLELISM',
} as const;

/** Largest `maxParallelism` accepted (Flink's limit, 2^15): key-group ids fit in blob keys and snapshot headers. */
export const MAX_MAX_PARALLELISM = 32768;

/**
 * The key group of `key`: `murmur3(utf8(String(key))) mod maxParallelism`. A string with an unpaired surrogate has
 * no UTF-8 form and is refused with `SLUICE_STATE_INVALID_KEY` (well-formed-key.ts says why).
 *
 * @example
 * ```ts
 * const g = keyGroupOf('user-17', 128); // 0..127, same on every run and machine
 * ```
 */
export function keyGroupOf(key: StateKey, maxParallelism: number): number {
  const hash = murmur3String(typeof key === 'string' ? key : String(key));
  if (hash === NO_UTF8) throw illFormedKey('the key', key as string, loneSurrogateAt(key as string));
  return hash % maxParallelism;
}

/**
 * Key groups owned by `subtask` of `parallelism`: `[ceil(i*M/p), ceil((i+1)*M/p) - 1]`. Contiguous, disjoint and
 * covering `[0, M-1]` over all subtasks; agrees with {@link ownerOfKeyGroup}.
 *
 * @example
 * ```ts
 * keyGroupRangeOf(1, 3, 128); // { start: 43, end: 85 }
 * ```
 */
export function keyGroupRangeOf(subtask: number, parallelism: number, maxParallelism: number): KeyGroupRange {
  validateParallelism(parallelism, maxParallelism);
  if (!Number.isInteger(subtask) || subtask < 0 || subtask >= parallelism) {
    throw new SluiceError(
      KeyGroupErrorCodes.invalidParallelism,
      `subtask index ${subtask} is out of range for parallelism ${parallelism}; use an integer in 0..${parallelism - 1}`,
    );
  }
  return {
    start: ceilDiv(subtask * maxParallelism, parallelism),
    end: ceilDiv((subtask + 1) * maxParallelism, parallelism) - 1,
  };
}

/**
 * The subtask (of `parallelism`) that owns `keyGroup`: `floor(g*p/M)`.
 *
 * @example
 * ```ts
 * ownerOfKeyGroup(keyGroupOf('user-17', 128), 4, 128); // the subtask a hash edge sends 'user-17' to
 * ```
 */
export function ownerOfKeyGroup(keyGroup: number, parallelism: number, maxParallelism: number): number {
  return Math.floor((keyGroup * parallelism) / maxParallelism);
}

/**
 * Throws `SLUICE_INVALID_PARALLELISM` unless `1 <= parallelism <= maxParallelism <= 32768`, all integers.
 * Call it where a plan or backend is built, so a bad setting fails before anything runs.
 */
export function validateParallelism(parallelism: number, maxParallelism: number): void {
  validateMaxParallelism(maxParallelism);
  if (!Number.isInteger(parallelism) || parallelism < 1 || parallelism > maxParallelism) {
    throw new SluiceError(
      KeyGroupErrorCodes.invalidParallelism,
      `parallelism ${parallelism} is invalid with maxParallelism ${maxParallelism}; use an integer in 1..${maxParallelism} ` +
        `(maxParallelism is fixed for the life of a job's state; raise it only when starting without state)`,
    );
  }
}

/** Throws `SLUICE_INVALID_PARALLELISM` unless `maxParallelism` is an integer in 1..32768. */
export function validateMaxParallelism(maxParallelism: number): void {
  if (!Number.isInteger(maxParallelism) || maxParallelism < 1 || maxParallelism > MAX_MAX_PARALLELISM) {
    throw new SluiceError(
      KeyGroupErrorCodes.invalidParallelism,
      `maxParallelism ${maxParallelism} is invalid; use an integer in 1..${MAX_MAX_PARALLELISM} (default 128)`,
    );
  }
}

/** Throws `SLUICE_INVALID_PARALLELISM` unless `range` is a non-empty integer range inside `[0, maxParallelism-1]`. */
export function validateKeyGroupRange(range: KeyGroupRange, maxParallelism: number): void {
  validateMaxParallelism(maxParallelism);
  const { start, end } = range;
  if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end < start || end >= maxParallelism) {
    throw new SluiceError(
      KeyGroupErrorCodes.invalidParallelism,
      `key group range [${start}, ${end}] is invalid with maxParallelism ${maxParallelism}; ` +
        `use keyGroupRangeOf(subtask, parallelism, maxParallelism)`,
    );
  }
}

function ceilDiv(a: number, b: number): number {
  return Math.floor((a + b - 1) / b);
}

import type { CheckpointManifest, CheckpointStore } from '../checkpoint/index.ts';
import type { LoadedCheckpoint } from '../checkpoint/store-layout.ts';
import { SluiceError } from '../errors/index.ts';
import { keyGroupOf, materializeChain, type StateKey } from '../state/index.ts';
import { decodeKeyGroupBlob, type DecodedChunk, type TimeDomain } from '../state/keyed-snapshot-format.ts';
import { StateErrorCodes } from '../state/state-errors.ts';
import { operatorsWithBlobs } from './operator-blobs.ts';
import type { StateKind } from '../state/state-table.ts';

/** A keyed operator of a checkpoint, as its manifest describes it (no blob read). */
export interface KeyedOperatorInfo {
  /** The operator's uid (`.uid(...)` in the job, or the one the plan gave it). */
  readonly uid: string;
  /** The operator's name in the plan (`reduce`, `process`, …). */
  readonly name: string;
  /** Key groups that hold state. */
  readonly keyGroups: number;
  /** Bytes a restore reads: every key group's chain (its full blob and deltas). */
  readonly bytes: number;
}

/** One key's value of one named state, as the checkpoint holds it. */
export interface KeyedStateEntry {
  /** The state's name, as declared in the job. */
  readonly state: string;
  /** The state's kind: `value`, `map` or `list`. */
  readonly kind: StateKind;
  /** The key, a string or a number as the job's `keyBy` gave it. */
  readonly key: StateKey;
  /** The value: the value state's value, a `Map` for map state, an array for list state. */
  readonly value: unknown;
}

/** One pending timer of one key, as the checkpoint holds it: it fires `onTimer` when its clock reaches `timestamp`. */
export interface KeyedTimerEntry {
  /** `processing-time` (the wall clock) or `event-time` (the watermark). */
  readonly timer: TimeDomain;
  /** The key the timer was registered for. */
  readonly key: StateKey;
  /** When it fires, in ms. */
  readonly timestamp: number;
}

/** Which entries {@link readKeyedState} reads. */
export interface ReadKeyedStateOptions {
  /** Only this named state. */
  readonly state?: string;
  /**
   * Only these keys (a key is a string or a number, and `'7'` is not `7`). Only their key groups are read, so a
   * lookup in a checkpoint of millions of keys reads a few chains.
   */
  readonly keys?: readonly StateKey[];
}

/**
 * Checkpoint `id` of `job`, or its newest checkpoint or savepoint, loaded to read part of it: its blobs are checked
 * (size, crc) as they are read, not all up front, so a key lookup reads one chain however large the state. A damaged
 * blob fails the read that meets it (`SLUICE_CHECKPOINT_CORRUPT`, naming the checkpoint). `undefined` when the job
 * has none; `SLUICE_CHECKPOINT_NOT_FOUND` for an `id` it does not have.
 *
 * @example
 * ```ts
 * const checkpoint = await checkpointToRead(store, 'orders');
 * ```
 */
export async function checkpointToRead(store: CheckpointStore, job: string, id?: number): Promise<LoadedCheckpoint | undefined> {
  const chosen = id ?? (await store.ids(job))[0];
  return chosen === undefined ? undefined : store.load(job, chosen, { checkAsRead: true });
}

/**
 * The operators of `manifest` that hold keyed state, in the order of the plan.
 *
 * @example
 * ```ts
 * for (const op of keyedOperatorsOf(checkpoint.manifest)) console.log(op.uid, op.keyGroups, op.bytes);
 * ```
 */
export function keyedOperatorsOf(manifest: CheckpointManifest): KeyedOperatorInfo[] {
  return operatorsWithBlobs(manifest, (ref) => ref.keyGroup).map(({ uid, name, parts, bytes }) => ({ uid, name, keyGroups: parts, bytes }));
}

/**
 * Reads the keyed state of operator `operatorUid` from a loaded checkpoint, key group by key group in ascending order,
 * as a restore would see it: a key group's chain (a full blob and the deltas after it, whichever backend wrote it) is
 * merged first, so each key appears once per state with its last value, and keys deleted by a delta do not appear.
 * Memory holds one key group at a time. Throws `SLUICE_STATE_NO_KEYED_STATE` when the operator holds none in this
 * checkpoint, naming those that do; `SLUICE_STATE_SNAPSHOT_CORRUPT` for a chain that cannot be decoded.
 *
 * @example
 * ```ts
 * const store = await CheckpointStore.openExisting('.sluice');
 * const checkpoint = await checkpointToRead(store, 'orders');
 * for await (const entry of readKeyedState(checkpoint!, 'totals-per-user', { keys: ['u17'] })) console.log(entry.value);
 * await store.close();
 * ```
 */
export async function* readKeyedState(checkpoint: LoadedCheckpoint, operatorUid: string, options: ReadKeyedStateOptions = {}): AsyncGenerator<KeyedStateEntry> {
  const wanted = options.keys === undefined ? undefined : new Set(options.keys);
  for await (const chunk of restoredChunks(checkpoint, operatorUid, options.keys)) {
    if (chunk.type !== 'state' || (options.state !== undefined && chunk.name !== options.state)) continue;
    const pairs = chunk.pairs;
    for (let j = chunk.from; j + 1 < pairs.length; j += 2) {
      const key = pairs[j] as StateKey;
      if (wanted !== undefined && !wanted.has(key)) continue;
      yield { state: chunk.name, kind: chunk.kind, key, value: pairs[j + 1] };
    }
  }
}

/**
 * The pending timers of operator `operatorUid` in a loaded checkpoint (of `keys` only, when given), key group by key
 * group as {@link readKeyedState} reads state: what would fire after a restore. Throws as it does.
 *
 * @example
 * ```ts
 * for await (const t of readTimers(checkpoint, 'sessions', { keys: ['u17'] })) console.log(t.timer, new Date(t.timestamp));
 * ```
 */
export async function* readTimers(checkpoint: LoadedCheckpoint, operatorUid: string, options: Pick<ReadKeyedStateOptions, 'keys'> = {}): AsyncGenerator<KeyedTimerEntry> {
  const wanted = options.keys === undefined ? undefined : new Set(options.keys);
  for await (const chunk of restoredChunks(checkpoint, operatorUid, options.keys)) {
    if (chunk.type !== 'timers') continue;
    const pairs = chunk.pairs;
    for (let j = chunk.from; j + 1 < pairs.length; j += 2) {
      const key = pairs[j] as StateKey;
      if (wanted !== undefined && !wanted.has(key)) continue;
      yield { timer: chunk.domain, key, timestamp: pairs[j + 1] as number };
    }
  }
}

/**
 * The chunks of the operator's key groups (those of `keys` only, when given) in ascending order, each key group's
 * chain merged into one full blob first: what a restore would load.
 */
async function* restoredChunks(checkpoint: LoadedCheckpoint, operatorUid: string, keys: readonly StateKey[] | undefined): AsyncGenerator<DecodedChunk> {
  const { manifest } = checkpoint;
  const operators = keyedOperatorsOf(manifest);
  if (!operators.some((op) => op.uid === operatorUid)) throw noKeyedState(manifest, operatorUid, operators);
  const chains = checkpoint.keyedState(operatorUid);
  const groups = keys === undefined ? [...chains.keys()] : [...new Set(keys.map((key) => keyGroupOf(key, manifest.maxParallelism)))];
  for (const keyGroup of groups.sort((a, b) => a - b)) {
    const chain = chains.get(keyGroup);
    if (chain === undefined) continue; // a key looked up whose key group holds no state
    yield* decodeKeyGroupBlob(keyGroup, await materializeChain(keyGroup, manifest.maxParallelism, chain));
  }
}

function noKeyedState(manifest: CheckpointManifest, operatorUid: string, operators: readonly KeyedOperatorInfo[]): SluiceError {
  const holders = operators.length === 0 ? 'no operator holds keyed state in it' : `operators with keyed state: ${operators.map((op) => op.uid).join(', ')}`;
  return new SluiceError(
    StateErrorCodes.noKeyedState,
    `operator "${operatorUid}" has no keyed state in checkpoint ${manifest.id} of job "${manifest.job}" (${holders}); ` +
      `give one of those uids, or run without --operator to list them`,
    { retriable: false },
  );
}

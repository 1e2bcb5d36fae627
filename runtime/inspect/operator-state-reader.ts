import type { CheckpointManifest } from '../checkpoint/index.ts';
import type { LoadedCheckpoint } from '../checkpoint/store-layout.ts';
import { SluiceError } from '../errors/index.ts';
import { openSourceEnvelope } from '../event-time/source-state-envelope.ts';
import { openEnvelope } from '../exec/operators/operator-state-envelope.ts';
import { unpackValue } from '../serde/operator-state-codec.ts';
import { StateErrorCodes } from '../state/state-errors.ts';
import { operatorsWithBlobs } from './operator-blobs.ts';

/** An operator of a checkpoint that holds operator state, as its manifest describes it (no blob read). */
export interface OperatorStateInfo {
  /** The operator's uid. */
  readonly uid: string;
  /** The operator's name in the plan (`file`, `broadcastProcess`, …). */
  readonly name: string;
  /** Subtasks that stored some: broadcast state is stored by subtask 0 alone (every subtask holds the same). */
  readonly subtasks: number;
  /** Bytes of its operator-state blobs. */
  readonly bytes: number;
}

/**
 * One subtask's operator state, decoded as the operator stored it: a sink's pending transactions or files, broadcast
 * state (`{ name: [[key, value], …] }`), the records an `asyncMap` holds, a window's late-records sink's
 * transactions, a source reader's own state (sources' split positions are in the manifest, `sourcePositions`); and,
 * for keyed operators on event time, the watermark the subtask had reached, which a restore starts from.
 */
export interface OperatorStateEntry {
  /** The subtask that stored it, at the parallelism the checkpoint was taken with. */
  readonly subtask: number;
  /** What the operator stored (undefined when the subtask stored only its watermark). */
  readonly state: unknown;
  /** The watermark the subtask had reached (keyed operators on event time: windows, process functions). */
  readonly watermark?: number;
  /** A source subtask with event time: each of its splits' watermarks, by split. */
  readonly splitWatermarks?: Readonly<Record<string, number>>;
}

/**
 * The operators of `manifest` that hold operator state (state that belongs to a subtask, not to a key), in the order
 * of the plan.
 *
 * @example
 * ```ts
 * for (const op of operatorStateHoldersOf(checkpoint.manifest)) console.log(op.uid, op.subtasks, op.bytes);
 * ```
 */
export function operatorStateHoldersOf(manifest: CheckpointManifest): OperatorStateInfo[] {
  return operatorsWithBlobs(manifest, (ref) => ref.subtask).map(({ uid, name, parts, bytes }) => ({ uid, name, subtasks: parts, bytes }));
}

/**
 * The operator state of operator `operatorUid` in a loaded checkpoint, subtask by subtask in ascending order, each
 * decoded as the operator stored it. Throws `SLUICE_STATE_NO_OPERATOR_STATE` when the operator holds none in this
 * checkpoint, naming those that do; a damaged blob fails as the store reports it (`SLUICE_CHECKPOINT_CORRUPT`).
 *
 * @example
 * ```ts
 * const checkpoint = await checkpointToRead(store, 'orders');
 * for await (const { subtask, state } of readOperatorState(checkpoint!, 'price')) console.log(subtask, state);
 * ```
 */
export async function* readOperatorState(checkpoint: LoadedCheckpoint, operatorUid: string): AsyncGenerator<OperatorStateEntry> {
  const { manifest } = checkpoint;
  const holders = operatorStateHoldersOf(manifest);
  if (!holders.some((op) => op.uid === operatorUid)) throw noOperatorState(manifest, operatorUid, holders);
  const blobs = checkpoint.operatorState(operatorUid);
  for (const subtask of [...blobs.keys()].sort((a, b) => a - b)) {
    const stored = unpackValue(blobs.get(subtask)!);
    yield { subtask, ...(openSourceEnvelope(stored) ?? openEnvelope(stored)) };
  }
}

function noOperatorState(manifest: CheckpointManifest, operatorUid: string, holders: readonly OperatorStateInfo[]): SluiceError {
  const which = holders.length === 0 ? 'no operator holds operator state in it' : `operators with operator state: ${holders.map((op) => op.uid).join(', ')}`;
  return new SluiceError(
    StateErrorCodes.noOperatorState,
    `operator "${operatorUid}" has no operator state in checkpoint ${manifest.id} of job "${manifest.job}" (${which}); ` +
      'give one of those uids, or leave out --operator-state to read its keyed state',
    { retriable: false },
  );
}

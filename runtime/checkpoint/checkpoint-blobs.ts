import { SluiceError } from '../errors/index.ts';
import type { SubtaskAck } from '../exec/index.ts';
import { chainId, keyedChains, type BlobRef, type CheckpointManifest } from './manifest.ts';
import type { BlobInput, SharedBlobInput } from './store-layout.ts';

/** What a checkpoint stores, gathered from its acknowledgements. @internal */
export interface GatheredCheckpoint {
  readonly blobs: Array<BlobInput | SharedBlobInput>;
  readonly sourcePositions: CheckpointManifest['sourcePositions'];
}

/**
 * The blobs and source positions of a checkpoint from every subtask's acknowledgement. An operator's incremental
 * snapshot refers to `parent`, the job's previous checkpoint (or the one the attempt restored): a key group it
 * left unchanged keeps its chain from `parent` (shared blobs), one with a delta gets that chain plus the delta, one
 * with a full blob starts a new chain. Throws `SLUICE_CHECKPOINT_CHAIN_BROKEN` when a snapshot names another parent
 * or a chain `parent` does not have: storing it would make a checkpoint that restores wrong state.
 * @internal
 */
export function gatherCheckpoint(acks: readonly SubtaskAck[], parent: CheckpointManifest | undefined): GatheredCheckpoint {
  const blobs: Array<BlobInput | SharedBlobInput> = [];
  const sourcePositions: CheckpointManifest['sourcePositions'] = {};
  let chains: Map<string, BlobRef[]> | undefined;
  const chainOf = (uid: string, keyGroup: number): BlobRef[] => {
    chains ??= keyedChains(parent?.blobs ?? []);
    const chain = chains.get(chainId(uid, keyGroup));
    if (chain === undefined) throw broken(`checkpoint ${parent?.id ?? '(none)'} has no state of key group ${keyGroup} of operator "${uid}" to build on`);
    return chain;
  };
  for (const ack of acks) {
    for (const { uid, snapshot } of ack.operators) {
      if (snapshot.keyed !== undefined) {
        for (const [keyGroup, bytes] of snapshot.keyed) blobs.push({ operatorUid: uid, keyGroup, bytes });
      }
      const incremental = snapshot.incremental;
      if (incremental !== undefined && (incremental.deltas.size > 0 || incremental.unchanged.length > 0)) {
        if (incremental.parent === undefined || incremental.parent !== parent?.id) {
          throw broken(`operator "${uid}" subtask ${ack.subtask} snapshotted changes since checkpoint ${String(incremental.parent)}, but the job's last checkpoint is ${parent?.id ?? '(none)'}`);
        }
        for (const keyGroup of incremental.unchanged) for (const ref of chainOf(uid, keyGroup)) blobs.push({ shared: ref });
        for (const [keyGroup, bytes] of incremental.deltas) {
          for (const ref of chainOf(uid, keyGroup)) blobs.push({ shared: ref });
          blobs.push({ operatorUid: uid, keyGroup, bytes, delta: true });
        }
      }
      if (snapshot.operator !== undefined) blobs.push({ operatorUid: uid, subtask: ack.subtask, bytes: snapshot.operator });
    }
    if (ack.source !== undefined) {
      const list = (sourcePositions[ack.source.uid] ??= []);
      for (const p of ack.source.positions) list.push({ split: p.split, position: p.position });
    }
  }
  return { blobs, sourcePositions };
}

function broken(what: string): SluiceError {
  return new SluiceError(
    'SLUICE_CHECKPOINT_CHAIN_BROKEN',
    `incremental checkpoint cannot be built: ${what}; the attempt restarts from the latest checkpoint and writes full blobs (a bug: please report it)`,
    { retriable: true },
  );
}

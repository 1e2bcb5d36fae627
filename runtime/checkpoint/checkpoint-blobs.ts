import { SluiceError } from '../errors/index.ts';
import type { SubtaskAck } from '../exec/index.ts';
import { chainId, keyedChains, type BlobRef, type CheckpointManifest } from './manifest.ts';
import type { BlobInput, SharedBlobInput } from './store-layout.ts';

/** What a checkpoint stores, gathered from its acknowledgements. @internal */
export interface GatheredCheckpoint {
  readonly blobs: Array<BlobInput | SharedBlobInput>;
  readonly sourcePositions: CheckpointManifest['sourcePositions'];
}

/** Merged chains the gathering may use in place of a parent chain's first blobs (`ChainCompactor.take`). @internal */
export interface ChainReplacements {
  take(id: string, chain: readonly BlobRef[]): { readonly bytes: Uint8Array; readonly replaced: number } | undefined;
}

/**
 * The blobs and source positions of a checkpoint from every subtask's acknowledgement. An operator's incremental
 * snapshot refers to `parent`, the job's previous checkpoint (or the one the attempt restored): a key group it
 * left unchanged keeps its chain from `parent` (shared blobs), one with a delta gets that chain plus the delta, one
 * with a full blob starts a new chain. Where `replacements` has a merged blob for the start of a parent chain, the
 * checkpoint writes it as its own full blob instead of sharing the blobs it replaces. Throws
 * `SLUICE_CHECKPOINT_CHAIN_BROKEN` when a snapshot names another parent or a chain `parent` does not have: storing it
 * would make a checkpoint that restores wrong state.
 * @internal
 */
export function gatherCheckpoint(acks: readonly SubtaskAck[], parent: CheckpointManifest | undefined, replacements?: ChainReplacements): GatheredCheckpoint {
  const blobs: Array<BlobInput | SharedBlobInput> = [];
  const sourcePositions: CheckpointManifest['sourcePositions'] = {};
  let chains: Map<string, BlobRef[]> | undefined;
  const chainOf = (uid: string, keyGroup: number): BlobRef[] => {
    chains ??= keyedChains(parent?.blobs ?? []);
    const chain = chains.get(chainId(uid, keyGroup));
    if (chain === undefined) throw broken(`checkpoint ${parent?.id ?? '(none)'} has no state of key group ${keyGroup} of operator "${uid}" to build on`);
    return chain;
  };
  const keepChain = (uid: string, keyGroup: number): void => {
    const chain = chainOf(uid, keyGroup);
    const merged = replacements?.take(chainId(uid, keyGroup), chain);
    if (merged !== undefined) blobs.push({ operatorUid: uid, keyGroup, bytes: merged.bytes, compacted: true });
    for (let i = merged?.replaced ?? 0; i < chain.length; i++) blobs.push({ shared: chain[i]! });
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
        for (const keyGroup of incremental.unchanged) keepChain(uid, keyGroup);
        for (const [keyGroup, bytes] of incremental.deltas) {
          keepChain(uid, keyGroup);
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

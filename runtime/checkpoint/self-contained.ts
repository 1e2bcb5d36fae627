import { materializeChain } from '../state/index.ts';
import { keyedChains } from './manifest.ts';
import type { BlobRef } from './manifest.ts';
import type { BlobInput } from './store-layout.ts';

/**
 * The blobs of a checkpoint that must stand alone (a savepoint, an export): every key group's chain — a full blob
 * followed by deltas, in `blobs` order — merged into one full blob; other blobs as they are. A chain that leaves
 * its key group without state gives a full blob without state: the running job's backend still counts on a chain
 * for that key group, and its next checkpoint builds on this one.
 *
 * @example
 * ```ts
 * const full = await selfContainedBlobs(manifest.maxParallelism, manifest.blobs.map((ref) => blobInput(ref, bytesOf(ref))));
 * ```
 */
export async function selfContainedBlobs(maxParallelism: number, blobs: readonly BlobInput[]): Promise<BlobInput[]> {
  const out: BlobInput[] = [];
  for await (const blob of selfContainedStream(maxParallelism, blobs, (blob) => blob.bytes)) out.push(blob);
  return out;
}

/** How many blobs {@link selfContainedStream} gives for these refs: one per chain, plus the operator-state blobs. */
export function selfContainedCount(refs: readonly BlobRef[]): number {
  return refs.filter((ref) => ref.keyGroup === undefined).length + keyedChains(refs).size;
}

/**
 * The blobs of {@link selfContainedBlobs}, in the same order, one at a time: `bytesOf` reads each blob when its turn
 * comes (a whole chain's blobs at once), so a caller that writes each out before taking the next holds one chain,
 * not the checkpoint (an export of large state).
 * @internal
 */
export async function* selfContainedStream<T extends Omit<BlobInput, 'bytes'>>(
  maxParallelism: number,
  blobs: readonly T[],
  bytesOf: (blob: T) => Uint8Array,
): AsyncGenerator<BlobInput> {
  for (const blob of blobs) if (blob.keyGroup === undefined) yield withBytes(blob, bytesOf(blob));
  for (const chain of keyedChains(blobs).values()) {
    const { operatorUid, keyGroup } = chain[0]!;
    const bytes = chain.length === 1 ? bytesOf(chain[0]!) : await materializeChain(keyGroup!, maxParallelism, Buffer.concat(chain.map(bytesOf)));
    yield { operatorUid, keyGroup: keyGroup!, bytes };
  }
}

function withBytes<T extends Omit<BlobInput, 'bytes'>>(blob: T, bytes: Uint8Array): BlobInput {
  const input: BlobInput = { operatorUid: blob.operatorUid, bytes };
  if (blob.keyGroup !== undefined) input.keyGroup = blob.keyGroup;
  if (blob.subtask !== undefined) input.subtask = blob.subtask;
  return input;
}

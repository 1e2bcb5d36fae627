import { materializeChain } from '../state/index.ts';
import { keyedChains } from './manifest.ts';
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
  const out: BlobInput[] = blobs.filter((blob) => blob.keyGroup === undefined);
  for (const chain of keyedChains(blobs).values()) {
    const { operatorUid, keyGroup } = chain[0]!;
    const bytes = chain.length === 1 ? chain[0]!.bytes : await materializeChain(keyGroup!, maxParallelism, Buffer.concat(chain.map((b) => b.bytes)));
    out.push({ operatorUid, keyGroup: keyGroup!, bytes });
  }
  return out;
}

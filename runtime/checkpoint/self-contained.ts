import { materializeChain } from '../state/index.ts';
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
  const chains = new Map<string, { operatorUid: string; keyGroup: number; parts: Uint8Array[] }>();
  for (const blob of blobs) {
    if (blob.keyGroup === undefined) {
      out.push(blob);
      continue;
    }
    const id = `${blob.operatorUid}\u0000${blob.keyGroup}`;
    const chain = chains.get(id);
    if (chain === undefined) chains.set(id, { operatorUid: blob.operatorUid, keyGroup: blob.keyGroup, parts: [blob.bytes] });
    else chain.parts.push(blob.bytes);
  }
  for (const { operatorUid, keyGroup, parts } of chains.values()) {
    if (parts.length === 1) {
      out.push({ operatorUid, keyGroup, bytes: parts[0]! });
      continue;
    }
    out.push({ operatorUid, keyGroup, bytes: await materializeChain(keyGroup, maxParallelism, Buffer.concat(parts)) });
  }
  return out;
}

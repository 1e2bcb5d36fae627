import { materializeChain } from '../state/index.ts';
import { keyedChains } from './manifest.ts';
import type { BlobRef } from './manifest.ts';
import type { BlobInput } from './store-layout.ts';

/** How many blobs {@link selfContainedStream} gives for these refs: one per chain, plus the operator-state blobs. */
export function selfContainedCount(refs: readonly BlobRef[]): number {
  return refs.filter((ref) => ref.keyGroup === undefined).length + keyedChains(refs).size;
}

/**
 * The blobs of a checkpoint that must stand alone (a savepoint, an export), one at a time: every key group's chain —
 * a full blob followed by deltas, in `blobs` order — merged into one full blob; other blobs as they are (operator
 * state first, then the chains). A chain that leaves its key group without state gives a full blob without state:
 * the running job's backend still counts on a chain for that key group, and its next checkpoint builds on this one.
 *
 * `bytesOf` reads each blob when its turn comes (a whole chain's blobs at once), so a caller that writes each out
 * before taking the next holds one chain, not the checkpoint: an export or a savepoint of large state.
 *
 * @example
 * ```ts
 * for await (const blob of selfContainedStream(manifest.maxParallelism, manifest.blobs, (ref) => readBlob(ref))) await write(blob);
 * ```
 * @internal
 */
export async function* selfContainedStream<T extends Omit<BlobInput, 'bytes'>>(
  maxParallelism: number,
  blobs: readonly T[],
  bytesOf: (blob: T) => Uint8Array | Promise<Uint8Array>,
): AsyncGenerator<BlobInput> {
  for (const blob of blobs) if (blob.keyGroup === undefined) yield withBytes(blob, await bytesOf(blob));
  for (const chain of keyedChains(blobs).values()) {
    const { operatorUid, keyGroup } = chain[0]!;
    const parts = await Promise.all(chain.map(bytesOf));
    const bytes = parts.length === 1 ? parts[0]! : await materializeChain(keyGroup!, maxParallelism, Buffer.concat(parts));
    yield { operatorUid, keyGroup: keyGroup!, bytes };
  }
}

function withBytes<T extends Omit<BlobInput, 'bytes'>>(blob: T, bytes: Uint8Array): BlobInput {
  const input: BlobInput = { operatorUid: blob.operatorUid, bytes };
  if (blob.keyGroup !== undefined) input.keyGroup = blob.keyGroup;
  if (blob.subtask !== undefined) input.subtask = blob.subtask;
  return input;
}

import { HeapKeyedStateBackend } from '../heap-keyed-state-backend.ts';
import { packHeader } from '../keyed-snapshot-format.ts';
import { mergePackedChain } from '../leveldb/packed-chain-merge.ts';

/**
 * The full blob equal to a chain (a full blob followed by deltas, concatenated): what a savepoint or an export
 * stores so that it stands alone. When the chain leaves the key group without state, a full blob with no state (its
 * header alone): the key group keeps a chain, so a checkpoint that builds on this one can still name it.
 *
 * @example
 * ```ts
 * const blob = await materializeChain(17, 128, concatenatedChain);
 * ```
 */
export async function materializeChain(keyGroup: number, maxParallelism: number, chain: Uint8Array): Promise<Uint8Array> {
  // A LevelDB backend's chain merges byte for byte (and stays packed pairs, which restore fastest into that backend).
  const merged = await mergePackedChain(keyGroup, chain);
  if (merged !== undefined) return merged;
  const backend = new HeapKeyedStateBackend({ maxParallelism, range: { start: keyGroup, end: keyGroup } });
  await backend.restore([[keyGroup, chain]]);
  return (await backend.snapshot()).keyGroups.get(keyGroup) ?? packHeader(keyGroup);
}

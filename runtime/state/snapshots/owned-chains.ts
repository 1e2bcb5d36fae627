import type { KeyGroupRange } from '../key-groups.ts';
import type { TimeSlicer } from '../time-slicer.ts';

/**
 * Whether a restore's input can be asked for one key group's chain (a `Map`, or a loaded checkpoint's chain map):
 * then its key-group numbers are read without its chains, and a backend reads only the chains in its range, each
 * when it reaches it. Any other iterable of pairs hands over every chain, in its own order.
 */
function isChainLookup(input: Iterable<[number, Uint8Array]>): input is ReadonlyMap<number, Uint8Array> {
  const candidate = input as Partial<ReadonlyMap<number, Uint8Array>>;
  return typeof candidate.get === 'function' && typeof candidate.keys === 'function' && typeof candidate.has === 'function';
}

/** The key-group numbers of a chain map within `range`, ascending. */
function keyGroupsWithin(input: ReadonlyMap<number, Uint8Array>, range: KeyGroupRange): number[] {
  const ours: number[] = [];
  for (const keyGroup of input.keys()) if (keyGroup >= range.start && keyGroup <= range.end) ours.push(keyGroup);
  return ours.sort((a, b) => a - b);
}

/**
 * The chains of `input` whose key group is in `range`, in the input's order; a chain map's chains are read one by
 * one as the caller advances, and the others not at all (a read-once map would otherwise hand them to the wrong
 * subtask).
 * @internal
 */
export function* chainsInRange(input: Iterable<[number, Uint8Array]>, range: KeyGroupRange): Generator<[number, Uint8Array]> {
  if (isChainLookup(input)) {
    for (const keyGroup of keyGroupsWithin(input, range)) yield [keyGroup, input.get(keyGroup)!];
    return;
  }
  for (const entry of input) if (entry[0] >= range.start && entry[0] <= range.end) yield entry;
}

/**
 * The chains of `input` whose key group is in `range`, in ascending key-group order, for a restore that must write
 * its keys in order. A chain map's chains are read one by one as the caller advances, so the restore holds one
 * chain at a time (measured: a 10M-key restore at p = 1 held ~400 MiB more when every chain was gathered before
 * the first was loaded). Pairs from any other iterable have to be gathered and sorted first; each is let go once
 * the caller has moved past it.
 * @internal
 */
export async function* chainsInKeyGroupOrder(input: Iterable<[number, Uint8Array]>, range: KeyGroupRange, slicer: TimeSlicer): AsyncGenerator<[number, Uint8Array]> {
  if (isChainLookup(input)) {
    for (const keyGroup of keyGroupsWithin(input, range)) yield [keyGroup, input.get(keyGroup)!];
    return;
  }
  const ours: Array<[number, Uint8Array] | undefined> = [];
  for (const entry of input) {
    if (entry[0] >= range.start && entry[0] <= range.end) ours.push(entry);
    await slicer.maybeYield();
  }
  ours.sort((a, b) => a![0] - b![0]);
  for (let i = 0; i < ours.length; i++) {
    const entry = ours[i]!;
    ours[i] = undefined;
    yield entry;
  }
}

import assert from 'node:assert/strict';

/** An output of a keyed count: the key, the record's index, and the record's position in its key's count (1, 2, …). */
export interface CountedRecord {
  readonly key: string;
  readonly index: number;
  readonly count: number;
}

/**
 * Asserts a keyed count was exactly once and in order: per key, the indexes written are exactly `expected`'s, the
 * counts are 1..n, and the records of each split (`splitOf`; records it maps to `undefined` are not checked) were
 * counted in index order — records of one source split reach a key in the order they were read. Splits read in
 * parallel interleave, so nothing is said of the order between them.
 */
export function assertCountedPerKey(written: readonly CountedRecord[], expected: ReadonlyMap<string, readonly number[]>, splitOf: (index: number) => number | undefined): void {
  const byKey = new Map<string, CountedRecord[]>();
  for (const r of written) byKey.set(r.key, [...(byKey.get(r.key) ?? []), r]);
  assert.deepEqual([...byKey.keys()].sort(), [...expected.keys()].sort(), 'the keys written');
  for (const [key, list] of byKey) {
    list.sort((a, b) => a.count - b.count);
    assert.deepEqual(list.map((r) => r.count), list.map((_, n) => n + 1), `counts of ${key}`);
    assert.deepEqual(list.map((r) => r.index).sort((a, b) => a - b), [...(expected.get(key) ?? [])].sort((a, b) => a - b), `indexes of ${key}`);
    const bySplit = new Map<number, number[]>();
    for (const r of list) {
      const split = splitOf(r.index);
      if (split !== undefined) bySplit.set(split, [...(bySplit.get(split) ?? []), r.index]);
    }
    for (const [split, indexes] of bySplit) assert.deepEqual(indexes, [...indexes].sort((a, b) => a - b), `${key}: split ${split} counted in order`);
  }
}

/** The indexes `0 … records - 1` that `keep` keeps, grouped by `keyOf`. */
export function indexesByKey(records: number, keyOf: (index: number) => string, keep: (index: number) => boolean = () => true): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (let i = 0; i < records; i++) if (keep(i)) out.set(keyOf(i), [...(out.get(keyOf(i)) ?? []), i]);
  return out;
}

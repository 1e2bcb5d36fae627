import assert from 'node:assert/strict';
import { test } from 'node:test';
import { batchesOfAtMost } from '../../../runtime/checkpoint/blob-batches.ts';

test('ops are split in order into runs of at most the byte bound; an op larger than the bound is a run of its own', () => {
  const sizes = [3, 4, 2, 9, 1, 1, 5, 0];
  const batches = batchesOfAtMost(sizes, 8, (n) => n);
  assert.deepEqual(batches, [[3, 4], [2], [9], [1, 1, 5, 0]]);
  assert.deepEqual(batches.flat(), sizes, 'nothing lost, nothing reordered');
  assert.deepEqual(batchesOfAtMost([], 8, (n: number) => n), []);
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { diffOutputs, type OutputRecord } from '../../../runtime/testing/index.ts';

const record = (key: string, n: number): OutputRecord => ({ content: `{"key":"${key}","n":${n}}`, identity: key, sequence: `partition 0 key ${key}` });

test('diffOutputs: the same records with one key in another order are a reordering; other keys interleaving differently are not', () => {
  const clean = new Map([['kafka:totals', [record('a', 1), record('b', 1), record('a', 2), record('b', 2)]]]);
  const interleaved = new Map([['kafka:totals', [record('b', 1), record('b', 2), record('a', 1), record('a', 2)]]]);
  assert.equal(diffOutputs(clean, interleaved).identical, true, 'keys may interleave differently');

  const swapped = new Map([['kafka:totals', [record('a', 2), record('b', 1), record('a', 1), record('b', 2)]]]);
  const diff = diffOutputs(clean, swapped);
  assert.equal(diff.identical, false);
  assert.equal(diff.reordered, 1);
  assert.equal(diff.missing + diff.duplicated + diff.differing + diff.unexpected, 0);
  assert.deepEqual(diff.differences[0], {
    output: 'kafka:totals',
    kind: 'reordered',
    expected: 'partition 0 key a: record 0: {"key":"a","n":1}',
    actual: 'partition 0 key a: record 0: {"key":"a","n":2}',
    count: 1,
  });
});

test('diffOutputs: records without a sequence are compared as a multiset', () => {
  const plain = (n: number): OutputRecord => ({ content: `{"n":${n}}` });
  assert.equal(diffOutputs(new Map([['file:out', [plain(1), plain(2)]]]), new Map([['file:out', [plain(2), plain(1)]]])).identical, true);
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  isSluiceError,
} from '../../../runtime/errors/index.ts';
import {
  keyGroupOf,
  keyGroupRangeOf,
  murmur3String,
  ownerOfKeyGroup,
  validateParallelism,
} from '../../../runtime/state/index.ts';

test('keyGroupOf is murmur3 of String(key) mod M, numbers and their strings alike', () => {
  assert.equal(keyGroupOf('user-17', 128), murmur3String('user-17') % 128);
  assert.equal(keyGroupOf(42, 128), keyGroupOf('42', 128));
  assert.equal(keyGroupOf(-1.5, 1000), murmur3String('-1.5') % 1000);
  // pinned values: a change here breaks every persisted snapshot
  assert.deepEqual(['a', 'b', 'user-1', 0, 1, 12345].map((k) => keyGroupOf(k, 128)),
    ['a', 'b', 'user-1', '0', '1', '12345'].map((k) => murmur3String(k) % 128));
  for (let i = 0; i < 1000; i++) {
    const g = keyGroupOf(`k${i}`, 7);
    assert.ok(g >= 0 && g < 7 && Number.isInteger(g));
  }
});

for (const M of [1, 2, 7, 128, 1000]) {
  test(`ranges and owners agree, cover [0, ${M - 1}] contiguously for every p in 1..${M}`, () => {
    for (let p = 1; p <= M; p++) {
      let expectedStart = 0;
      for (let i = 0; i < p; i++) {
        const { start, end } = keyGroupRangeOf(i, p, M);
        assert.equal(start, expectedStart, `p=${p} subtask ${i} starts where ${i - 1} ended`);
        assert.ok(end >= start, `p=${p} subtask ${i} owns at least one key group`);
        for (let g = start; g <= end; g++) assert.equal(ownerOfKeyGroup(g, p, M), i, `M=${M} p=${p} g=${g}`);
        expectedStart = end + 1;
      }
      assert.equal(expectedStart, M, `p=${p} covers every key group`);
    }
  });
}

test('every random key lies in the range of its owner, p in 1..8', () => {
  const M = 128;
  const keys: Array<string | number> = [];
  for (let i = 0; i < 10_000; i++) keys.push(i % 3 === 0 ? Math.floor(Math.random() * 1e9) : Math.random().toString(36).slice(2));
  for (let p = 1; p <= 8; p++) {
    for (const key of keys) {
      const g = keyGroupOf(key, M);
      const owner = ownerOfKeyGroup(g, p, M);
      const { start, end } = keyGroupRangeOf(owner, p, M);
      assert.ok(g >= start && g <= end, `key ${key} group ${g} owner ${owner} of ${p}`);
    }
  }
});

test('invalid parallelism throws SLUICE_INVALID_PARALLELISM naming the values', () => {
  for (const [p, M] of [[0, 128], [129, 128], [1.5, 128], [1, 0], [1, 40000]] as const) {
    assert.throws(() => validateParallelism(p, M), (err: unknown) => {
      assert.ok(isSluiceError(err, 'SLUICE_INVALID_PARALLELISM'));
      assert.match(err.message, new RegExp(String(M === 0 || M === 40000 ? M : p)));
      return true;
    });
  }
  assert.throws(() => keyGroupRangeOf(3, 3, 128), /subtask index 3/);
  validateParallelism(128, 128);
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { javaStringHash, kafkaSplitId, kafkaSplitOwner } from '../../../connectors/kafka/split-owner.ts';

/**
 * [topic, Java hashCode, owners[p - 1][partition] for p = 1..8 and partitions 0..5]. Computed independently of the
 * code under test (Python, arbitrary-precision arithmetic reduced mod 2^32, then Flink's formula);
 * "hello".hashCode() = 99162322 is the value every Java programmer can check in jshell.
 */
const TABLE: ReadonlyArray<readonly [string, number, readonly (readonly number[])[]]> = [
  ['orders', -1008770331, [[0, 0, 0, 0, 0, 0], [1, 0, 1, 0, 1, 0], [0, 1, 2, 0, 1, 2], [3, 0, 1, 2, 3, 0], [4, 0, 1, 2, 3, 4], [3, 4, 5, 0, 1, 2], [3, 4, 5, 6, 0, 1], [3, 4, 5, 6, 7, 0]]],
  ['hello', 99162322, [[0, 0, 0, 0, 0, 0], [0, 1, 0, 1, 0, 1], [2, 0, 1, 2, 0, 1], [2, 3, 0, 1, 2, 3], [4, 0, 1, 2, 3, 4], [2, 3, 4, 5, 0, 1], [5, 6, 0, 1, 2, 3], [6, 7, 0, 1, 2, 3]]],
  ['payments-eu', -1539523760, [[0, 0, 0, 0, 0, 0], [0, 1, 0, 1, 0, 1], [2, 0, 1, 2, 0, 1], [0, 1, 2, 3, 0, 1], [4, 0, 1, 2, 3, 4], [2, 3, 4, 5, 0, 1], [3, 4, 5, 6, 0, 1], [0, 1, 2, 3, 4, 5]]],
  ['a', 97, [[0, 0, 0, 0, 0, 0], [1, 0, 1, 0, 1, 0], [1, 2, 0, 1, 2, 0], [3, 0, 1, 2, 3, 0], [2, 3, 4, 0, 1, 2], [1, 2, 3, 4, 5, 0], [4, 5, 6, 0, 1, 2], [7, 0, 1, 2, 3, 4]]],
  ['metrics.cpu_v2', 1927529470, [[0, 0, 0, 0, 0, 0], [0, 1, 0, 1, 0, 1], [1, 2, 0, 1, 2, 0], [2, 3, 0, 1, 2, 3], [4, 0, 1, 2, 3, 4], [4, 5, 0, 1, 2, 3], [6, 0, 1, 2, 3, 4], [2, 3, 4, 5, 6, 7]]],
];

test('javaStringHash equals Java String.hashCode, including int overflow', () => {
  for (const [topic, hash] of TABLE) assert.equal(javaStringHash(topic), hash, topic);
  assert.equal(javaStringHash(''), 0);
});

test('the owner of every (topic, partition) at p = 1..8 matches Flink\'s formula computed independently', () => {
  for (const [topic, , owners] of TABLE) {
    for (let p = 1; p <= 8; p++) {
      const expected = owners[p - 1] as readonly number[];
      const actual = expected.map((_, partition) => kafkaSplitOwner(topic, partition, p));
      assert.deepEqual(actual, expected, `${topic} at p = ${p}`);
    }
  }
});

test('partitions of one topic spread round-robin: every subtask gets floor or ceil of partitions / p', () => {
  for (let p = 1; p <= 8; p++) {
    const load = new Array<number>(p).fill(0);
    for (let partition = 0; partition < 20; partition++) load[kafkaSplitOwner('orders', partition, p)]!++;
    assert.ok(Math.max(...load) - Math.min(...load) <= 1, `p = ${p}: ${load.join(',')}`);
  }
});

test('split ids are topic-partition', () => {
  assert.equal(kafkaSplitId('orders', 3), 'orders-3');
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isSluiceError } from '../../../runtime/errors/index.ts';
import { keyGroupOf, type StateKey } from '../../../runtime/state/index.ts';
import { decodeKeyGroupBlob, packChunk, packDeltaHeader, packHeader } from '../../../runtime/state/keyed-snapshot-format.ts';
import { LevelDbKeyedStateBackend } from '../../../runtime/state/leveldb/leveldb-keyed-state-backend.ts';
import { packValue } from '../../../runtime/state/leveldb/stored-bytes.ts';
import { RawBlobWriter } from '../../../runtime/state/packed-pairs-chunk.ts';

const M = 8;

test('packed pairs read back as state chunks, split at 4,096 pairs, with keys and values of every bin size', () => {
  const big = 'x'.repeat(70_000); // a bin 32
  const mid = 'y'.repeat(300); // a bin 16
  const writer = new RawBlobWriter(packHeader(3), 16);
  const expected: unknown[] = [];
  for (let i = 0; i < 5000; i++) {
    const value = i === 7 ? big : i === 8 ? mid : { n: i, tags: new Map([['a', i]]) };
    writer.pair('counts', 'value', packValue(`k${i}`), packValue(value));
    expected.push(`k${i}`, value);
  }
  writer.pair('lists', 'list', packValue(42), packValue([1, 2]));
  writer.packed(packChunk(['t', 'k1', 1000]));
  const blob = writer.finish();

  const decoded = [...decodeKeyGroupBlob(3, blob)];
  assert.deepEqual(decoded.map((c) => c.type), ['segment', 'state', 'state', 'state', 'timers']);
  const counts = decoded.filter((c) => c.type === 'state' && c.name === 'counts');
  assert.deepEqual(counts.map((c) => (c.type === 'state' ? (c.pairs.length - c.from) / 2 : 0)), [4096, 904]);
  assert.deepEqual(counts.flatMap((c) => (c.type === 'state' ? c.pairs.slice(c.from) : [])), expected);
  const lists = decoded[3];
  assert.ok(lists?.type === 'state' && lists.kind === 'list');
  assert.deepEqual(lists.pairs.slice(lists.from), [42, [1, 2]]);

  // Left packed, the pairs are the bytes that were written.
  const packed = [...decodeKeyGroupBlob(3, blob, { packed: true })].filter((c) => c.type === 'packed-state');
  assert.deepEqual(packed.map((c) => c.pairs), [4096, 904, 1]);
  const first = packed[0]!;
  assert.deepEqual(Buffer.from(first.bytes.subarray(first.start + 2, first.start + 2 + packValue("k0").length)), Buffer.from(packValue("k0")));
});

test('a delta of packed pairs and tombstones keeps their order; corrupt packed pairs are SLUICE_STATE_SNAPSHOT_CORRUPT', () => {
  const writer = new RawBlobWriter(packDeltaHeader(1));
  writer.pair('v', 'value', packValue('a'), packValue(1));
  writer.tombstone('v', 'value', packValue('a'));
  writer.pair('v', 'value', packValue('a'), packValue(2));
  const delta = writer.finish();
  const chain = Buffer.concat([packHeader(1), delta]);
  assert.deepEqual(
    [...decodeKeyGroupBlob(1, chain)].map((c) => (c.type === 'state' ? ['s', ...c.pairs] : c.type === 'tombstones' ? ['x', ...c.keys.slice(c.from)] : [c.type])),
    [['segment'], ['segment'], ['s', 'a', 1], ['x', 'a'], ['s', 'a', 2]],
  );

  const full = new RawBlobWriter(packHeader(1));
  full.pair('v', 'value', packValue('a'), packValue(1));
  const good = full.finish();
  const cases: Array<[string, Uint8Array]> = [
    ['cut short', good.subarray(0, good.length - 1)],
    ['an element that is not a bin', Buffer.concat([packHeader(1), packChunk(['p', 'v', 'value', 'a', 1])])],
    ['an odd number of elements', Buffer.concat([packHeader(1), packChunk(['p', 'v', 'value', packValue('a')])])],
    ['an unknown kind', Buffer.concat([packHeader(1), packChunk(['p', 'v', 'bag', packValue('a'), packValue(1)])])],
    ['a value that is not msgpack', Buffer.concat([packHeader(1), packChunk(['p', 'v', 'value', packValue('a'), new Uint8Array([0xc1])])])],
  ];
  for (const [what, blob] of cases) {
    assert.throws(
      () => [...decodeKeyGroupBlob(1, blob)],
      (err: unknown) => isSluiceError(err) && err.code === 'SLUICE_STATE_SNAPSHOT_CORRUPT' && /key group 1/.test(err.message),
      what,
    );
  }
});

/** Keys of key group `keyGroup`, `n` of them. */
function keysOf(keyGroup: number, n: number): string[] {
  const out: string[] = [];
  for (let i = 0; out.length < n; i++) if (keyGroupOf(`k${i}`, M) === keyGroup) out.push(`k${i}`);
  return out;
}

test('the LevelDB backend restores chains of packed pairs and of state chunks alike, counting the keys left', async () => {
  const [a, b] = [keysOf(2, 20), keysOf(5, 2)];
  // Key group 2: a base of 20 keys, a delta deleting one, overwriting one and deleting then re-adding a third.
  const base2 = new RawBlobWriter(packHeader(2));
  for (const key of a) base2.pair('v', 'value', packValue(key), packValue({ n: 1 }));
  const unsortedBase2 = new RawBlobWriter(packHeader(2));
  for (const key of [...a].reverse()) unsortedBase2.pair('v', 'value', packValue(key), packValue({ n: 1 }));
  const delta2 = new RawBlobWriter(packDeltaHeader(2));
  delta2.tombstone('v', 'value', packValue(a[0]));
  delta2.pair('v', 'value', packValue(a[1]), packValue({ n: 2 }));
  delta2.tombstone('v', 'value', packValue(a[2]));
  delta2.pair('v', 'value', packValue(a[2]), packValue({ n: 3 }));
  const delta2Bytes = delta2.finish();
  // Key group 5: the same chain shape in state chunks (as the heap backend, and the LevelDB backend before packed
  // pairs, wrote it), whose delta deletes every key.
  const base5 = Buffer.concat([packHeader(5), packChunk(['s', 'v', 'value', b[0], { n: 1 }, b[1], { n: 1 }])]);
  const delta5 = Buffer.concat([packDeltaHeader(5), packChunk(['x', 'v', 'value', b[0], b[1]])]);
  const packedBase5 = new RawBlobWriter(packHeader(5));
  for (const key of b) packedBase5.pair('v', 'value', packValue(key), packValue({ n: 1 }));
  const packedDelta5 = new RawBlobWriter(packDeltaHeader(5));
  for (const key of b) packedDelta5.tombstone('v', 'value', packValue(key));
  const state2 = ['s', 'v', 'value', a[1], { n: 2 }, a[2], { n: 3 }, ...a.slice(3).flatMap((key) => [key, { n: 1 }])];
  const inputs = {
    // A full blob of packed pairs in key order, copied, and its delta folded (key group 2); state chunks with
    // tombstones, folded whole (key group 5).
    'chains of both kinds': new Map([
      [2, Buffer.concat([base2.finish(), delta2Bytes])],
      [5, Buffer.concat([base5, delta5])],
    ]),
    // Copied: a full blob of state chunks (key group 2); folded: packed pairs, then tombstones of all (key group 5).
    'a full blob of state chunks': new Map([
      [2, Buffer.concat([packHeader(2), packChunk(state2)])],
      [5, Buffer.concat([packedBase5.finish(), packedDelta5.finish()])],
    ]),
    // Folded whole: a full blob of packed pairs out of key order (key group 2).
    'packed pairs out of key order': new Map([[2, Buffer.concat([unsortedBase2.finish(), delta2Bytes])]]),
  };

  for (const [source, input] of Object.entries(inputs)) {
    const backend = new LevelDbKeyedStateBackend({ maxParallelism: M, range: { start: 0, end: M - 1 }, incremental: true, cacheBytes: 1024 });
    try {
      await backend.restore(input, 7);
      // Key group 5 has no state left: the next snapshot drops its chain; key group 2 keeps its chain, unchanged.
      const next = await backend.snapshot(8);
      assert.deepEqual(next.incremental?.unchanged, [2], source);
      assert.equal(next.keyGroups.size + next.incremental!.deltas.size, 0, source);
      const read = (key: StateKey): unknown => {
        backend.setCurrentKey(key);
        return backend.getValueState('v').value();
      };
      assert.deepEqual([...a.slice(0, 4), ...b].map(read), [undefined, { n: 2 }, { n: 3 }, { n: 1 }, undefined, undefined], source);
    } finally {
      await backend.close();
    }
  }
});

test('a corrupt key group after others were loaded fails the restore with SLUICE_STATE_SNAPSHOT_CORRUPT, and the backend closes', async () => {
  const writer = new RawBlobWriter(packHeader(2));
  for (const key of keysOf(2, 20_000)) writer.pair('v', 'value', packValue(key), packValue({ n: 1 }));
  const good = writer.finish();
  const backend = new LevelDbKeyedStateBackend({ maxParallelism: M, range: { start: 0, end: M - 1 }, incremental: true });
  try {
    await assert.rejects(
      backend.restore(new Map([[2, good], [5, good.subarray(0, 100)]]), 3),
      (err: unknown) => isSluiceError(err) && err.code === 'SLUICE_STATE_SNAPSHOT_CORRUPT' && /key group 5/.test(err.message),
    );
  } finally {
    await backend.close();
  }
});

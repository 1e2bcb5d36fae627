import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ChainMap } from '../../../runtime/checkpoint/chain-map.ts';

test('a chain map gives each key group its chain concatenated when read, and the keys without reading any chain', () => {
  const full = Buffer.from('full-');
  const segments = new Map<number, Uint8Array[]>([
    [3, [full]],
    [7, [Buffer.from('base|'), Buffer.from('delta1|'), Buffer.from('delta2')]],
  ]);
  const chains = new ChainMap(segments);
  assert.equal(chains.size, 2);
  assert.deepEqual([...chains.keys()], [3, 7]);
  assert.ok(chains.has(7) && !chains.has(4));
  assert.equal(chains.get(3), full, 'a chain of one blob is that blob, not a copy');
  assert.equal(Buffer.from(chains.get(7)!).toString(), 'base|delta1|delta2');
  assert.equal(chains.get(4), undefined);
  const read = new Map<number, string>();
  chains.forEach((chain, keyGroup) => read.set(keyGroup, Buffer.from(chain).toString()));
  assert.deepEqual([...read], [[3, 'full-'], [7, 'base|delta1|delta2']]);
  assert.deepEqual([...chains].map(([g, c]) => [g, Buffer.from(c).toString()]), [...read]);
  assert.deepEqual([...chains.values()].map((c) => Buffer.from(c).toString()), [...read.values()]);
  // Reading a key group twice gives equal bytes (each read concatenates anew: nothing is kept).
  assert.deepEqual(chains.get(7), chains.get(7));
});

test('a read-once chain map hands each key group out once; a second read fails loudly instead of restoring it empty', () => {
  const chains = new ChainMap(new Map([[1, [Buffer.from('a'), Buffer.from('b')]], [2, [Buffer.from('c')]]]), true);
  assert.equal(Buffer.from(chains.get(1)!).toString(), 'ab');
  assert.throws(() => chains.get(1), { code: 'SLUICE_INTERNAL', message: /key group 1 was read twice/ });
  assert.equal(chains.get(5), undefined, 'a key group that never had state is just absent');
  assert.deepEqual([...chains.keys()], [1, 2], 'the key groups are still listed');
  assert.ok(chains.has(1) && chains.size === 2);
  assert.equal(Buffer.from(chains.get(2)!).toString(), 'c');
});

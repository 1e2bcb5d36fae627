import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DeltaLog } from '../../../runtime/state/leveldb/delta-log.ts';
import { HARD_DELTA_RATIO } from '../../../runtime/state/snapshots/chain-policy.ts';

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
const text = (b: Uint8Array | undefined): string | undefined => (b === undefined ? undefined : new TextDecoder().decode(b));

test('the delta log gives back every change of a key group in order, across pages, and starts empty after a take', () => {
  const log = new DeltaLog(10, 2);
  log.bound(new Map([[10, { baseBytes: 1e9, deltaBytes: 0, length: 1 }], [11, { baseBytes: 1e9, deltaBytes: 0, length: 1 }]]));
  const written: Array<[number, string, string | undefined]> = [];
  for (let i = 0; i < 20_000; i++) {
    const change: [number, string, string | undefined] = [i % 3, `key-${i % 500}`, i % 7 === 0 ? undefined : `value-${i}-${'x'.repeat(i % 40)}`];
    written.push(change);
    log.add(0, change[0], bytes(change[1]), change[2] === undefined ? undefined : bytes(change[2]));
  }
  log.add(1, 2, bytes('other'), bytes('group'));
  const taken = log.take(0);
  assert.ok(taken !== undefined && taken !== 'overflowed');
  assert.ok(taken.pages.length > 3, `several 64 KiB pages (${taken.pages.length})`);
  const read: Array<[number, string, string | undefined]> = [];
  taken.forEach((stateId, key, value) => read.push([stateId, text(key)!, text(value)]));
  assert.deepEqual(read, written);
  assert.equal(log.take(0), undefined, 'empty after a take');
  const other = log.take(1);
  assert.ok(other !== undefined && other !== 'overflowed');
  const rows: string[] = [];
  other.forEach((id, key, value) => rows.push(`${id}:${text(key)}=${text(value)}`));
  assert.deepEqual(rows, ['2:other=group']);
});

test('a key group without a chain, or whose changes outgrow what its chain may take, is written in full: the log keeps nothing for it', () => {
  const log = new DeltaLog(0, 3);
  const base = 1000;
  log.bound(new Map([[1, { baseBytes: base, deltaBytes: 0, length: 1 }], [2, { baseBytes: base, deltaBytes: HARD_DELTA_RATIO * base, length: 2 }]]));
  log.add(0, 0, bytes('k'), bytes('v'));
  assert.equal(log.take(0), 'overflowed', 'no chain: full');
  for (let i = 0; i < 10; i++) log.add(1, 0, bytes(`k${i}`), bytes('v'.repeat(100)));
  assert.notEqual(log.take(1), 'overflowed', 'within HARD_DELTA_RATIO × the base');
  for (let i = 0; i < 100; i++) log.add(1, 0, bytes(`k${i}`), bytes('v'.repeat(100)));
  assert.equal(log.take(1), 'overflowed', 'past HARD_DELTA_RATIO × the base');
  log.add(2, 0, bytes('k'), bytes('v'));
  assert.equal(log.take(2), 'overflowed', 'a chain already at its bound');
});

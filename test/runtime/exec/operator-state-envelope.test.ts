/**
 * The operator state a keyed operator subtask stores: its own state and its watermark with the key groups it held.
 * Older checkpoints (the state alone) still restore; a rescale starts each subtask from the lowest watermark over the
 * key groups it takes; the end of input's watermark is never stored.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NO_WATERMARK } from '../../../runtime/api/index.ts';
import { openEnvelope, openEnvelopes, ownStates, sealEnvelope } from '../../../runtime/exec/operators/operator-state-envelope.ts';
import { packValue, unpackValue } from '../../../runtime/serde/index.ts';
import { keyGroupRangeOf } from '../../../runtime/state/index.ts';

const through = (value: unknown): unknown => unpackValue(packValue(value));

test('a subtask stores its own state and its finite watermark; nothing when it has neither', () => {
  const range = keyGroupRangeOf(0, 2, 128);
  assert.equal(sealEnvelope(undefined, undefined, range), undefined);
  assert.equal(sealEnvelope(undefined, NO_WATERMARK, range), undefined, 'no watermark yet');
  assert.equal(sealEnvelope(undefined, Number.POSITIVE_INFINITY, range), undefined, 'the end of input is not a watermark to restore');
  const stored = through(sealEnvelope({ txn: 'a' }, 1_499, range));
  assert.deepEqual(openEnvelope(stored), { state: { txn: 'a' }, watermark: 1_499 });
  assert.deepEqual(openEnvelopes([stored], range), { states: [{ txn: 'a' }], watermark: 1_499 });
});

test('operator state of a checkpoint from before the envelope restores as it was, with no watermark', () => {
  const legacy = [{ transactions: ['t0'] }, { transactions: ['t1'] }];
  assert.deepEqual(openEnvelopes(legacy, keyGroupRangeOf(0, 1, 128)), { states: legacy, watermark: NO_WATERMARK });
  assert.deepEqual(ownStates(legacy), legacy);
  assert.deepEqual(openEnvelope(legacy[0]), { state: legacy[0] });
  assert.deepEqual(openEnvelopes(undefined, keyGroupRangeOf(0, 1, 128)), { states: undefined, watermark: NO_WATERMARK });
});

test('at the same parallelism each subtask gets its own watermark back; after a rescale, the lowest over the key groups it takes', () => {
  const stored = [0, 1, 2].map((subtask) => through(sealEnvelope(subtask === 0 ? { rates: [] } : undefined, 1_000 * (subtask + 1), keyGroupRangeOf(subtask, 3, 128))));
  assert.deepEqual([0, 1, 2].map((subtask) => openEnvelopes(stored, keyGroupRangeOf(subtask, 3, 128)).watermark), [1_000, 2_000, 3_000]);
  assert.deepEqual(ownStates(stored), [{ rates: [] }], 'only the states stored, for the operator to restore');
  // p = 3 → 2: subtask 0 takes key groups 0–63 (old subtasks 0 and 1), subtask 1 takes 64–127 (old 1 and 2).
  assert.deepEqual([0, 1].map((subtask) => openEnvelopes(stored, keyGroupRangeOf(subtask, 2, 128)).watermark), [1_000, 2_000]);
  // p = 3 → 1: the lowest of all.
  assert.equal(openEnvelopes(stored, keyGroupRangeOf(0, 1, 128)).watermark, 1_000);
  // A key group whose old subtask had no watermark yet: the new subtask starts without one.
  assert.equal(openEnvelopes(stored.slice(1), keyGroupRangeOf(0, 1, 128)).watermark, NO_WATERMARK);
});

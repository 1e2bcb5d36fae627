/**
 * The operator state a source subtask stores: its reader's state and each split's watermark. Older checkpoints (the
 * reader's state alone) still restore; a split named by two old subtasks restores from the lower watermark.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openSourceEnvelope, openSourceEnvelopes, sealSourceEnvelope } from '../../../runtime/event-time/source-state-envelope.ts';
import { openEnvelope } from '../../../runtime/exec/operators/operator-state-envelope.ts';
import { packValue, unpackValue } from '../../../runtime/serde/index.ts';

const through = (value: unknown): unknown => unpackValue(packValue(value));

test('a source subtask stores its reader state and its splits\' finite watermarks; nothing when it has neither', () => {
  assert.equal(sealSourceEnvelope(undefined, undefined), undefined);
  assert.equal(sealSourceEnvelope(undefined, [['p0', Number.NEGATIVE_INFINITY]]), undefined, 'a split without a watermark yet');
  const stored = through(sealSourceEnvelope({ deadLetters: 'txn-3' }, [['p0', 1_499], ['p1', Number.NEGATIVE_INFINITY]]));
  assert.deepEqual(openSourceEnvelope(stored), { state: { deadLetters: 'txn-3' }, splitWatermarks: { p0: 1_499 } });
  const opened = openSourceEnvelopes([stored, through(sealSourceEnvelope(undefined, [['p2', 7]]))]);
  assert.deepEqual(opened.readerStates, [{ deadLetters: 'txn-3' }], 'only the readers that stored state');
  assert.deepEqual([...opened.splitWatermarks], [['p0', 1_499], ['p2', 7]]);
});

test('reader state from before the envelope restores as it was, with no split watermarks', () => {
  const legacy = [{ deadLetters: 'txn-1' }];
  assert.deepEqual(openSourceEnvelopes(legacy), { readerStates: legacy, splitWatermarks: new Map() });
  assert.deepEqual(openSourceEnvelopes(undefined), { readerStates: undefined, splitWatermarks: new Map() });
  assert.equal(openSourceEnvelope(legacy[0]), undefined, 'no source envelope: a reader of checkpoints shows it as stored');
  assert.deepEqual(openSourceEnvelope(legacy[0]) ?? openEnvelope(legacy[0]), { state: legacy[0] });
});

test('a split two old subtasks name (a reader without split ids, after a rescale) restores from the lower watermark', () => {
  const opened = openSourceEnvelopes([sealSourceEnvelope(undefined, [['*', 900]]), sealSourceEnvelope(undefined, [['*', 400]])].map(through));
  assert.equal(opened.splitWatermarks.get('*'), 400);
});

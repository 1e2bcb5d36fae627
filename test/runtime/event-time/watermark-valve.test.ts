import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WatermarkValve } from '../../../runtime/event-time/watermark-valve.ts';

test('the combined watermark is the minimum over the inputs and only moves forward', () => {
  const valve = new WatermarkValve(3);
  assert.deepEqual(valve.onWatermark(0, 100), [], 'inputs 1 and 2 know nothing yet');
  assert.deepEqual(valve.onWatermark(1, 50), []);
  assert.deepEqual(valve.onWatermark(2, 70), [{ kind: 'watermark', watermark: 50 }]);
  assert.deepEqual(valve.onWatermark(1, 40), [], 'an input going back changes nothing');
  assert.deepEqual(valve.onWatermark(1, 200), [{ kind: 'watermark', watermark: 70 }]);
  assert.equal(valve.watermark, 70);
});

test('an idle input stops holding the watermark back; when all are idle, the combination is idle and time stands still', () => {
  const valve = new WatermarkValve(2);
  valve.onWatermark(0, 500);
  assert.deepEqual(valve.onIdle(1, true), [{ kind: 'watermark', watermark: 500 }], 'input 1 idle: input 0 alone decides');
  assert.deepEqual(valve.onIdle(0, true), [{ kind: 'idle', idle: true }]);
  assert.equal(valve.watermark, 500, 'idleness never advances time');
  assert.deepEqual(valve.onWatermark(1, 300), [{ kind: 'idle', idle: false }], 'active again below the combination: it is held, not moved back');
  assert.deepEqual(valve.onWatermark(1, 600), [{ kind: 'watermark', watermark: 600 }], 'input 0 is still idle');
});

test('an ended input no longer counts; the final watermarks of all inputs release +∞', () => {
  const valve = new WatermarkValve(2);
  valve.onWatermark(0, 10);
  valve.onWatermark(1, 20);
  assert.deepEqual(valve.onEnd(0), [{ kind: 'watermark', watermark: 20 }]);
  assert.deepEqual(valve.onWatermark(1, Number.POSITIVE_INFINITY), [{ kind: 'watermark', watermark: Number.POSITIVE_INFINITY }]);
});

test('holdAt: a valve that replaces another never re-emits what that one already emitted', () => {
  const valve = new WatermarkValve(1);
  valve.holdAt(1_000);
  assert.deepEqual(valve.onWatermark(0, 900), []);
  assert.deepEqual(valve.onWatermark(0, 1_001), [{ kind: 'watermark', watermark: 1_001 }]);
});

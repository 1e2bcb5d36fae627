import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CheckpointManifest } from '../../../runtime/checkpoint/index.ts';
import { ProgressLine } from '../../../runtime/cli/progress-line.ts';
import type { StageMetrics } from '../../../runtime/runner/index.ts';

function stages(recordsIn: number, recordsOut: number): StageMetrics[] {
  return [
    { stage: 0, operators: ['source'], parallelism: 1, recordsIn, recordsOut: recordsIn, backpressured: 0, lateRecordsDropped: 0, recordsSkipped: 0, inputQueuedBytes: 0, watermark: undefined, stateEntries: undefined, stateCache: undefined },
    { stage: 1, operators: ['sink'], parallelism: 1, recordsIn: recordsOut, recordsOut, backpressured: 0, lateRecordsDropped: 0, recordsSkipped: 0, inputQueuedBytes: 0, watermark: undefined, stateEntries: undefined, stateCache: undefined },
  ];
}

function checkpoint(id: number): { type: 'checkpoint-completed'; manifest: CheckpointManifest } {
  return { type: 'checkpoint-completed', manifest: { id, kind: 'checkpoint' } as CheckpointManifest };
}

test('after a restart the rates start again from the new attempt\'s counters, never negative, and the checkpoint is the restored one', () => {
  const line = new ProgressLine();
  line.onEvent({ type: 'attempt-started', attempt: 0, restoredFrom: undefined, parallelism: 1 });
  assert.equal(line.format(0, stages(0, 0)), undefined, 'no rate before two samples');
  line.onEvent(checkpoint(37));
  assert.equal(line.format(1000, stages(150_000, 149_000)), 'in 150k/s (150k)  out 149k/s (149k)  checkpoint 37');

  line.onEvent({ type: 'attempt-failed', attempt: 0, error: new Error('boom'), restartInMs: 1_000, fatal: false });
  assert.equal(line.format(1500, []), 'attempt 0 failed; restarting in 1.0 s');
  line.onEvent({ type: 'attempt-started', attempt: 1, restoredFrom: 35, parallelism: 1 });
  // The new attempt counts from 0: against the old totals this was `in -145747/s`.
  assert.equal(line.format(2500, stages(4253, 4000)), undefined, 'a new baseline first');
  assert.equal(line.format(3500, stages(9253, 9000)), 'in 5000/s (9253)  out 5000/s (9000)  restored from checkpoint 35');
  line.onEvent(checkpoint(38));
  assert.match(line.format(4500, stages(14_253, 14_000)) ?? '', /  checkpoint 38$/);
});

test('counters that go down without an event (a rescale\'s new attempt) start a new baseline instead of a negative rate', () => {
  const line = new ProgressLine();
  line.format(0, stages(0, 0));
  assert.match(line.format(1000, stages(10_000, 10_000)) ?? '', /^in 10k\/s/);
  assert.equal(line.format(2000, stages(300, 200)), undefined);
  assert.match(line.format(3000, stages(1300, 1200)) ?? '', /^in 1000\/s \(1300\)  out 1000\/s \(1200\)$/);
});

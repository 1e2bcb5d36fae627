import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renderJobStatus } from '../../../runtime/cli/client/render.ts';
import type { JobStatus, StageStatus } from '../../../runtime/service/index.ts';

function status(skipped: number, failedCheckpoints: JobStatus['failedCheckpoints']): JobStatus {
  const stage = (index: number, operators: string[], recordsSkipped: number): StageStatus => ({
    stage: index, operators, parallelism: 2, recordsIn: 1_000, recordsOut: 990, recordsInPerSecond: 0, recordsOutPerSecond: 0, backpressureRatio: 0, lateRecordsDropped: 0, recordsSkipped, inputQueuedBytes: 0, watermark: null,
  });
  return {
    name: 'orders', state: 'running', parallelism: 2, attempt: 1, uptimeMs: 1_000, lastCheckpoint: null, file: '/jobs/orders.ts',
    registeredState: 'running', params: {}, startedAt: 0, submittedAt: 0, startFrom: { from: 'latest' }, sourceStart: null, lastSavepoint: null,
    lastError: null, operators: [stage(0, ['source', 'parse'], skipped), stage(1, ['totals', 'sink'], 0)], checkpoints: [], failedCheckpoints, sourceLag: [], rescales: [], exceptions: [],
  } as unknown as JobStatus;
}

test('sluice status shows records skipped by onError(skip) per stage, once any was, and failed checkpoints with why', () => {
  const text = renderJobStatus(status(3, [{ id: 12, at: Date.UTC(2026, 11, 4, 9, 0, 0), message: 'checkpoint 12 timed out after 600000 ms\nsecond line' }]));
  assert.match(text, /^STAGE\s+OPERATORS\s+P\s+IN\/S\s+OUT\/S\s+IN\s+OUT\s+BACKPRESSURE\s+SKIPPED$/m);
  assert.match(text, /^0\s+source→parse\s+2\s+0\s+0\s+1000\s+990\s+0%\s+3$/m);
  assert.match(text, /^FAILED CHECKPOINTS \(newest first\)\nID\s+TIME\s+WHY\n12\s+\S.*\s+checkpoint 12 timed out after 600000 ms$/m);
  const quiet = renderJobStatus(status(0, []));
  assert.doesNotMatch(quiet, /SKIPPED/, 'no column while nothing was skipped');
  assert.doesNotMatch(quiet, /FAILED CHECKPOINTS/);
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renderJobStatus } from '../../../runtime/cli/client/render.ts';
import type { JobStatus, StageStatus } from '../../../runtime/service/index.ts';

function status(lateRecordsDropped: number): JobStatus {
  const stage = (index: number, operators: string[], late: number): StageStatus => ({
    stage: index, operators, parallelism: 2, recordsIn: 1_000, recordsOut: 990, recordsInPerSecond: 0, recordsOutPerSecond: 0, backpressureRatio: 0, lateRecordsDropped: late,
  });
  return {
    name: 'views', state: 'running', parallelism: 2, attempt: 0, uptimeMs: 1_000, lastCheckpoint: null, file: '/jobs/views.ts',
    registeredState: 'running', params: {}, startedAt: 0, submittedAt: 0, startFrom: { from: 'latest' }, sourceStart: null, lastSavepoint: null,
    lastError: null, operators: [stage(0, ['source'], 0), stage(1, ['windows', 'sink'], lateRecordsDropped)], checkpoints: [], sourceLag: [], rescales: [], exceptions: [],
  } as unknown as JobStatus;
}

test('sluice status shows records dropped as too late per stage, once a window has dropped any', () => {
  const text = renderJobStatus(status(7));
  assert.match(text, /^STAGE\s+OPERATORS\s+P\s+IN\/S\s+OUT\/S\s+IN\s+OUT\s+BACKPRESSURE\s+LATE DROPPED$/m);
  assert.match(text, /^1\s+windows→sink\s+2\s+0\s+0\s+1000\s+990\s+0%\s+7$/m);
  assert.match(text, /^0\s+source\s+2\s+0\s+0\s+1000\s+990\s+0%\s+0$/m);
  assert.doesNotMatch(renderJobStatus(status(0)), /LATE DROPPED/, 'no column while nothing was dropped');
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renderJobStatus } from '../../../runtime/cli/client/render.ts';
import type { JobStatus, StageStatus } from '../../../runtime/service/index.ts';

function status(stateEntries: Array<number | null | undefined>, hitRatios: Array<number | null | undefined> = []): JobStatus {
  const stage = (index: number, operators: string[], entries: number | null | undefined): StageStatus => ({
    stage: index, operators, parallelism: 2, recordsIn: 1_000, recordsOut: 990, recordsInPerSecond: 0, recordsOutPerSecond: 0, backpressureRatio: 0, lateRecordsDropped: 0, recordsSkipped: 0, inputQueuedBytes: 0, watermark: null,
    ...(entries === undefined ? {} : { stateEntries: entries }),
    ...(hitRatios[index] === undefined ? {} : { stateCacheHitRatio: hitRatios[index] }),
  });
  return {
    name: 'orders', state: 'running', parallelism: 2, attempt: 1, uptimeMs: 1_000, lastCheckpoint: null, file: '/jobs/orders.ts',
    registeredState: 'running', params: {}, startedAt: 0, submittedAt: 0, startFrom: { from: 'latest' }, sourceStart: null, lastSavepoint: null,
    lastError: null, operators: [stage(0, ['source', 'parse'], stateEntries[0]), stage(1, ['totals', 'sink'], stateEntries[1])], checkpoints: [], failedCheckpoints: [], sourceLag: [], rescales: [], exceptions: [],
  } as unknown as JobStatus;
}

test('sluice status shows the keys with state per stage for a job with keyed state, "-" for stages without', () => {
  const text = renderJobStatus(status([null, 1_234_567]));
  assert.match(text, /^STAGE\s+OPERATORS\s+P\s+IN\/S\s+OUT\/S\s+IN\s+OUT\s+BACKPRESSURE\s+STATE KEYS$/m);
  assert.match(text, /^0\s+source→parse\s+2\s+0\s+0\s+1000\s+990\s+0%\s+-$/m);
  assert.match(text, /^1\s+totals→sink\s+2\s+0\s+0\s+1000\s+990\s+0%\s+1234567$/m);
  assert.doesNotMatch(renderJobStatus(status([null, null])), /STATE KEYS/, 'no column without keyed state');
  assert.doesNotMatch(renderJobStatus(status([undefined, undefined])), /STATE KEYS/, 'nor from a service older than the client');
});

test('sluice status shows how often each LevelDB stage’s cache served a state read, and no column for heap jobs', () => {
  const text = renderJobStatus(status([null, 1_234_567], [null, 0.9734]));
  assert.match(text, /^STAGE\s+OPERATORS\s+P\s+IN\/S\s+OUT\/S\s+IN\s+OUT\s+BACKPRESSURE\s+STATE KEYS\s+CACHE HITS$/m);
  assert.match(text, /^0\s+source→parse\s+2\s+0\s+0\s+1000\s+990\s+0%\s+-\s+-$/m);
  assert.match(text, /^1\s+totals→sink\s+2\s+0\s+0\s+1000\s+990\s+0%\s+1234567\s+97\.3%$/m);
  assert.doesNotMatch(renderJobStatus(status([null, 1_234_567], [null, null])), /CACHE HITS/, 'heap backend: no cache');
  assert.doesNotMatch(renderJobStatus(status([null, 1_234_567])), /CACHE HITS/, 'nor from a service older than the client');
});

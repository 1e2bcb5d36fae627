import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renderJobStatus } from '../../../runtime/cli/client/render.ts';
import type { JobStatus } from '../../../runtime/service/index.ts';

test('sluice status lists each checkpoint as full or incremental, with the state it restores and what it wrote', () => {
  const at = Date.UTC(2026, 11, 4, 9, 0, 0);
  const status = {
    name: 'sessions', state: 'running', parallelism: 2, attempt: 0, uptimeMs: 9_000, lastCheckpoint: null, file: '/jobs/sessions.ts',
    registeredState: 'running', params: {}, startedAt: 0, submittedAt: 0, startFrom: { from: 'latest' }, sourceStart: null, lastSavepoint: null,
    lastError: null, operators: [], failedCheckpoints: [], sourceLag: [], rescales: [], exceptions: [],
    checkpoints: [
      { id: 8, kind: 'checkpoint', timestamp: at + 2_000, durationMs: 240, totalBytes: 64 * 2 ** 20, writtenBytes: 3 * 2 ** 20, incremental: true },
      { id: 7, kind: 'checkpoint', timestamp: at + 1_000, durationMs: 1_900, totalBytes: 60 * 2 ** 20, writtenBytes: 60 * 2 ** 20, incremental: false },
      { id: 6, kind: 'savepoint', timestamp: at, durationMs: 2_100, totalBytes: 58 * 2 ** 20 }, // from an older service: no type
    ],
  } as unknown as JobStatus;
  const text = renderJobStatus(status);
  assert.match(text, /^ID\s+KIND\s+TYPE\s+TIME\s+DURATION\s+SIZE\s+WRITTEN$/m);
  assert.match(text, /^8\s+checkpoint\s+incremental\s+\S+\s+240 ms\s+64(\.0)? MiB\s+3(\.0)? MiB$/m);
  assert.match(text, /^7\s+checkpoint\s+full\s+\S+\s+1\.9 s\s+60(\.0)? MiB\s+60(\.0)? MiB$/m);
  assert.match(text, /^6\s+savepoint\s+full\s+/m);
});

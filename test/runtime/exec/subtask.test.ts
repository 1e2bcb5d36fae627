import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { InputGate } from '../../../runtime/exec/input-gate.ts';
import { Subtask } from '../../../runtime/exec/index.ts';
import { silentLogger } from '../../../runtime/logging/index.ts';
import { systemClock } from '../../../runtime/time/index.ts';

// A worker stops its subtasks by aborting their signal when a peer worker fails. A subtask aborted between its
// loop's check and its wait for input (here: while it polls) used to wait on an input that never comes, until the
// worker was terminated 10 s later without closing its sinks. The timeout only turns that hang into a failure.
test('a subtask aborted while it polls stops instead of waiting for input that never comes', { timeout: 10_000 }, async () => {
  const abort = new AbortController();
  const reason = new Error('stopped: a peer worker failed');
  const idle = {
    poll: () => {
      abort.abort(reason);
      return null;
    },
    available: () => new Promise<void>(() => undefined),
  } as unknown as InputGate<unknown>;
  const subtask = new Subtask({
    job: 'idle',
    stage: 0,
    index: 0,
    parallelism: 1,
    input: idle,
    sourceUid: undefined,
    chain: [],
    output: undefined,
    clock: systemClock,
    logger: silentLogger(),
    signal: abort.signal,
    checkpoints: undefined,
  });
  await assert.rejects(subtask.run(), reason);
});

/**
 * What `GET /v1/jobs/:name` reports in `exceptions` (the job tracker) and how `sluice status` shows it: the stack
 * with the user's file:line survives restarts, messages are not doubled, a fatal failure says so.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { collectSink, CollectTarget, datagen } from '../../connectors/dev/index.ts';
import { defineJob, type Sink } from '../../runtime/api/index.ts';
import { renderJobStatus } from '../../runtime/cli/client/render.ts';
import { SluiceError } from '../../runtime/errors/index.ts';
import { JobRunner } from '../../runtime/runner/index.ts';
import type { JobStatus } from '../../runtime/service/index.ts';
import { JobTracker } from '../../runtime/service/job-tracker.ts';

function rejectPurchase(i: number): never {
  throw new Error(`cannot handle purchase ${123_450 + i}`);
}

/** Collects, except in attempt 1, where every write fails with a record that can never be written. */
function sinkFatalInSecondAttempt(): Sink<number> {
  const inner = collectSink(new CollectTarget<number>());
  return {
    name: 'picky-sink',
    createWriter(context) {
      const writer = inner.createWriter(context);
      return {
        start: () => writer.start(),
        write: (records) => {
          if (context.attempt === 1) throw new SluiceError('SLUICE_TEST_BAD_RECORD', 'record 0 can never be written', { retriable: false });
          return writer.write(records);
        },
        preCommit: (id) => writer.preCommit(id),
        commit: (id) => writer.commit(id),
        finish: () => writer.finish(),
        close: (outcome) => writer.close(outcome),
      };
    },
  };
}

async function failTwice() {
  let attempt = 0;
  const job = defineJob({ name: 'exceptions', parallelism: 1, restart: { type: 'fixed-delay', attempts: 5, delayMs: 0 } }, (env) => {
    env
      .source(datagen({ count: 20, record: (i) => i }))
      .map((i) => (i === 7 && attempt === 0 ? rejectPurchase(i) : i))
      .uid('enrich')
      .sink(sinkFatalInSecondAttempt());
  });
  const runner = new JobRunner({ job });
  runner.events.subscribe((e) => {
    if (e.type === 'attempt-started') attempt = e.attempt;
  });
  const tracker = new JobTracker();
  tracker.follow(runner);
  await runner.run().catch(() => undefined);
  tracker.stop();
  return { runner, exceptions: tracker.exceptions() };
}

test('exceptions carry the stack with the user\'s file:line, the message once, and whether the failure was fatal', async () => {
  const { runner, exceptions } = await failTwice();
  assert.equal(runner.attempts, 2, 'the user error restarted; the fatal one did not');
  const [fatal, user] = exceptions;
  assert.ok(user !== undefined && fatal !== undefined, JSON.stringify(exceptions));

  assert.equal(user.code, 'SLUICE_OPERATOR_FAILED');
  assert.equal(user.fatal, false);
  assert.equal(user.restartInMs, 0);
  assert.equal(user.message.split('cannot handle purchase 123457').length, 2, `once: ${user.message}`);
  assert.match(user.stack, /caused by: Error: cannot handle purchase 123457\n\s+at rejectPurchase \(.*exceptions\.test\.ts:\d+:\d+\)/);

  assert.equal(fatal.fatal, true);
  assert.equal(fatal.restartInMs, undefined);
  assert.equal(fatal.rootCode, 'SLUICE_TEST_BAD_RECORD');
  assert.match(fatal.stack, /caused by: SluiceError: record 0 can never be written/);
});

test('sluice status shows the newest exception\'s first frames, with the user\'s file:line', async () => {
  const { exceptions } = await failTwice();
  const status = {
    name: 'exceptions', state: 'failed', parallelism: 1, attempt: null, uptimeMs: null, lastCheckpoint: null, file: '/jobs/exceptions.ts',
    registeredState: 'failed', params: {}, startedAt: null, submittedAt: 0, startFrom: { from: 'latest' }, sourceStart: null, lastSavepoint: null,
    lastError: exceptions[0]?.message ?? null, operators: [], checkpoints: [], sourceLag: [], rescales: [],
    exceptions: [exceptions[1]!, exceptions[0]!],
  } as unknown as JobStatus;
  const text = renderJobStatus(status);
  assert.match(text, /^RECENT EXCEPTIONS \(newest first\)\nTIME\s+ATTEMPT\s+CODE\s+THEN\s+MESSAGE/m);
  assert.match(text, /SLUICE_OPERATOR_FAILED\s+restart in 0 ms\s+operator "enrich" \(subtask 1\/1\) of job "exceptions" failed: cannot handle purchase 123457$/m);
  const newest = text.slice(text.indexOf('NEWEST EXCEPTION'));
  assert.match(newest, /^caused by: Error: cannot handle purchase 123457\n {2}at rejectPurchase \(.*exceptions\.test\.ts:\d+:\d+\)$/m);
  assert.ok(!/node:internal/.test(newest), newest);
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { collectSink, CollectTarget, datagen } from '../../../connectors/dev/index.ts';
import { defineJob } from '../../../runtime/api/index.ts';
import { SluiceError } from '../../../runtime/errors/index.ts';
import { createLogger, serializeError } from '../../../runtime/logging/index.ts';
import { JobRunner } from '../../../runtime/runner/index.ts';

const THIS_FILE = new URL(import.meta.url).pathname.split('/').at(-1) as string;

function purchaseError(): Error {
  return new Error('cannot handle purchase 123457');
}

test('a wrapper that repeats its cause is logged once, not "…: cannot handle purchase 123457: cannot handle purchase 123457"', () => {
  const cause = purchaseError();
  const wrapped = new SluiceError('SLUICE_OPERATOR_FAILED', `operator "enrich" failed: ${cause.message}`, { cause, retriable: true });
  const out = serializeError(wrapped) as { message: string; code: string; retriable: boolean; stack: string };
  assert.equal(out.message, 'operator "enrich" failed: cannot handle purchase 123457');
  assert.equal(out.code, 'SLUICE_OPERATOR_FAILED');
  assert.equal(out.retriable, true);
  // A wrapper that does not say what it wraps gets the cause appended.
  assert.equal((serializeError(new SluiceError('SLUICE_X', 'sink failed', { cause })) as { message: string }).message, 'sink failed: cannot handle purchase 123457');
});

test('the logged stack keeps every cause\'s stack, so the user\'s file:line is there', () => {
  const cause = purchaseError();
  const out = serializeError(new SluiceError('SLUICE_OPERATOR_FAILED', `operator failed: ${cause.message}`, { cause })) as { stack: string };
  const [outer, inner] = out.stack.split('\ncaused by: ');
  assert.match(outer ?? '', /^SluiceError: operator failed: cannot handle purchase 123457\n\s+at /);
  assert.match(inner ?? '', /^Error: cannot handle purchase 123457\n\s+at purchaseError \(.*error-serializer\.test\.ts:\d+:\d+\)/);
});

test('a restart\'s log line carries the user\'s stack (file:line) and the message once', async () => {
  const lines: string[] = [];
  const logger = createLogger({ level: 'warn', pretty: false, destination: { write: (line) => lines.push(line) } });
  let attempt = 0;
  const job = defineJob({ name: 'stack-in-logs', parallelism: 1, restart: { type: 'fixed-delay', attempts: 1, delayMs: 0 } }, (env) => {
    env
      .source(datagen({ count: 10, record: (i) => i }))
      .map((i) => {
        if (i === 3 && attempt === 0) throw purchaseError();
        return i;
      })
      .sink(collectSink(new CollectTarget<number>()));
  });
  const runner = new JobRunner({ job, logger });
  runner.events.subscribe((e) => {
    if (e.type === 'attempt-started') attempt = e.attempt;
  });
  assert.equal(await runner.run(), 'finished');
  const restart = lines.map((l) => JSON.parse(l) as { msg: string; err?: { message: string; stack: string } }).find((l) => /restarting in/.test(l.msg));
  assert.ok(restart?.err !== undefined, lines.join(''));
  assert.equal(restart.err.message.split('cannot handle purchase 123457').length, 2, `message once: ${restart.err.message}`);
  assert.ok(restart.err.stack.includes(THIS_FILE), restart.err.stack);
  assert.match(restart.err.stack, /caused by: Error: cannot handle purchase 123457\n\s+at purchaseError /);
});

test('pretty lines go to the given destination, the error with its stack', () => {
  const lines: string[] = [];
  const logger = createLogger({ level: 'info', pretty: true, destination: { write: (line) => lines.push(line) } });
  logger.error({ err: new SluiceError('SLUICE_X', 'it broke', { cause: purchaseError() }) }, 'job failed');
  assert.equal(lines.length, 1);
  assert.match(lines[0] ?? '', /job failed/);
  assert.ok((lines[0] ?? '').includes(THIS_FILE), lines[0]);
});

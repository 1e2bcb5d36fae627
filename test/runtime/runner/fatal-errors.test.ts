/**
 * Fatal errors (`retriable: false`) fail the job at once, whatever the restart strategy; everything else follows it.
 * Every job here takes checkpoints and sets no restart strategy: the default (exponential delay, never gives up)
 * applies, the one under which a fatal error used to restart forever.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { collectSink, CollectTarget, datagen } from '../../../connectors/dev/index.ts';
import { defineJob, type Sink } from '../../../runtime/api/index.ts';
import { CheckpointStore } from '../../../runtime/checkpoint/index.ts';
import { SluiceError, isSluiceError } from '../../../runtime/errors/index.ts';
import { JobRunner, type JobEvent } from '../../../runtime/runner/index.ts';
import { systemClock, type Clock } from '../../../runtime/time/index.ts';
import { tempDir } from '../../support/temp-dir.ts';

/**
 * The system clock with the default strategy's first two restart delays (1 s and 2 s, ±10 % jitter) cut short: the
 * decision is under test, not the wait. Other timers (checkpoint interval and timeout) keep their length.
 */
const hurried: Clock = { ...systemClock, setTimeout: (fn, ms) => systemClock.setTimeout(fn, ms >= 900 && ms <= 2_200 ? 1 : ms) };

/** A sink that throws `error` from its first write in the first `failingAttempts` attempts, else collects. */
function failingSink(error: () => unknown, failingAttempts: number, target: CollectTarget<number>): Sink<number> {
  const inner = collectSink(target);
  return {
    name: 'failing',
    createWriter(context) {
      const writer = inner.createWriter(context);
      return {
        ...writer,
        start: () => writer.start(),
        write: (records) => {
          if (context.attempt < failingAttempts) throw error();
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

async function runJob(t: TestContext, sink: Sink<number>, map: (i: number, attempt: () => number) => number = (i) => i) {
  const store = await CheckpointStore.open(await tempDir(t));
  t.after(() => store.close());
  let attempt = 0;
  const job = defineJob({ name: 'fatal-errors', parallelism: 1, checkpoints: { intervalMs: 50 } }, (env) => {
    env
      .source(datagen({ count: 200, record: (i) => i }))
      .map((i) => map(i, () => attempt))
      .uid('picky')
      .sink(sink);
  });
  const runner = new JobRunner({ job, store, clock: hurried });
  const events: JobEvent[] = [];
  runner.events.subscribe((e) => {
    events.push(e);
    if (e.type === 'attempt-started') attempt = e.attempt;
    // A regression would restart forever: stop it after a few attempts so the assertions can say so.
    if (e.type === 'attempt-started' && e.attempt >= 5) runner.cancel('too many restarts');
  });
  const outcome = await runner.run().catch((err: unknown) => err);
  return { outcome, runner, events };
}

test('a fatal error of a sink fails the job at once under the default restart strategy, with the error as cause', async (t) => {
  const fatal = () => new SluiceError('SLUICE_TEST_BAD_RECORD', 'record 0 can never be written', { retriable: false });
  const { outcome, runner, events } = await runJob(t, failingSink(fatal, Infinity, new CollectTarget()));
  assert.ok(isSluiceError(outcome, 'SLUICE_OPERATOR_FAILED'), String(outcome));
  assert.ok(isSluiceError(outcome.cause, 'SLUICE_TEST_BAD_RECORD'), 'the connector\'s error is the cause');
  assert.equal(outcome.retriable, false);
  assert.equal(runner.attempts, 1, 'no restart');
  assert.equal(runner.state, 'failed');
  const failed = events.filter((e) => e.type === 'attempt-failed');
  assert.deepEqual(failed.map((e) => [e.restartInMs, e.fatal]), [[undefined, true]]);
  const end = events.at(-1);
  assert.ok(end?.type === 'failed' && end.fatal && end.error === outcome);
});

test('a retriable error of a sink restarts the job, which then finishes', async (t) => {
  const target = new CollectTarget<number>();
  const retriable = () => new SluiceError('SLUICE_TEST_UNREACHABLE', 'the store is down', { retriable: true });
  const { outcome, runner, events } = await runJob(t, failingSink(retriable, 2, target));
  assert.equal(outcome, 'finished');
  assert.equal(runner.attempts, 3, 'two restarts');
  assert.deepEqual(events.filter((e) => e.type === 'attempt-failed').map((e) => e.fatal), [false, false]);
  assert.deepEqual(new Set(target.records), new Set([...Array(200).keys()]));
});

test('a user map function that throws restarts the job (a replay may succeed), as Flink does', async (t) => {
  const target = new CollectTarget<number>();
  const { outcome, runner, events } = await runJob(t, collectSink(target), (i, attempt) => {
    if (i === 42 && attempt() === 0) throw new Error('cannot handle purchase 42');
    return i;
  });
  assert.equal(outcome, 'finished');
  assert.equal(runner.attempts, 2);
  const failed = events.find((e) => e.type === 'attempt-failed');
  assert.ok(failed?.type === 'attempt-failed' && !failed.fatal && failed.restartInMs !== undefined);
  assert.ok(isSluiceError(failed.error, 'SLUICE_OPERATOR_FAILED') && failed.error.retriable === true);
});

test('an operator wrapping an error of unknown kind leaves it to the restart strategy', async (t) => {
  const target = new CollectTarget<number>();
  const unknown = () => new SluiceError('SLUICE_TEST_UNKNOWN', 'something odd');
  const { outcome, runner } = await runJob(t, failingSink(unknown, 1, target));
  assert.equal(outcome, 'finished');
  assert.equal(runner.attempts, 2);
});

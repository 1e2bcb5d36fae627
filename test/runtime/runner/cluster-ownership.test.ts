/**
 * A cluster member that lost a job (its owner lease ended) starts no attempt of it: its sinks would take over the
 * transactional ids of the job's new owner. The runner waits for its cancel instead. Its sinks see the lease too.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { collectSink, CollectTarget, datagen } from '../../../connectors/dev/index.ts';
import { defineJob, type Sink } from '../../../runtime/api/index.ts';
import { CheckpointStore } from '../../../runtime/checkpoint/index.ts';
import { SluiceError } from '../../../runtime/errors/index.ts';
import { OwnerLease } from '../../../runtime/exec/owner-lease.ts';
import { JobRunner, type JobEvent } from '../../../runtime/runner/index.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { waitFor } from '../../support/wait-for.ts';

/** Collects, except that the first attempt's first write fails (a retriable error: the strategy restarts). */
function failingOnce(target: CollectTarget<number>): Sink<number> {
  const inner = collectSink(target);
  return {
    name: 'failing-once',
    createWriter(context) {
      const writer = inner.createWriter(context);
      return {
        start: () => writer.start(),
        write: (records) => {
          if (context.attempt === 0) throw new SluiceError('SLUICE_TEST_TRANSIENT', 'the first attempt fails', { retriable: true });
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

async function run(t: import('node:test').TestContext, endLeaseOnFailure: boolean) {
  const store = await CheckpointStore.open(await tempDir(t));
  t.after(() => store.close());
  const job = defineJob({ name: 'owned', parallelism: 1, checkpoints: { intervalMs: 50 }, restart: { type: 'fixed-delay', attempts: 5, delayMs: 10 } }, (env) => {
    env.source(datagen({ count: 100, record: (i) => i })).sink(failingOnce(new CollectTarget()));
  });
  let failed = false;
  const lease = OwnerLease.create();
  lease.holdOpenEnded();
  // Counts the runner's looks at the lease.
  let asked = 0;
  const holds = lease.holds.bind(lease);
  lease.holds = () => {
    asked++;
    return holds();
  };
  const runner = new JobRunner({ job, store, ownerLease: lease });
  const events: JobEvent[] = [];
  runner.events.subscribe((e) => {
    events.push(e);
    if (e.type !== 'attempt-failed') return;
    failed = true;
    if (endLeaseOnFailure) lease.end();
  });
  return { runner, events, asked: () => asked, failed: () => failed };
}

test('a member that lost the job starts no new attempt after a failure, and the run ends when the member cancels it', async (t) => {
  const { runner, events, asked, failed } = await run(t, true);
  const outcome = runner.run();
  await waitFor(() => failed(), { message: 'the first attempt failed' });
  const askedAtFailure = asked();
  // The runner keeps asking while it waits: give it a few looks, during which no attempt may start.
  await waitFor(() => asked() >= askedAtFailure + 3, { message: 'the runner looked at its ownership again' });
  runner.cancel('the member noticed it lost its group session');
  assert.equal(await outcome, 'cancelled');
  assert.deepEqual(events.filter((e) => e.type === 'attempt-started').map((e) => e.attempt), [0], 'only the attempt started while the member owned the job');
});

test('a member that still owns the job restarts it as its strategy says', async (t) => {
  const { runner, events } = await run(t, false);
  assert.equal(await runner.run(), 'finished');
  assert.deepEqual(events.filter((e) => e.type === 'attempt-started').map((e) => e.attempt), [0, 1]);
});

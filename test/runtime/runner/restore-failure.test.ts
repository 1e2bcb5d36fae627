import assert from 'node:assert/strict';
import { test } from 'node:test';
import { collectSink, CollectTarget, datagen } from '../../../connectors/dev/index.ts';
import { defineJob } from '../../../runtime/api/index.ts';
import { CheckpointStore } from '../../../runtime/checkpoint/index.ts';
import { SluiceError } from '../../../runtime/errors/index.ts';
import { JobRunner, type JobEvent } from '../../../runtime/runner/index.ts';
import { tempDir } from '../../support/temp-dir.ts';

test('a restart that finds no checkpoint to restore fails the job for good, with a failed event like any other failure', async (t) => {
  const store = await CheckpointStore.open(await tempDir(t));
  t.after(() => store.close());
  let storeBroken = false;
  const latestValid = store.latestValid.bind(store);
  store.latestValid = async (...args: Parameters<CheckpointStore['latestValid']>) => {
    if (storeBroken) throw new SluiceError('SLUICE_CHECKPOINT_NONE_VALID', 'injected: no checkpoint of job "restore-failure" is valid');
    return latestValid(...args);
  };
  let seen = 0;
  const job = defineJob({ name: 'restore-failure', parallelism: 1, checkpoints: { intervalMs: 10 }, restart: { type: 'fixed-delay', attempts: 3, delayMs: 1 } }, (env) => {
    env
      .source(datagen({ count: 1_000_000, splits: 1, batchSize: 100, ratePerSecond: 50_000, record: (i) => i }))
      .map((i) => {
        if (++seen === 5_000) {
          storeBroken = true;
          throw new Error('injected failure');
        }
        return i;
      })
      .sink(collectSink(new CollectTarget<number>()));
  });
  const runner = new JobRunner({ job, store });
  const events: JobEvent['type'][] = [];
  runner.events.subscribe({ next: (e) => void events.push(e.type) });
  await assert.rejects(runner.run(), { code: 'SLUICE_CHECKPOINT_NONE_VALID' });
  assert.equal(runner.state, 'failed');
  assert.deepEqual(events.slice(-2), ['attempt-failed', 'failed'], `the job says it failed (${events.join(', ')})`);
});

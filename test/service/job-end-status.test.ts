/**
 * The moment a job ends: between its runner stopping and the registry recording how it ended, status must not show
 * the registered "running" of a job that no longer runs, and a submit in that moment must not have its new record
 * overwritten by the ended run's "finished".
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { CheckpointStore } from '../../runtime/checkpoint/index.ts';
import { silentLogger } from '../../runtime/logging/index.ts';
import { JobFileLoader } from '../../runtime/service/job-loader.ts';
import { JobRegistry, type RecordChange } from '../../runtime/service/job-registry.ts';
import { JobSupervisor } from '../../runtime/service/job-supervisor.ts';
import { tempDir } from '../support/temp-dir.ts';
import { waitFor } from '../support/wait-for.ts';

const FIXTURE = join(import.meta.dirname, 'fixtures', 'counting-job.ts');

test('while a finished run is being recorded, status says finished, and a submit waits for the record', async (t) => {
  const dir = await tempDir(t, 'sluice-job-end-');
  const registry = await JobRegistry.open(join(dir, 'data'));
  const store = await CheckpointStore.open(join(dir, 'data'), { logger: silentLogger() });
  const supervisor = new JobSupervisor({ registry, store, loader: new JobFileLoader(), dataDir: join(dir, 'data'), logger: silentLogger(), workers: 0 });
  t.after(async () => {
    await supervisor.close();
    await Promise.all([registry.close(), store.close()]);
  });

  // The registry write that records the end is held until the test lets it go.
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let endHeld = false;
  const update = registry.update.bind(registry);
  registry.update = async (name, change, now) => {
    if (typeof change !== 'function' && (change as RecordChange).state === 'finished' && !endHeld) {
      endHeld = true;
      await released;
    }
    return update(name, change, now);
  };

  const request = { file: FIXTURE, params: { output: join(dir, 'out'), records: '200', rate: '100000' } };
  await supervisor.submit(request);
  await waitFor(() => endHeld, { timeoutMs: 60_000, intervalMs: 10, message: 'the job to finish' });

  const status = await supervisor.status('svc-count');
  assert.equal(status.state, 'finished', 'the ended run, not the registered "running"');
  assert.equal(status.registeredState, 'running');

  // A second submit in this moment starts a new run once the first one's end is recorded, and its record stays.
  const resubmitted = supervisor.submit({ ...request, params: { ...request.params, output: join(dir, 'out-2'), records: '1000000', rate: '1000' } });
  release();
  await resubmitted;
  const record = await registry.get('svc-count');
  assert.equal(record?.state, 'running', 'the first run\'s "finished" is not written over the second run');
  assert.equal(record?.params['output'], join(dir, 'out-2'));
  assert.equal((await supervisor.cancel('svc-count')).state, 'cancelled');
});

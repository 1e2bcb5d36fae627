/**
 * Worker threads through the service: `sluice start --workers` sets the default for jobs submitted without
 * `--workers`, `sluice submit --workers` sets one job's, `sluice status` shows where a job runs, and the output is
 * exact either way. Bad counts are refused by the CLI and by the REST API.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { readPartFiles } from '../../connectors/dev/index.ts';
import { tempDir } from '../support/temp-dir.ts';
import { KEYS } from './fixtures/counting-job.ts';
import { fixtureAs, jobStatus, ok, show, sluice, startService, waitForState } from './service-process.ts';

const RECORDS = 20_000;

/** Every record counted once: one running count per record, the last count of each key summing to RECORDS. */
async function assertExactCounts(output: string): Promise<void> {
  const rows = await readPartFiles<{ key: string; n: number }>(output);
  assert.equal(rows.length, RECORDS, 'one running count per record, none twice');
  const finals = new Map<string, number>();
  for (const r of rows) finals.set(r.key, Math.max(finals.get(r.key) ?? 0, r.n));
  assert.equal(finals.size, KEYS);
  assert.equal([...finals.values()].reduce((a, b) => a + b, 0), RECORDS);
}

test('sluice start --workers 0 runs jobs in-process by default; submit --workers 2 puts one job on two workers; both exact', async (t) => {
  const dir = await tempDir(t, 'sluice-svc-workers-');
  const service = await startService(t, ['--data-dir', join(dir, 'data'), '--workers', '0']);
  const env = { SLUICE_URL: service.url };

  const inProcessOut = join(dir, 'in-process');
  await ok(['submit', await fixtureAs('counting-job.ts', 'svc-count', 'svc-inproc', dir), '--set', `output=${inProcessOut}`, '--set', `records=${RECORDS}`, '--set', 'rate=10000'], env);
  const workersOut = join(dir, 'workers');
  await ok(['submit', await fixtureAs('counting-job.ts', 'svc-count', 'svc-workers', dir), '--workers', '2', '--set', `output=${workersOut}`, '--set', `records=${RECORDS}`, '--set', 'rate=10000'], env);

  // Where each runs, while it runs (the service's default, then the job's own --workers).
  const inProcess = await jobStatus(service.url, 'svc-inproc');
  const onWorkers = await jobStatus(service.url, 'svc-workers');
  if (inProcess.state === 'running') assert.equal(inProcess['workers'], 0);
  if (onWorkers.state === 'running') {
    assert.equal(onWorkers['workers'], 2);
    // The job may finish between the two reads; a finished job's status has no workers line.
    const shown = await ok(['status', 'svc-workers'], env);
    if (/^state\s+running$/m.test(shown)) assert.match(shown, /^workers\s+2$/m);
  }

  await waitForState(service.url, 'svc-inproc', 'finished');
  await waitForState(service.url, 'svc-workers', 'finished');
  await assertExactCounts(inProcessOut);
  await assertExactCounts(workersOut);
  assert.match(service.stderr(), /running on 2 worker threads/);
  assert.match(service.stderr(), /running in-process/);
});

test('a --workers that is not a whole number ≥ 0 is a usage error in submit and start, and a 400 from the REST API', async (t) => {
  const submit = await sluice(['submit', 'job.ts', '--workers', '-1']);
  assert.equal(submit.code, 2, show(submit));
  assert.match(submit.stderr, /--workers/);
  const start = await sluice(['start', '--workers', 'many']);
  assert.equal(start.code, 2, show(start));
  assert.match(start.stderr, /--workers must be a whole number ≥ 0 \(0 runs in-process\), got "many"/);

  const dir = await tempDir(t, 'sluice-svc-workers-bad-');
  const service = await startService(t, ['--data-dir', join(dir, 'data')]);
  const response = await fetch(`${service.url}/v1/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ file: join(dir, 'job.ts'), workers: 1.5 }) });
  assert.equal(response.status, 400);
  const { error } = (await response.json()) as { error: { code: string; message: string } };
  assert.equal(error.code, 'SLUICE_BAD_REQUEST');
  assert.match(error.message, /"workers" must be a whole number ≥ 0/);
});

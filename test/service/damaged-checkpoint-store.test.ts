/**
 * A service whose checkpoint store lost checkpoints (LevelDB drops records of a damaged log without an error): its
 * checkpoint listing says so, and a job submitted again there is refused with the reason instead of running from scratch.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { readPartFiles } from '../../connectors/dev/index.ts';
import { checkpointDbPath } from '../../runtime/checkpoint/index.ts';
import { damageLevelDbLog } from '../support/damage-leveldb-log.ts';
import { tempDir } from '../support/temp-dir.ts';
import { FIXTURES, jobStatus, ok, sluice, startService, waitForState } from './service-process.ts';

test('a damaged checkpoint store: the REST listing and sluice checkpoints warn, a resubmit is refused with the reason and writes nothing again, and a clear accepts the loss', async (t) => {
  const RECORDS = 4_000;
  const dir = await tempDir(t, 'sluice-svc-damaged-');
  const dataDir = join(dir, 'data');
  const output = join(dir, 'count-out');
  const job = [join(FIXTURES, 'counting-job.ts'), '--set', `output=${output}`, '--set', `records=${RECORDS}`, '--set', 'rate=4000'];

  const first = await startService(t, ['--data-dir', dataDir]);
  await ok(['submit', ...job], { SLUICE_URL: first.url });
  await waitForState(first.url, 'svc-count', 'finished');
  const listed = JSON.parse(await ok(['checkpoints', 'svc-count', '--json'], { SLUICE_URL: first.url })) as unknown[];
  assert.ok(listed.length > 0, 'the job took checkpoints');
  first.child.kill('SIGTERM');
  await first.exited;
  const written = (await readPartFiles(output)).length;
  assert.equal(written, RECORDS);

  await damageLevelDbLog(checkpointDbPath(dataDir));
  const second = await startService(t, ['--data-dir', dataDir]);
  const env = { SLUICE_URL: second.url };

  const response = await fetch(`${second.url}/v1/jobs/svc-count/checkpoints`);
  assert.equal(response.status, 200);
  const body = (await response.json()) as { checkpoints: unknown[]; warnings?: Array<{ code: string; message: string }> };
  assert.deepEqual(body.checkpoints, [], 'LevelDB dropped the damaged records without an error');
  assert.equal(body.warnings?.[0]?.code, 'SLUICE_CHECKPOINT_STORE_DAMAGED');
  assert.match(body.warnings[0]!.message, /the checkpoint store lost checkpoints of job "svc-count": it stored checkpoint \d+, but the store now ends at none/);

  const cli = await sluice(['checkpoints', 'svc-count'], env);
  assert.equal(cli.code, 0, cli.stderr);
  assert.match(cli.stdout, /no checkpoints for job "svc-count"/);
  assert.match(cli.stderr, /the checkpoint store lost checkpoints of job \\?"svc-count\\?".*SLUICE_CHECKPOINT_STORE_DAMAGED|SLUICE_CHECKPOINT_STORE_DAMAGED.*the checkpoint store lost checkpoints/);

  // Started again, the job would restore what is left (nothing) and write all of its output a second time.
  const resubmitted = await sluice(['submit', ...job], env);
  assert.equal(resubmitted.code, 1, resubmitted.stdout + resubmitted.stderr);
  assert.match(resubmitted.stderr, /the checkpoint store lost checkpoints of job "svc-count".*sluice checkpoint clear for a service's job/);
  assert.notEqual((await jobStatus(second.url, 'svc-count')).state, 'running');
  assert.equal((await readPartFiles(output)).length, written, 'nothing was written again');

  // Clearing the job's checkpoints accepts the loss: the listing has nothing more to say.
  await ok(['checkpoint', 'clear', 'svc-count'], env);
  const cleared = (await (await fetch(`${second.url}/v1/jobs/svc-count/checkpoints`)).json()) as { warnings: unknown[] };
  assert.deepEqual(cleared.warnings, []);
});

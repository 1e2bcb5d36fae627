/**
 * `sluice delete` / `DELETE /v1/jobs/{name}`: a job that is not running leaves the list; its checkpoints stay (a
 * later submit resumes from them) unless --checkpoints deletes them too; a running job is refused.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../support/temp-dir.ts';
import { waitFor } from '../support/wait-for.ts';
import { checkTickerCounts, committedParts, fixtureAs, ok, show, sluice, startService } from './service-process.ts';

test('delete forgets a stopped job, keeps its checkpoints unless --checkpoints, and refuses a running one', async (t) => {
  const dir = await tempDir(t, 'sluice-svc-delete-');
  const service = await startService(t, ['--data-dir', join(dir, 'data')]);
  const env = { SLUICE_URL: service.url };
  const output = join(dir, 'out');
  const job = await fixtureAs('ticker-job.ts', 'svc-ticker', 'svc-delete', dir);
  await ok(['submit', job, '--set', `output=${output}`], env);
  await waitFor(async () => (await committedParts(output)) > 0, { timeoutMs: 30_000, message: 'first committed output' });

  const running = await sluice(['delete', 'svc-delete'], env);
  assert.equal(running.code, 1, show(running));
  assert.match(running.stderr, /job "svc-delete" is running: cancel or stop it first \(sluice cancel svc-delete\).*\[SLUICE_JOB_RUNNING\]/);

  await ok(['stop', 'svc-delete', '--savepoint'], env);
  assert.match(await ok(['delete', 'svc-delete'], env), /^job "svc-delete" deleted\n$/);
  assert.doesNotMatch(await ok(['list'], env), /svc-delete/, 'gone from the list');
  assert.match(await ok(['checkpoints', 'svc-delete'], env), /savepoint/, 'its checkpoints and savepoints stay');

  // Submitted again under the same name, it resumes from them: counts go on without a gap or a repeat (a fresh start
  // would count from 1 again, which checkTickerCounts rejects).
  assert.match(await ok(['submit', job, '--set', `output=${output}`], env), /job "svc-delete" running/);
  const atResubmit = await committedParts(output);
  await waitFor(async () => (await committedParts(output)) > atResubmit, { timeoutMs: 30_000, message: 'output after the resubmit' });
  await ok(['cancel', 'svc-delete'], env);
  assert.ok((await checkTickerCounts(output)) > 0);

  const withCheckpoints = JSON.parse(await ok(['delete', 'svc-delete', '--checkpoints', '--json'], env)) as { deleted: string; checkpointsDeleted: number };
  assert.equal(withCheckpoints.deleted, 'svc-delete');
  assert.ok(withCheckpoints.checkpointsDeleted > 0, 'its checkpoints were deleted too');
  const none = await sluice(['checkpoints', 'svc-delete'], env);
  assert.equal(none.code, 1, show(none));
  assert.match(none.stderr, /no job named "svc-delete".*\[SLUICE_JOB_NOT_FOUND\]/);

  const unknown = await sluice(['delete', 'no-such-job'], env);
  assert.equal(unknown.code, 1, show(unknown));
  assert.match(unknown.stderr, /\[SLUICE_JOB_NOT_FOUND\]/);
  const badQuery = await fetch(`${service.url}/v1/jobs/no-such-job?checkpoints=yes`, { method: 'DELETE' });
  assert.equal(badQuery.status, 400);
});

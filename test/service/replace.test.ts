/**
 * `sluice submit --replace`: a new version that could not restore the running job's state is refused before anything
 * stops (the job keeps running), and a replacement without -p keeps the parallelism a rescale set.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../support/temp-dir.ts';
import { waitFor } from '../support/wait-for.ts';
import { checkTickerCounts, committedParts, fixtureAs, jobStatus, ok, show, sluice, startService } from './service-process.ts';

/** A copy of `file` with `from` replaced by `to` (the job's next version). */
async function variant(file: string, name: string, from: string, to: string): Promise<string> {
  const text = await readFile(file, 'utf8');
  assert.ok(text.includes(from), `${file} contains ${from}`);
  const out = join(file, '..', `${name}.ts`);
  await writeFile(out, text.replace(from, to));
  return out;
}

test('submit --replace checks the new version against the running job first; replace, pause and resume keep the rescaled parallelism', async (t) => {
  const dir = await tempDir(t, 'sluice-svc-replace-');
  const service = await startService(t, ['--data-dir', join(dir, 'data')]);
  const env = { SLUICE_URL: service.url };
  const output = join(dir, 'out');
  const job = await fixtureAs('ticker-job.ts', 'svc-ticker', 'svc-replace', dir);
  await ok(['submit', job, '-p', '2', '--set', `output=${output}`], env);
  await waitFor(async () => (await committedParts(output)) > 0, { timeoutMs: 30_000, message: 'first committed output' });
  await ok(['rescale', 'svc-replace', '-p', '3'], env);
  const before = await jobStatus(service.url, 'svc-replace');
  assert.equal(before['parallelism'], 3);

  const renamed = await variant(job, 'renamed-uid', ".uid('counts')", ".uid('totals')");
  const refused = await sluice(['submit', renamed, '--replace', '--set', `output=${output}`], env);
  assert.equal(refused.code, 2, show(refused));
  assert.match(refused.stderr, /the running job of job "svc-replace" has state for operator uid "counts" that the job no longer has.*\[SLUICE_STATE_NOT_RESTORED\]/);

  const regrouped = await variant(job, 'max-parallelism', "parallelism: 2,", 'parallelism: 2, maxParallelism: 64,');
  const refusedToo = await sluice(['submit', regrouped, '--replace', '--set', `output=${output}`], env);
  assert.equal(refusedToo.code, 2, show(refusedToo));
  assert.match(refusedToo.stderr, /maxParallelism 128, the job now has 64.*sluice checkpoint clear svc-replace.*\[SLUICE_MAX_PARALLELISM_CHANGED\]/);

  const still = await jobStatus(service.url, 'svc-replace');
  assert.equal(still.state, 'running', 'the refused replacements left the job running');
  assert.equal(still['attempt'], before['attempt'], 'and did not restart it');

  const replaced = await ok(['submit', job, '--replace', '--set', `output=${output}`, '--json'], env);
  const after = (JSON.parse(replaced) as { job: { state: string; parallelism: number } }).job;
  assert.equal(after.state, 'running');
  assert.equal(after.parallelism, 3, 'the replacement kept the parallelism the rescale set');
  const atReplace = await committedParts(output);
  await waitFor(async () => (await committedParts(output)) > atReplace, { timeoutMs: 30_000, message: 'output after the replacement' });
  await ok(['pause', 'svc-replace'], env);
  assert.match(await ok(['list'], env), /^svc-replace\s+paused\s+3\s/m, 'a paused job shows the parallelism it resumes at');
  await ok(['resume', 'svc-replace'], env);
  assert.equal((await jobStatus(service.url, 'svc-replace'))['parallelism'], 3, 'and resumes at it');
  const atResume = await committedParts(output);
  await waitFor(async () => (await committedParts(output)) > atResume, { timeoutMs: 30_000, message: 'output after the resume' });
  await ok(['stop', 'svc-replace', '--savepoint'], env);
  assert.ok((await checkTickerCounts(output)) > 0, 'every count 1, 2, … with no gap or repeat across rescale and replace');
});

/**
 * `kill -9` of the service: the next `sluice start` on the same data directory resumes every running job from its
 * latest checkpoint with nothing lost or repeated; paused jobs stay paused, cancelled ones stay cancelled.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { readPartFiles } from '../../connectors/dev/index.ts';
import { tempDir } from '../support/temp-dir.ts';
import { waitFor } from '../support/wait-for.ts';
import { keyOf } from './fixtures/counting-job.ts';
import { FIXTURES, committedParts, fixtureAs, jobStatus, ok, startService, waitForState } from './service-process.ts';

test('kill -9 of the service, then sluice start on the same data dir: running jobs resume with exact output at their rescaled parallelism and with their rescale history, paused and cancelled ones stay', async (t) => {
  const RECORDS = 80_000;
  const dir = await tempDir(t, 'sluice-svc-crash-');
  const dataDir = join(dir, 'data');
  const output = join(dir, 'count-out');

  const first = await startService(t, ['--data-dir', dataDir]);
  const env = { SLUICE_URL: first.url };
  const paused = await fixtureAs('ticker-job.ts', 'svc-ticker', 'svc-crash-paused', dir);
  const cancelled = await fixtureAs('ticker-job.ts', 'svc-ticker', 'svc-crash-cancelled', dir);
  await ok(['submit', paused, '--set', `output=${join(dir, 'paused-out')}`], env);
  await ok(['submit', cancelled, '--set', `output=${join(dir, 'cancelled-out')}`], env);
  await ok(['pause', 'svc-crash-paused'], env);
  await ok(['cancel', 'svc-crash-cancelled'], env);

  await ok(['submit', join(FIXTURES, 'counting-job.ts'), '--set', `output=${output}`, '--set', `records=${RECORDS}`, '--set', 'rate=20000'], env);
  await waitFor(async () => (await committedParts(output)) >= 4, { timeoutMs: 30_000, message: 'committed output before the crash' });
  await ok(['rescale', 'svc-count', '-p', '3'], env);
  first.child.kill('SIGKILL');
  assert.equal(await first.exited, null, 'killed, not exited');
  const beforeCrash = (await readPartFiles(output)).length;
  assert.ok(beforeCrash > 0 && beforeCrash < RECORDS, `crashed mid-job (${beforeCrash} committed)`);

  const second = await startService(t, ['--data-dir', dataDir]);
  const resumed = await jobStatus(second.url, 'svc-count');
  const rescales = resumed['rescales'] as Array<{ from: number; to: number; trigger: string }>;
  assert.deepEqual(rescales.map((r) => [r.from, r.to, r.trigger]), [[2, 3, 'manual']], 'the rescale history survives the crash');
  assert.equal(resumed['parallelism'], 3, 'and the job resumes at the rescaled parallelism');
  await waitForState(second.url, 'svc-count', 'finished', 90_000);
  const records = await readPartFiles<{ key: string; n: number }>(output);
  assert.equal(records.length, RECORDS, 'one committed update per input record: none lost, none duplicated');
  const expected = new Map<string, number>();
  for (let i = 0; i < RECORDS; i++) expected.set(keyOf(i), (expected.get(keyOf(i)) ?? 0) + 1);
  const last = new Map<string, number>();
  for (const r of records) last.set(r.key, Math.max(r.n, last.get(r.key) ?? 0));
  assert.deepEqual(last, expected);

  const p = await jobStatus(second.url, 'svc-crash-paused');
  assert.equal(p.state, 'paused');
  assert.equal(p['attempt'], null);
  const c = await jobStatus(second.url, 'svc-crash-cancelled');
  assert.equal(c.state, 'cancelled');
  assert.equal(c['attempt'], null);
  assert.match(second.stderr(), /resumed job \\"svc-count\\"|resumed job "svc-count"/);
});

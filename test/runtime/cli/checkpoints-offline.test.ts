/**
 * `sluice checkpoints <job> --data-dir <dir>` reads a data directory without a service, and `sluice run --from <id>`
 * restores from one; neither creates a store where a mistyped path points.
 */
import assert from 'node:assert/strict';
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { checkpointDbPath } from '../../../runtime/checkpoint/index.ts';
import { damageLevelDbLog } from '../../support/damage-leveldb-log.ts';
import { runSluice } from '../../support/sluice-cli.ts';
import { tempDir } from '../../support/temp-dir.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
// A bounded job with checkpoints (its last one taken as it finishes), writing under --set outDir.
const JOB = fileURLToPath(new URL('../testing/fixtures/exactly-once-job.ts', import.meta.url));

test('sluice checkpoints --data-dir lists a job\'s checkpoints, and a data directory without a store is an error that creates nothing', async (t) => {
  const dir = await tempDir(t);
  const data = join(dir, 'data');
  const run = await runSluice(['run', JOB, '--data-dir', data, '--set', `outDir=${join(dir, 'out')}`], { cwd: ROOT });
  assert.equal(run.code, 0, run.stderr);

  const listed = await runSluice(['checkpoints', 'verify-exact', '--data-dir', data], { cwd: ROOT });
  assert.equal(listed.code, 0, listed.stderr);
  assert.match(listed.stdout, /^ID +KIND +TYPE/);
  assert.match(listed.stdout, /\n\d+ +checkpoint +full .* valid\n/);

  const typo = join(dir, 'dat');
  const missing = await runSluice(['checkpoints', 'verify-exact', '--data-dir', typo], { cwd: ROOT });
  assert.equal(missing.code, 1, missing.stdout + missing.stderr);
  assert.match(missing.stderr, new RegExp(`no checkpoint store in ${typo} \\(nothing at ${join(typo, 'checkpoints')}\\): give the data directory the job ran with.*\\[SLUICE_CHECKPOINT_STORE_MISSING\\]`));
  await assert.rejects(access(typo), { code: 'ENOENT' }, 'the mistyped directory was not created');
});

test('sluice run --from <id> with a data directory that holds no checkpoints says so and creates nothing; an unknown id names the way to list them', async (t) => {
  const dir = await tempDir(t);
  const data = join(dir, 'data');
  const typo = join(dir, 'dta');
  const outDir = ['--set', `outDir=${join(dir, 'out')}`];
  const missing = await runSluice(['run', JOB, '--data-dir', typo, '--from', '1', ...outDir], { cwd: ROOT });
  assert.equal(missing.code, 1, missing.stdout + missing.stderr);
  assert.match(missing.stderr, /no checkpoint store in .*dta .*\[SLUICE_CHECKPOINT_STORE_MISSING\]/);
  await assert.rejects(access(typo), { code: 'ENOENT' }, 'the mistyped directory was not created');

  assert.equal((await runSluice(['run', JOB, '--data-dir', data, ...outDir], { cwd: ROOT })).code, 0);
  const unknown = await runSluice(['run', JOB, '--data-dir', data, '--from', '999', ...outDir], { cwd: ROOT });
  assert.equal(unknown.code, 1, unknown.stdout + unknown.stderr);
  assert.match(unknown.stderr, /checkpoint 999 of job "verify-exact" does not exist; list the job's checkpoints with sluice checkpoints verify-exact \(with --data-dir <dir> for the data directory of sluice run\)/);
});

test('a data directory whose checkpoint store lost checkpoints: the listing warns, a run refuses to restore what is left, --fresh starts over', async (t) => {
  const dir = await tempDir(t);
  const data = join(dir, 'data');
  const outDir = ['--set', `outDir=${join(dir, 'out')}`];
  assert.equal((await runSluice(['run', JOB, '--data-dir', data, ...outDir], { cwd: ROOT })).code, 0);
  await damageLevelDbLog(checkpointDbPath(data));

  const listed = await runSluice(['checkpoints', 'verify-exact', '--data-dir', data], { cwd: ROOT });
  assert.equal(listed.code, 0, listed.stderr);
  assert.match(listed.stdout, /no checkpoints for job "verify-exact"/);
  assert.match(listed.stderr, /SLUICE_CHECKPOINT_STORE_DAMAGED.*the checkpoint store lost checkpoints of job \\"verify-exact\\"/);

  const refused = await runSluice(['run', JOB, '--data-dir', data, ...outDir], { cwd: ROOT });
  assert.equal(refused.code, 1, refused.stdout + refused.stderr);
  assert.match(refused.stderr, /the checkpoint store lost checkpoints of job "verify-exact": it stored checkpoint \d+, but the store now ends at none.*\[SLUICE_CHECKPOINT_STORE_DAMAGED\]/);
  assert.doesNotMatch(refused.stdout, /finished/, 'the job did not run again from scratch');

  const fresh = await runSluice(['run', JOB, '--data-dir', data, '--fresh', ...outDir], { cwd: ROOT });
  assert.equal(fresh.code, 0, fresh.stderr);
  assert.match(fresh.stdout, /job "verify-exact" finished: 3000 records read/);
});

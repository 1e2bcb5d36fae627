/**
 * What a user sees when something is wrong: the message names the problem and what to do, the exit code says whose
 * fault it is (2: the command or the job file, 1: the state of things), and nothing is started or lost.
 */
import assert from 'node:assert/strict';
import { readdir, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../support/temp-dir.ts';
import { waitFor } from '../support/wait-for.ts';
import { FIXTURES, closedPort, fixtureAs, ok, show, sluice, startService } from './service-process.ts';

test('bad inputs against a running service', async (t) => {
  const dir = await tempDir(t, 'sluice-svc-bad-');
  const service = await startService(t, ['--data-dir', join(dir, 'data')]);
  const env = { SLUICE_URL: service.url };

  await t.test('an unknown job: exit 1, names the job and how to list jobs', async () => {
    for (const args of [['status', 'nosuch'], ['cancel', 'nosuch'], ['checkpoint', 'clear', 'nosuch']]) {
      const o = await sluice(args, env);
      assert.equal(o.code, 1, show(o));
      assert.match(o.stderr, /no job named "nosuch" is registered with this service; list the jobs with `sluice list`.*\[SLUICE_JOB_NOT_FOUND\]/);
    }
  });

  await t.test('malformed flags: exit 2 with the verb\'s usage, nothing sent', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['submit', 'jobs/wordcount.ts', '-p', 'abc'], /--parallelism expects a positive integer, got "abc"[\s\S]*Usage: sluice submit/],
      [['submit', 'jobs/wordcount.ts', '--paralelism', '2'], /--paralelism[\s\S]*Usage: sluice submit/],
      [['submit', 'jobs/wordcount.ts', '--set', 'output'], /--set expects key=value, got "output"/],
      [['rescale', 'svc-x'], /sluice rescale needs -p <n>[\s\S]*Usage: sluice rescale/],
      [['checkpoint', 'shred', 'svc-x'], /unknown checkpoint tool "shred"/],
      [['checkpoint', 'backup', 'svc-x'], /needs --output <file>/],
      [['status'], /sluice status needs a job name/],
    ];
    for (const [args, message] of cases) {
      const o = await sluice(args, env);
      assert.equal(o.code, 2, `${args.join(' ')}: ${show(o)}`);
      assert.match(o.stderr, message);
    }
  });

  await t.test('a job file with a syntax error: exit 2 with file:line:column', async () => {
    const file = join(dir, 'broken.ts');
    await writeFile(file, 'export default defineJob({ name: "x" }, (env) => {\n  env.source(\n');
    const o = await sluice(['submit', file], env);
    assert.equal(o.code, 2, show(o));
    assert.ok(o.stderr.includes(`job file ${file} has a syntax error: ${file}:3:0: Unexpected end of file`), o.stderr);
    assert.match(o.stderr, /\[SLUICE_JOB_FILE_SYNTAX_ERROR\]/);
  });

  await t.test('a job that fails validation: exit 2 listing every problem; it is not registered', async () => {
    const o = await sluice(['submit', join(FIXTURES, 'invalid-job.ts')], env);
    assert.equal(o.code, 2, show(o));
    assert.match(o.stderr, /job "svc-invalid" is invalid \(2 problems\)/);
    assert.match(o.stderr, /^ {2}- uid "numbers" is used by two operators/m);
    assert.match(o.stderr, /^ {2}- the pipeline ending at "no-sink-here" has no sink/m);
    assert.doesNotMatch(await ok(['list'], env), /svc-invalid/);
  });

  await t.test('a missing job file and a missing savepoint file: exit 2 naming the path on the service', async () => {
    const missingJob = await sluice(['submit', join(dir, 'nope.ts')], env);
    assert.equal(missingJob.code, 2, show(missingJob));
    assert.ok(missingJob.stderr.includes(`job file ${join(dir, 'nope.ts')} does not exist on the service's filesystem`), missingJob.stderr);

    const job = await fixtureAs('ticker-job.ts', 'svc-ticker', 'svc-bad-from', dir);
    const o = await sluice(['submit', job, '--set', `output=${join(dir, 'out')}`, '--from', join(dir, 'missing-savepoint.json')], env);
    assert.equal(o.code, 2, show(o));
    assert.ok(o.stderr.includes(`savepoint file ${join(dir, 'missing-savepoint.json')} does not exist on the service's filesystem`), o.stderr);
    const unknownId = await sluice(['submit', job, '--set', `output=${join(dir, 'out')}`, '--from', '424242'], env);
    assert.equal(unknownId.code, 2, show(unknownId));
    assert.match(unknownId.stderr, /job "svc-bad-from" has no checkpoint or savepoint 424242 to restore from/);
    assert.doesNotMatch(await ok(['list'], env), /svc-bad-from/, 'nothing was registered or started');
  });

  await t.test('restoring from a missing or non-backup file: exit 2, nothing imported', async () => {
    const job = await fixtureAs('ticker-job.ts', 'svc-ticker', 'svc-bad-restore', dir);
    await ok(['submit', job, '--set', `output=${join(dir, 'restore-out')}`], env);
    const missing = await sluice(['checkpoint', 'restore', 'svc-bad-restore', '--input', join(dir, 'nope.json')], env);
    assert.equal(missing.code, 2, show(missing));
    assert.match(missing.stderr, /cannot read backup file .*nope\.json: it does not exist/);
    const notBackup = join(dir, 'not-a-backup.json');
    await writeFile(notBackup, '{"hello":"world"}');
    const wrong = await sluice(['checkpoint', 'restore', 'svc-bad-restore', '--input', notBackup], env);
    assert.equal(wrong.code, 2, show(wrong));
    assert.match(wrong.stderr, /not-a-backup\.json is JSON but not a checkpoint backup: give a file written by `sluice checkpoint backup`.*\[SLUICE_BACKUP_FILE_UNREADABLE\]/);
    // Not JSON: sent as an export, which the service checks before it stores anything.
    const garbage = join(dir, 'garbage.bin');
    await writeFile(garbage, Buffer.from(Array.from({ length: 100_000 }, (_, i) => (i * 7919) % 251)));
    const corrupt = await sluice(['checkpoint', 'restore', 'svc-bad-restore', '--input', garbage], env);
    assert.equal(corrupt.code, 2, show(corrupt));
    assert.match(corrupt.stderr, /garbage\.bin|checkpoint export|not valid msgpack|sluice-checkpoint-export/);
    assert.match(corrupt.stderr, /\[SLUICE_CHECKPOINT_CORRUPT\]/);
    assert.doesNotMatch(await ok(['checkpoints', 'svc-bad-restore'], env), /^\d+\s+savepoint/m, 'nothing was imported');
    // An upload cut off midway (the client dies): nothing imported, and its temporary file is removed.
    await new Promise<void>((resolve) => {
      const request = httpRequest(`${service.url}/v1/jobs/svc-bad-restore/checkpoints/import`, { method: 'POST', headers: { 'content-type': 'application/octet-stream', 'content-length': 1_000_000 } });
      request.on('error', () => resolve()); // the socket we destroy
      request.write(Buffer.alloc(64 * 1024, 1), () => setTimeout(() => request.destroy(), 200));
    });
    const uploads = join(dir, 'data', 'tmp');
    await waitFor(async () => (await readdir(uploads).catch(() => [])).length === 0, { timeoutMs: 10_000, message: 'the cut-off upload\'s file removed' });
    assert.doesNotMatch(await ok(['checkpoints', 'svc-bad-restore'], env), /^\d+\s+savepoint/m, 'nothing was imported');
    assert.match(await ok(['status', 'svc-bad-restore'], env), /^state\s+running/m, 'the job kept running');
    await ok(['cancel', 'svc-bad-restore'], env);
    const notRunning = await sluice(['pause', 'svc-bad-restore'], env);
    assert.equal(notRunning.code, 1, show(notRunning));
    assert.match(notRunning.stderr, /job "svc-bad-restore" is cancelled, not running: cannot pause it/);
  });

  await t.test('REST: malformed JSON, unknown fields and unknown routes get the error shape', async () => {
    const malformed = await fetch(`${service.url}/v1/jobs`, { method: 'POST', body: '{"file":', headers: { 'content-type': 'application/json' } });
    assert.equal(malformed.status, 400);
    assert.equal(((await malformed.json()) as { error: { code: string } }).error.code, 'SLUICE_BAD_REQUEST');
    const unknownField = await fetch(`${service.url}/v1/jobs`, { method: 'POST', body: JSON.stringify({ file: 'x.ts', paralelism: 2 }) });
    assert.equal(unknownField.status, 400);
    assert.match(((await unknownField.json()) as { error: { message: string } }).error.message, /unknown field "paralelism"/);
    const route = await fetch(`${service.url}/v2/jobs`);
    assert.equal(route.status, 404);
    assert.equal(((await route.json()) as { error: { code: string } }).error.code, 'SLUICE_ROUTE_NOT_FOUND');
    const method = await fetch(`${service.url}/v1/jobs/x/pause`);
    assert.equal(method.status, 405);
    // Checkpoint exports travel as application/octet-stream, and only to the import route.
    const jsonImport = await fetch(`${service.url}/v1/jobs/x/checkpoints/import`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
    assert.equal(jsonImport.status, 415);
    assert.match(((await jsonImport.json()) as { error: { message: string } }).error.message, /takes a checkpoint export as its body, sent as application\/octet-stream/);
    const binarySubmit = await fetch(`${service.url}/v1/jobs`, { method: 'POST', body: new Uint8Array([1, 2, 3]), headers: { 'content-type': 'application/octet-stream' } });
    assert.equal(binarySubmit.status, 415);
    assert.equal(((await binarySubmit.json()) as { error: { code: string } }).error.code, 'SLUICE_UNSUPPORTED_MEDIA_TYPE');
    const unknownJob = await fetch(`${service.url}/v1/jobs/nosuch/checkpoints/export`);
    assert.equal(unknownJob.status, 404);
    assert.equal(((await unknownJob.json()) as { error: { code: string } }).error.code, 'SLUICE_JOB_NOT_FOUND');
  });
});

test('an unreachable service: exit 1, names the URL and suggests sluice start', async () => {
  const url = `http://127.0.0.1:${await closedPort()}`;
  const o = await sluice(['list', '--url', url]);
  assert.equal(o.code, 1, show(o));
  assert.ok(o.stderr.includes(`cannot reach the sluice service at ${url} (ECONNREFUSED): start it with \`sluice start\``), o.stderr);
});

/**
 * `sluice run` as a user meets it: a child process, its exit code (0 ok, 1 the job failed, 2 the command or the job
 * file is wrong) and what it prints.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { readPartFiles } from '../../../connectors/dev/index.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI in a child process; `entry` is `main` (tsx + runtime/cli/main.ts) or `bin` (bin/sluice.js). */
function sluice(args: readonly string[], entry: 'main' | 'bin' = 'main'): Promise<Outcome> {
  const argv = entry === 'main' ? ['--import', 'tsx', 'runtime/cli/main.ts', ...args] : ['bin/sluice.js', ...args];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, argv, { cwd: ROOT, env: { ...process.env, LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

async function tempDir(t: test.TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-cli-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function show(o: Outcome): string {
  return `exit ${o.code}\n--- stdout\n${o.stdout}\n--- stderr\n${o.stderr}`;
}

test('a good job exits 0 and writes its output', async (t) => {
  const output = join(await tempDir(t), 'counts');
  const o = await sluice(['run', 'jobs/wordcount.ts', '--set', `output=${output}`, '-p', '3'], 'bin');
  assert.equal(o.code, 0, show(o));
  assert.match(o.stdout, /job "wordcount" finished: 5 records read/);
  const parts = (await readdir(output)).filter((n) => n.endsWith('.ndjson'));
  assert.ok(parts.length > 0, `no part files in ${output}`);
  // --set and -p reached the job: the output is complete and was written by the keyed stage's subtasks.
  const counts = new Map<string, number>();
  for (const r of await readPartFiles<{ word: string; count: number }>(output)) counts.set(r.word, r.count);
  assert.equal(counts.get('it'), 10);
  assert.ok(parts.every((n) => /^part-[0-2]-/.test(n)), parts.join(', '));
});

test('a missing job file exits 2 naming the file', async () => {
  const o = await sluice(['run', 'jobs/no-such-job.ts']);
  assert.equal(o.code, 2, show(o));
  assert.match(o.stderr, /job file jobs\/no-such-job\.ts does not exist/);
});

test('a job file with a syntax error exits 2 naming the file, line and column', async (t) => {
  const file = join(await tempDir(t), 'broken.ts');
  await writeFile(file, 'export default defineJob({ name: "x" }, (env) => {\n  env.source(\n');
  const o = await sluice(['run', file]);
  assert.equal(o.code, 2, show(o));
  assert.ok(o.stderr.includes(`job file ${file} has a syntax error: ${file}:3:0: Unexpected end of file`), o.stderr);
  assert.match(o.stderr, /SLUICE_JOB_FILE_SYNTAX_ERROR/);
});

test('a file that is not a module exits 2 naming the file', async (t) => {
  const file = join(await tempDir(t), 'notes.txt');
  await writeFile(file, 'remember to count the words\n');
  const o = await sluice(['run', file]);
  assert.equal(o.code, 2, show(o));
  assert.ok(o.stderr.includes(`job file ${file} could not be loaded`), o.stderr);
});

test('a module without a default export exits 2', async (t) => {
  const file = join(await tempDir(t), 'no-default.ts');
  await writeFile(file, 'export const job = { name: "forgot" };\n');
  const o = await sluice(['run', file]);
  assert.equal(o.code, 2, show(o));
  assert.ok(o.stderr.includes(`job file ${file} has no default export`), o.stderr);
});

test('a default export that is not a job exits 2', async (t) => {
  const file = join(await tempDir(t), 'not-a-job.ts');
  await writeFile(file, 'export default { name: "looks like options" };\n');
  const o = await sluice(['run', file]);
  assert.equal(o.code, 2, show(o));
  assert.ok(o.stderr.includes(`the default export of job file ${file} is not a job`), o.stderr);
});

test('a module that throws while being imported exits 2 with the thrown message', async (t) => {
  const file = join(await tempDir(t), 'throws.ts');
  await writeFile(file, 'throw new Error("KAFKA_TOPIC is not set");\nexport default 1;\n');
  const o = await sluice(['run', file]);
  assert.equal(o.code, 2, show(o));
  assert.ok(o.stderr.includes(`job file ${file} could not be loaded: KAFKA_TOPIC is not set`), o.stderr);
});

test('a job that fails validation exits 2 listing every problem', async () => {
  const o = await sluice(['run', join(FIXTURES, 'invalid-job.ts')]);
  assert.equal(o.code, 2, show(o));
  assert.match(o.stderr, /job "cli-invalid" is invalid \(3 problems\)/);
  assert.match(o.stderr, /the pipeline ending at "no-sink-here" has no sink/);
  assert.match(o.stderr, /uid "numbers" is used by two operators/);
  assert.match(o.stderr, /parallelism 9 of operator "too-wide" exceeds maxParallelism 4/);
});

test('an unknown flag exits 2 with the usage text', async () => {
  const o = await sluice(['run', 'jobs/wordcount.ts', '--paralelism', '2']);
  assert.equal(o.code, 2, show(o));
  assert.match(o.stderr, /--paralelism/);
  assert.match(o.stderr, /Usage: sluice run <job\.ts> \[options\]/);
});

test('a non-numeric --parallelism exits 2 naming the flag, with the usage text', async () => {
  const o = await sluice(['run', 'jobs/wordcount.ts', '--parallelism', 'abc']);
  assert.equal(o.code, 2, show(o));
  assert.match(o.stderr, /--parallelism expects a positive integer, got "abc"/);
  assert.match(o.stderr, /Usage: sluice run <job\.ts> \[options\]/);
});

test('a --heap-growth outside 0..400 exits 2 naming the flag; a valid one runs the job', async (t) => {
  for (const bad of ['-5', '401', '12.5', 'lots']) {
    const o = await sluice(['run', 'jobs/wordcount.ts', `--heap-growth=${bad}`]);
    assert.equal(o.code, 2, show(o));
    assert.match(o.stderr, new RegExp(`--heap-growth expects a percent from 0 to 400 \\(0 = V8's default\\), got "${bad.replace('.', '\\.')}"`));
  }
  const output = join(await tempDir(t), 'counts');
  const o = await sluice(['run', 'jobs/wordcount.ts', '--set', `output=${output}`, '--heap-growth', '0']);
  assert.equal(o.code, 0, show(o));
});

test('a --set without "=" exits 2 naming the bad pair', async () => {
  const o = await sluice(['run', 'jobs/wordcount.ts', '--set', 'output']);
  assert.equal(o.code, 2, show(o));
  assert.match(o.stderr, /--set expects key=value, got "output"/);
});

test('a job whose operator throws at runtime exits 1 naming the operator', async () => {
  const o = await sluice(['run', join(FIXTURES, 'failing-job.ts')]);
  assert.equal(o.code, 1, show(o));
  assert.match(o.stderr, /operator "picky" \(subtask 1\/1\) of job "cli-failing" failed: record 42 is not welcome/);
  assert.match(o.stderr, /SLUICE_OPERATOR_FAILED/);
});

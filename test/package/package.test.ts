/**
 * Sluice as a user installs it: `npm pack` of this working tree, `sluice init` of a new project, `npm install` of
 * the tarball into it (dependencies from the local npm cache where it has them), then the project's own commands
 * (`npm start`, `npm test`), a job type-checked under a plain strict tsconfig (no allowImportingTsExtensions, no
 * skipLibCheck) and run with `npx sluice run`.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cp, mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { readPartFiles } from '../../connectors/dev/index.ts';
import { tempDir } from '../support/temp-dir.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** What `npm pack` needs from the working tree (package.json `files` plus the build's inputs). */
const PACKED_INPUTS = ['package.json', 'tsconfig.json', 'tsconfig.build.json', 'README.md', 'bin', 'docs', 'runtime', 'connectors', 'devstack'];
const NPM_FLAGS = ['--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'];

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a command to its end. The environment drops the npm_* variables of an enclosing `npm test`, and
 * NODE_TEST_CONTEXT, which would make the project's own `node --test` report to this test runner instead of stdout.
 */
function run(command: string, args: readonly string[], cwd: string, timeoutMs = 240_000): Promise<Outcome> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.toLowerCase().startsWith('npm_') && key !== 'NODE_TEST_CONTEXT'));
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env: { ...env, LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

async function ok(command: string, args: readonly string[], cwd: string): Promise<Outcome> {
  const o = await run(command, args, cwd);
  assert.equal(o.code, 0, `${command} ${args.join(' ')} (in ${cwd}) exited ${o.code}\n--- stdout\n${o.stdout}\n--- stderr\n${o.stderr}`);
  return o;
}

/** A job importing `sluice` and `sluice/dev` by name, plus a type from each other entry point. */
const STRICT_JOB = `import { defineJob, type JobDefinition } from 'sluice';
import { collection, fileSink } from 'sluice/dev';
import type { KafkaSourceOptions } from 'sluice/kafka';
import type { ElasticsearchSinkOptions } from 'sluice/elasticsearch';
import type { RunJobOptions } from 'sluice/testing';

export type EntryPoints = [KafkaSourceOptions<unknown>, ElasticsearchSinkOptions<unknown>, RunJobOptions];

const job: JobDefinition = defineJob({ name: 'squares' }, (env, params) => {
  env
    .source(collection([1, 2, 3, 4]))
    .map((n) => ({ n, square: n * n }))
    .sink(fileSink({ directory: params.string('output') }));
});
export default job;
`;

const STRICT_TSCONFIG = {
  compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, types: ['node'] },
  include: ['*.ts'],
};

test('the packed package: init a project, install the tarball, type-check, run and test it', async (t) => {
  const dir = await tempDir(t, 'sluice-package-');
  // Each phase's duration, in the test's output: installs depend on the npm cache and the network.
  let since = Date.now();
  const phase = (name: string): void => {
    t.diagnostic(`${name}: ${((Date.now() - since) / 1000).toFixed(1)} s`);
    since = Date.now();
  };

  // Pack a copy of the working tree, so the build (prepack) writes no dist/ into the repo under other tests.
  const stage = join(dir, 'stage');
  for (const input of PACKED_INPUTS) await cp(join(ROOT, input), join(stage, input), { recursive: true });
  await symlink(join(ROOT, 'node_modules'), join(stage, 'node_modules'), 'dir');
  const packed = await ok('npm', ['pack', '--json', '--pack-destination', dir, '--loglevel=error'], stage);
  const [manifest] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('['))) as Array<{ filename: string; files: Array<{ path: string }> }>;
  assert.ok(manifest !== undefined, packed.stdout);
  const paths = manifest.files.map((f) => f.path);
  assert.ok(paths.includes('dist/runtime/api/index.js') && paths.includes('dist/runtime/api/index.d.ts'), paths.join('\n'));
  assert.ok(paths.includes('bin/sluice.js'), 'the bin is packed');
  assert.deepEqual(paths.filter((p) => p.startsWith('dist/runtime/dashboard/static/')).sort(), ['app.js', 'index.html', 'style.css'].map((f) => `dist/runtime/dashboard/static/${f}`), 'the dashboard\'s page, script and styles are packed');
  const unwanted = paths.filter((p) => /^(test|bench|\.ci|runtime|connectors|devstack|jobs)\//.test(p) || p.endsWith('.ts') && !p.endsWith('.d.ts'));
  assert.deepEqual(unwanted, [], 'no tests, benchmarks, CI scripts or TypeScript sources in the package');
  const tarball = join(dir, manifest.filename);
  phase('npm pack (with the build)');

  // sluice init (from this repo's CLI), then the tarball and the project's dev dependencies into it.
  const project = join(dir, 'my-jobs');
  await ok(process.execPath, [join(ROOT, 'bin/sluice.js'), 'init', project], dir);
  await ok('npm', ['install', tarball, ...NPM_FLAGS], project);
  phase('sluice init + npm install');

  // A job under a plain strict tsconfig type-checks against the shipped .d.ts and runs with npx sluice run.
  const strict = join(project, 'strict');
  await mkdir(strict);
  await writeFile(join(strict, 'tsconfig.json'), JSON.stringify(STRICT_TSCONFIG));
  await writeFile(join(strict, 'squares.ts'), STRICT_JOB);
  await ok('npx', ['--no', '--', 'tsc', '-p', 'strict'], project);
  const output = join(dir, 'squares-out');
  const squares = await ok('npx', ['--no', '--', 'sluice', 'run', 'strict/squares.ts', '--set', `output=${output}`], project);
  assert.match(squares.stdout, /job "squares" finished: 4 records read/);
  const records = await readPartFiles<{ n: number; square: number }>(output);
  assert.deepEqual(records.map((r) => r.square).sort((a, b) => a - b), [1, 4, 9, 16]);
  // The same job alone in a folder with no package.json and no node_modules above it: the installed CLI loads it as
  // ESM and resolves its `sluice` imports to itself (job-module-hooks, compiled).
  const loose = join(dir, 'loose');
  await mkdir(loose);
  await writeFile(join(loose, 'squares.ts'), STRICT_JOB);
  const looseOutput = join(dir, 'loose-out');
  // At debug level: its worker starts from a bundle of the job alone, the installed package staying a plain import.
  const looseRun = await ok('env', ['LOG_LEVEL=debug', 'npx', '--no', '--', 'sluice', 'run', join(loose, 'squares.ts'), '--set', `output=${looseOutput}`], project);
  assert.equal((await readPartFiles(looseOutput)).length, 4);
  assert.match(looseRun.stderr, /"inputs":1,[^\n]*"msg":"worker bundle built"/, 'bundled for its worker: the job file only');
  phase('strict tsc + npx sluice run (twice)');

  // The project's README commands: npm start (the example job), npm test (tsc + its node:test file) and npm run verify.
  await ok('npm', ['start', '--', '--set', 'orders=1000'], project);
  const totals = new Map<string, number>();
  for (const r of await readPartFiles<{ user: string; total: number; orders: number }>(join(project, 'out/example'))) {
    totals.set(r.user, Math.max(totals.get(r.user) ?? 0, r.total));
  }
  // Orders i < 1000: user-(i % 10), amount i % 5; user-k's amounts are all k % 5 (100 orders), so total 100 * (k % 5).
  assert.deepEqual([...totals].sort(), [1, 2, 3, 4, 6, 7, 8, 9].map((k) => [`user-${k}`, 100 * (k % 5)]).sort());
  const tested = await ok('npm', ['test'], project);
  assert.match(tested.stdout, /# pass 1/);
  phase('npm start + npm test');
  // And its verify script: the example job clean and with crashes, from the installed (compiled) package.
  const verified = await ok('npm', ['run', 'verify'], project);
  assert.match(verified.stdout, /^EXACT: with 3 crashes the job wrote exactly what the clean run wrote \([\d,]+ records in file:example \(/m);
  phase('npm run verify');

  // What npm installed for the user: the package ships no sources or tests.
  const installed = await readdir(join(project, 'node_modules/sluice'));
  assert.deepEqual(installed.sort(), ['README.md', 'bin', 'dist', 'docs', 'package.json']);
  const readme = await readFile(join(project, 'README.md'), 'utf8');
  assert.match(readme, /npm install && npm start/);
  assert.match(readme, /npm test/);
});

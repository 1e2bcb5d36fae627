/**
 * `npm run test:stress`: the test suite of `npm test` while busy loops occupy every core, so tests that pass only on
 * an idle machine (a count of checkpoints reached in a given time, a sleep hoping something happened) fail here
 * rather than on a loaded CI machine.
 *
 * Runs the test part of package.json's `test` script (everything after its `tsc --noEmit &&`), read at run time so
 * both always run the same files the same way, and exits with its exit code. The busy loops are child processes, one
 * per core (`SLUICE_STRESS_BUSY=<n>` to change, at most 4 per core); each exits when this process ends, however it
 * ends (its IPC channel closes), and after `SLUICE_STRESS_MAX_MS` (default 2 h) in any case.
 *
 * Arguments are passed to node's test runner in place of the default file list:
 * `npm run test:stress -- test/runtime/runner/exactly-once.test.ts`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism, constants } from 'node:os';

/** Spins in 50 ms slices so the disconnect event (parent gone) and the deadline are seen between slices. */
const BUSY_LOOP = `
const deadline = Date.now() + Number(process.env.SLUICE_STRESS_MAX_MS);
process.on('disconnect', () => process.exit(0));
const spin = () => {
  const end = Date.now() + 50;
  while (Date.now() < end);
  if (Date.now() > deadline) process.exit(0);
  setImmediate(spin);
};
spin();
`;

const cores = availableParallelism();
const busyCount = boundedInt('SLUICE_STRESS_BUSY', process.env.SLUICE_STRESS_BUSY, cores, 0, 4 * cores);
const maxMs = boundedInt('SLUICE_STRESS_MAX_MS', process.env.SLUICE_STRESS_MAX_MS, 2 * 60 * 60 * 1000, 1_000, 24 * 60 * 60 * 1000);

const testScript = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { scripts: Record<string, string> }).scripts.test;
if (testScript === undefined) fail('package.json has no "test" script to run under load');
// The type check does not depend on timing; only the test run is repeated under load.
let command = testScript.replace(/^\s*tsc --noEmit\s*&&\s*/, '');
const files = process.argv.slice(2);
if (files.length > 0) {
  // Replaces the file list (a `$(find ...)` at the end of the script) with the files given.
  const list = /\$\(find [^)]*\)\s*$/;
  if (!list.test(command)) fail(`cannot tell the file list in the test script to replace it with the arguments: ${command}`);
  command = command.replace(list, files.map(quote).join(' '));
}

const busy: ChildProcess[] = [];
for (let i = 0; i < busyCount; i++) {
  busy.push(
    spawn(process.execPath, ['-e', BUSY_LOOP], {
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      env: { ...process.env, SLUICE_STRESS_MAX_MS: String(maxMs) },
    }),
  );
}
const stopBusy = (): void => {
  for (const child of busy) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
};
process.on('exit', stopBusy);

const started = Date.now();
process.stderr.write(`test:stress: ${busyCount} busy loop(s) on ${cores} core(s); running: ${command}\n`);
const tests = spawn(command, { shell: true, stdio: 'inherit' });
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    stopBusy();
    tests.kill(signal);
  });
}
tests.on('exit', (code, signal) => {
  stopBusy();
  process.stderr.write(`test:stress: tests ${code === 0 ? 'passed' : 'failed'} under load in ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
  process.exit(code ?? (signal === null ? 1 : 128 + constants.signals[signal]));
});

function boundedInt(name: string, value: string | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) fail(`${name} must be an integer from ${min} to ${max}; got ${JSON.stringify(value)}`);
  return n;
}

function quote(arg: string): string {
  return /^[\w./@:=+-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

function fail(message: string): never {
  process.stderr.write(`test:stress: ${message}\n`);
  process.exit(2);
}

/**
 * The service and the CLI as a user runs them: child processes from the repo root (`node --import tsx
 * runtime/cli/main.ts …`). The service is started on port 0 and its URL read from its first stdout line.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { readPartFiles } from '../../connectors/dev/index.ts';
import { waitFor } from '../support/wait-for.ts';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));

export interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface ServiceProcess {
  readonly url: string;
  readonly child: ChildProcess;
  /** Everything the service wrote to stderr so far (its log). */
  stderr(): string;
  /** Resolves with the exit code (null when killed by a signal). */
  readonly exited: Promise<number | null>;
}

/** `sluice start --port 0 …` in a child process; resolves once it listens. Killed (SIGKILL) when the test ends. */
export async function startService(t: TestContext, args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<ServiceProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'runtime/cli/main.ts', 'start', '--port', '0', ...args], {
    cwd: ROOT,
    env: { ...process.env, LOG_LEVEL: 'info', SLUICE_TOKEN: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.after(() => {
    child.kill('SIGKILL');
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let gone = false;
  void exited.then(() => (gone = true));
  const url = await waitFor(() => {
    if (gone) throw new Error(`the service exited: ${stderr}`);
    return /listening on (http:\/\/\S+)/.exec(stdout)?.[1];
  }, { timeoutMs: 60_000, intervalMs: 50, message: 'the service to listen', describe: () => ({ stdout, stderr: stderr.slice(-2000) }) });
  return { url, child, stderr: () => stderr, exited };
}

/** Runs one CLI command; `SLUICE_URL`/`SLUICE_TOKEN` come from `env` (none by default). */
export function sluice(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'runtime/cli/main.ts', ...args], {
      cwd: ROOT,
      env: { ...process.env, LOG_LEVEL: 'warn', SLUICE_URL: '', SLUICE_TOKEN: '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

export function show(o: Outcome): string {
  return `exit ${o.code}\n--- stdout\n${o.stdout}\n--- stderr\n${o.stderr}`;
}

/** Runs a CLI command that must succeed and returns its stdout. */
export async function ok(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  const o = await sluice(args, env);
  if (o.code !== 0) throw new Error(`sluice ${args.join(' ')} failed: ${show(o)}`);
  return o.stdout;
}

/** `GET /v1/jobs/<name>` straight over HTTP (cheaper than a CLI process for polling). */
export async function jobStatus(url: string, name: string, token?: string): Promise<Record<string, unknown> & { state: string }> {
  const response = await fetch(`${url}/v1/jobs/${name}`, token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } });
  const body = (await response.json()) as { job: Record<string, unknown> & { state: string } };
  return body.job;
}

export async function waitForState(url: string, name: string, state: string, timeoutMs = 60_000): Promise<void> {
  let last = '';
  await waitFor(async () => (last = (await jobStatus(url, name)).state) === state, { timeoutMs, intervalMs: 100, message: `job "${name}" to be ${state}`, describe: () => `last state ${last}` });
}

/** Number of committed part files in a fileSink directory. */
export async function committedParts(directory: string): Promise<number> {
  return (await readdir(directory).catch(() => [] as string[])).filter((n) => n.endsWith('.ndjson') && !n.startsWith('.')).length;
}

/**
 * A copy of a fixture job under another name, in `dir`: the same job registered twice needs two names. Relative
 * imports become absolute so the copy runs from anywhere.
 */
export async function fixtureAs(fixture: string, fromName: string, toName: string, dir: string): Promise<string> {
  const text = await readFile(join(FIXTURES, fixture), 'utf8');
  const file = join(dir, `${toName}.ts`);
  await writeFile(file, text.replaceAll(`'${fromName}'`, `'${toName}'`).replaceAll("'../../../", `'${ROOT}`));
  return file;
}

/**
 * Checks the ticker fixture's output: for every key, the committed counts read 1, 2, …, m with no gap and no repeat
 * (no record lost or counted twice across pauses, restores and restarts). Returns the number of records.
 */
export async function checkTickerCounts(directory: string): Promise<number> {
  const byKey = new Map<string, number[]>();
  const records = await readPartFiles<{ key: string; n: number }>(directory);
  for (const r of records) {
    let list = byKey.get(r.key);
    if (list === undefined) byKey.set(r.key, (list = []));
    list.push(r.n);
  }
  for (const [key, counts] of byKey) {
    const sorted = [...counts].sort((a, b) => a - b);
    sorted.forEach((n, i) => {
      if (n !== i + 1) throw new Error(`key ${key}: counts ${sorted.slice(Math.max(0, i - 3), i + 3).join(',')}… are not 1..${sorted.length} (at index ${i})`);
    });
  }
  return records.length;
}

/** A port nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A `sluice run` in a child process, as a user runs it in a terminal; killed when the test ends if still running. */
export interface ForegroundRun {
  readonly child: ChildProcess;
  /** Everything it logged so far (its log goes to stderr). */
  stderr(): string;
  /** Waits for `pattern` in its log and answers the first capture group (a URL it logs at start, say). */
  logged(pattern: RegExp, what: string): Promise<string>;
  /** Sends Ctrl-C and answers the exit code. */
  interrupt(): Promise<number | null>;
}

export function runInForeground(t: TestContext, args: readonly string[]): ForegroundRun {
  const child = spawn(process.execPath, ['--import', 'tsx', 'runtime/cli/main.ts', 'run', ...args], {
    cwd: ROOT,
    env: { ...process.env, LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  t.after(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdout?.resume();
  return {
    child,
    stderr: () => stderr,
    logged: (pattern, what) => waitFor(() => pattern.exec(stderr)?.[1], { timeoutMs: 30_000, message: what, describe: () => stderr }),
    interrupt: () => {
      child.kill('SIGINT');
      return exited;
    },
  };
}

import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The published entry point, as a user runs it (`npx sluice`). */
export const SLUICE_BIN = fileURLToPath(new URL('../../bin/sluice.js', import.meta.url));

/** What a finished `sluice` command printed and how it exited. */
export interface SluiceOutcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `sluice <args>` to its end. A run that outlives `timeoutMs` (default 200 s) is stuck: it is killed, so the
 * test fails instead of hanging the suite.
 */
export function runSluice(args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<SluiceOutcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SLUICE_BIN, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: options.timeoutMs ?? 200_000,
      killSignal: 'SIGKILL',
      ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
      ...(options.env === undefined ? {} : { env: options.env }),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

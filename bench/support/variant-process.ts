/**
 * Benches that measure each variant in a process of its own (a clean heap, its own peak RSS): the parent runs its own
 * script again with `--variant …`; the child measures and reports one JSON line, `RESULT {…}`, on stdout.
 *
 * @example
 * ```ts
 * if (process.argv[2] === '--variant') reportVariant(await measure(process.argv[3]));   // the child
 * const slow = await runVariant<Result>(import.meta.url, ['slow']);                      // the parent
 * ```
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** In the child: prints `result` for the parent and exits. */
export function reportVariant(result: unknown): never {
  process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
  process.exit(0);
}

/**
 * Runs `script` (an `import.meta.url`) with `--variant ...args` in a new Node process (with tsx) and resolves with what
 * it reported; rejects with the end of its output when it exits otherwise. `env` is added to this process's.
 */
export function runVariant<R>(script: string, args: readonly string[], env: Record<string, string> = {}): Promise<R> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(script), '--variant', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('RESULT '));
      if (code !== 0 || line === undefined) reject(new Error(`variant ${args.join(' ')} exited ${code}: ${out.slice(-500)}`));
      else resolve(JSON.parse(line.slice('RESULT '.length)) as R);
    });
  });
}

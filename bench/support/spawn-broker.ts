import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** A devstack broker running in its own process (see broker-process.ts), with a throw-away data directory. */
export interface BrokerProcess {
  readonly brokers: string[];
  readonly pid: number | undefined;
  stop(): Promise<void>;
}

/**
 * Starts `broker-process.ts` in a child process and waits for its address, so a benchmark's client and the broker
 * never share an event loop.
 *
 * @example
 * ```ts
 * const broker = await spawnBrokerProcess({ partitions: 4 });
 * try { await measure(broker.brokers); } finally { await broker.stop(); }
 * ```
 */
export async function spawnBrokerProcess(options: { partitions: number }): Promise<BrokerProcess> {
  const dataDir = await mkdtemp(join(tmpdir(), 'sluice-bench-broker-'));
  const script = fileURLToPath(new URL('./broker-process.ts', import.meta.url));
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', script, '--data-dir', dataDir, '--partitions', String(options.partitions)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    child.kill('SIGTERM');
    await exited;
    await rm(dataDir, { recursive: true, force: true });
  };
  try {
    const line = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout! }).once('line', resolve);
      child.once('exit', (code) => reject(new Error(`broker process exited with code ${code} before listening`)));
      setTimeout(() => reject(new Error('broker process did not print its address within 20 s')), 20_000).unref();
    });
    return { brokers: (JSON.parse(line) as { brokers: string[] }).brokers, pid: child.pid, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

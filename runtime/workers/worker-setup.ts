import type { WorkerSetup } from './worker-protocol.ts';

/**
 * Where a worker finds the setup of the attempt it runs. A worker boots before it has an attempt (worker-pool.ts),
 * so the setup comes with its load message (start-worker.ts), not in `workerData`; the boot script stores it here.
 */
export const SETUP_KEY = 'sluice.worker.setup';

/** Inside a worker: the setup of the attempt it runs. */
export function workerSetup(): WorkerSetup {
  const setup = (globalThis as Record<symbol, unknown>)[Symbol.for(SETUP_KEY)];
  if (setup === undefined) throw new Error('runtime/workers: no worker setup; this module runs only in a worker started by start-worker.ts');
  return setup as WorkerSetup;
}

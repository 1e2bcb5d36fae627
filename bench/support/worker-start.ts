import { sharedWorkerPool } from '../../runtime/workers/worker-pool.ts';

/**
 * How the next attempt on workers starts, for benches that report both:
 * - `cold`: no booted spare (the first attempt of a process, e.g. `sluice run`): each worker boots (~80 ms);
 * - `warm`: `workers` spares booted beforehand (a restart or a rescale after a failed or stopped attempt: worker-pool.ts).
 */
export async function prepareWorkers(start: 'cold' | 'warm', workers: number): Promise<void> {
  const pool = sharedWorkerPool();
  await pool.close();
  if (start === 'cold') return;
  pool.keepReady(workers, undefined);
  await pool.booted(undefined);
}

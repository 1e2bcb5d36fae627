/**
 * Entry of a worker thread started through tsx (start-worker.ts), when no worker bundle could be built: loads the
 * job module the way `sluice run` does, then runs the worker (worker-run.ts).
 */
import { fileURLToPath } from 'node:url';
import { loadJobFile } from '../cli/load-job.ts';
import type { JobDefinition } from '../api/index.ts';
import { jobOfModule, runWorker } from './worker-run.ts';
import { workerSetup } from './worker-setup.ts';

runWorker(await loadJob(workerSetup().jobModule));

/**
 * A file job loads the way `sluice run` loads it (job-module-hooks: from any folder, `sluice` imports resolving to
 * this Sluice), so a job that runs in-process also loads in a worker.
 */
async function loadJob(url: string): Promise<JobDefinition> {
  if (url.startsWith('file:')) return loadJobFile(fileURLToPath(url));
  return jobOfModule((await import(url)) as Record<string, unknown>, url);
}

import { Worker, type ResourceLimits, type TransferListItem } from 'node:worker_threads';

/**
 * Starts a worker on worker-main (.ts in a clone, .js in dist/). Node 20 ignores `--import tsx` for a worker's entry
 * module (ERR_UNKNOWN_FILE_EXTENSION), so the worker starts from a one-line script that registers tsx's hooks in the
 * worker and then imports the entry: the entry (.ts in a clone) and the job file (TypeScript, from any folder: the
 * job-module hooks load-job.ts registers run before tsx's, as in `sluice run`) both need them.
 */
export function startWorker(workerData: unknown, transferList: TransferListItem[], resourceLimits: ResourceLimits | undefined, name: string): Worker {
  const entry = new URL(`./worker-main${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url);
  const options = { workerData, transferList, name, ...(resourceLimits === undefined ? {} : { resourceLimits }) };
  const api = JSON.stringify(import.meta.resolve('tsx/esm/api'));
  const href = JSON.stringify(entry.href);
  const script = `import(${api}).then((tsx) => { tsx.register(); return import(${href}); })`;
  return new Worker(script, { ...options, eval: true });
}

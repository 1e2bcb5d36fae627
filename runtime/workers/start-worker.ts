import { pathToFileURL } from 'node:url';
import { Worker, type ResourceLimits, type TransferListItem } from 'node:worker_threads';

/**
 * Starts a worker thread, from a one-line script (`eval`) so that the worker runs none of the parent's `--import`
 * preloads (a test runner's `.ts` preload would fail there before tsx is active) and sets itself up first:
 * - with `bundle` (worker-bundle.ts), it turns source maps on — before the bundle is compiled, or its map would
 *   not be read — and imports the bundle, a plain ES module Node loads by itself;
 * - without, it registers tsx's hooks and imports worker-main (.ts in a clone, .js in dist/), which loads the job
 *   file as `sluice run` does. Node 20 ignores `--import tsx` for a worker's entry module
 *   (ERR_UNKNOWN_FILE_EXTENSION), hence the registration in the worker.
 */
export function startWorker(bundle: string | undefined, workerData: unknown, transferList: TransferListItem[], resourceLimits: ResourceLimits | undefined, name: string): Worker {
  const options = { workerData, transferList, name, eval: true, ...(resourceLimits === undefined ? {} : { resourceLimits }) };
  if (bundle !== undefined) return new Worker(`process.setSourceMapsEnabled(true); import(${JSON.stringify(pathToFileURL(bundle).href)});`, options);
  const entry = new URL(`./worker-main${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url);
  const api = JSON.stringify(import.meta.resolve('tsx/esm/api'));
  const href = JSON.stringify(entry.href);
  return new Worker(`import(${api}).then((tsx) => { tsx.register(); return import(${href}); })`, options);
}

import { pathToFileURL } from 'node:url';
import { MessageChannel, Worker, type MessagePort, type ResourceLimits, type TransferListItem } from 'node:worker_threads';
import { ACCELERATED_URL } from '../serde/msgpackr.ts';
import { SETUP_KEY } from './worker-setup.ts';

/**
 * Packages every worker imports, loaded while a worker boots so an attempt does not wait for them (measured on a
 * 2-vCPU machine: a bare worker boots in ~40 ms, msgpackr adds ~20 ms and pino ~20 ms; the job's own bundle ~10 ms).
 * The same URLs as the bundle's imports (worker-bundle.ts keeps packages external by absolute URL), so the bundle
 * finds them in the module cache; msgpackr's CommonJS build (the exchange's instance, required on first use) lands in
 * the CommonJS cache that `require` reads.
 */
const PRELOADS = [import.meta.resolve('msgpackr/pack'), ACCELERATED_URL, import.meta.resolve('pino')];

/** A worker thread that booted (or is booting) and waits for the attempt it will run: see {@link loadWorker}. */
export interface BootedWorker {
  readonly thread: Worker;
  /** Takes the one load message; closed by the worker once it has it. */
  readonly control: MessagePort;
  /** Settles once the worker has booted (never, if it is loaded or dies first). */
  readonly booted: Promise<void>;
  /**
   * What happened to the thread before an attempt listened to it: a worker can die while it boots (its resource
   * limits) or while its attempt bundles the job. Recorded here, so nothing is lost and an `error` never goes
   * unhandled; the attempt checks it once it listens.
   */
  readonly early: { error: Error | undefined; exitCode: number | undefined };
}

/**
 * Starts a worker thread that boots and waits: from a small script (`eval`), so the worker runs none of the
 * parent's `--import` preloads (a test runner's `.ts` preload would fail there before tsx is active). It turns source
 * maps on — before any bundle is compiled, or its map would not be read — imports {@link PRELOADS}, and waits on its
 * control port for {@link loadWorker}'s message (saying `booted` on it once the preloads are in). Then it runs the
 * attempt:
 * - with a bundle (worker-bundle.ts), by importing it: a plain ES module Node loads by itself;
 * - without, by registering tsx's hooks and importing worker-main (.ts in a clone, .js in dist/), which loads the job
 *   file as `sluice run` does. Node 20 ignores `--import tsx` for a worker's entry module (ERR_UNKNOWN_FILE_EXTENSION),
 *   hence the registration in the worker.
 * A preload that fails is not the worker's error: the bundle's own import of it reports it.
 */
export function bootWorker(resourceLimits: ResourceLimits | undefined): BootedWorker {
  const { port1, port2 } = new MessageChannel();
  // Runs as CommonJS or as an ES module (a parent started with --input-type=module passes that on): import() only.
  const script = `
    process.setSourceMapsEnabled(true);
    const preloaded = Promise.all(${JSON.stringify(PRELOADS)}.map((url) => import(url))).catch(() => undefined);
    import('node:worker_threads').then(({ workerData }) => {
      preloaded.then(() => workerData.control.postMessage('booted'));
      workerData.control.once('message', async (load) => {
        workerData.control.close();
        globalThis[Symbol.for(${JSON.stringify(SETUP_KEY)})] = load.setup;
        await preloaded;
        if (load.bundle !== undefined) return import(load.bundle);
        (await import(load.tsx)).register();
        return import(load.entry);
      });
    });`;
  const options = { workerData: { control: port2 }, transferList: [port2], name: 'sluice worker', eval: true, ...(resourceLimits === undefined ? {} : { resourceLimits }) };
  const booted = new Promise<void>((resolve) => port1.once('message', () => resolve()));
  port1.unref(); // listening for 'booted' must not keep this process alive
  const thread = new Worker(script, options);
  const early: BootedWorker['early'] = { error: undefined, exitCode: undefined };
  thread.on('error', (err: Error) => (early.error ??= err));
  thread.once('exit', (code: number) => (early.exitCode = code));
  return { thread, control: port1, booted, early };
}

/** Gives a booted worker its attempt: the worker bundle to import (or `undefined`: through tsx) and its setup. */
export function loadWorker(worker: BootedWorker, bundle: string | undefined, setup: unknown, transferList: TransferListItem[]): void {
  const entry = new URL(`./worker-main${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url).href;
  const load = bundle === undefined ? { setup, tsx: import.meta.resolve('tsx/esm/api'), entry } : { setup, bundle: pathToFileURL(bundle).href };
  worker.control.postMessage(load, transferList);
  worker.control.close();
}

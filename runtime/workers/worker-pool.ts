import type { ResourceLimits } from 'node:worker_threads';
import { bootWorker, type BootedWorker } from './start-worker.ts';

/** How long a booted worker nobody took stays: long enough for a restart or the next submission, then its memory goes. */
const SPARE_IDLE_MS = 30_000;

interface Spare {
  readonly worker: BootedWorker;
  readonly expiry: NodeJS.Timeout;
  exited: boolean;
}

/**
 * Worker threads booted ahead of the attempt that will run on them, the way Flink keeps task managers up between
 * restarts. Booting a worker (a fresh isolate, msgpackr and pino) costs ~80 ms of a ~100 ms attempt start; a restart
 * from a checkpoint takes booted workers instead and waits only for its own bundle (~10–20 ms).
 *
 * Each attempt still runs on threads of its own: a worker runs one attempt and is terminated with it, so no module
 * state of a job outlives its attempt. What is kept are spares, booted by {@link keepReady} (per `resourceLimits`,
 * since they are fixed when a thread starts): `WorkerAttempt` asks for as many as it ran on once it failed, for the
 * restart. Not while an attempt runs: a booted spare holds ~14 MiB for a restart that may never come. Spares are
 * unref'd (they never keep a process alive) and go after {@link SPARE_IDLE_MS} unused.
 *
 * @example
 * ```ts
 * const worker = sharedWorkerPool().take(undefined); // booted or booting
 * loadWorker(worker, bundle, setup, transferList);
 * sharedWorkerPool().keepReady(1, undefined);         // once an attempt failed: booted for its restart
 * ```
 */
export class WorkerPool {
  readonly #spares = new Map<string, Spare[]>();

  /** A booted worker for an attempt (a spare, or one booting now), ref'd: it keeps the process alive from here. */
  take(resourceLimits: ResourceLimits | undefined): BootedWorker {
    const spares = this.#spares.get(keyOf(resourceLimits)) ?? [];
    for (let spare = spares.shift(); spare !== undefined; spare = spares.shift()) {
      clearTimeout(spare.expiry);
      if (spare.exited) continue;
      spare.worker.thread.ref();
      return spare.worker;
    }
    return bootWorker(resourceLimits);
  }

  /** Boots spares until `count` are ready for `resourceLimits`. */
  keepReady(count: number, resourceLimits: ResourceLimits | undefined): void {
    const key = keyOf(resourceLimits);
    const spares = this.#spares.get(key) ?? [];
    this.#spares.set(key, spares);
    while (spares.length < count) {
      const worker = bootWorker(resourceLimits);
      worker.thread.unref();
      const spare: Spare = {
        worker,
        exited: false,
        expiry: setTimeout(() => this.#drop(key, spare), SPARE_IDLE_MS).unref(),
      };
      // A spare that fails to boot is dropped; an attempt never sees it.
      worker.thread.once('error', () => this.#drop(key, spare));
      worker.thread.once('exit', () => this.#drop(key, spare));
      spares.push(spare);
    }
  }

  /** Resolves once every spare for `resourceLimits` has booted (benches measure a start on booted workers with it). */
  async booted(resourceLimits: ResourceLimits | undefined): Promise<void> {
    const spares = [...(this.#spares.get(keyOf(resourceLimits)) ?? [])];
    for (const spare of spares) spare.worker.control.ref(); // the wait keeps the process alive; the spares do not
    try {
      await Promise.all(spares.map((spare) => spare.worker.booted));
    } finally {
      for (const spare of spares) spare.worker.control.unref();
    }
  }

  /** Number of spares ready or booting for `resourceLimits`. */
  spares(resourceLimits: ResourceLimits | undefined): number {
    return this.#spares.get(keyOf(resourceLimits))?.length ?? 0;
  }

  /** Terminates every spare (tests, and a service that shuts down). */
  async close(): Promise<void> {
    const all = [...this.#spares.values()].flat();
    this.#spares.clear();
    await Promise.all(all.map((spare) => this.#end(spare)));
  }

  #drop(key: string, spare: Spare): void {
    spare.exited = true;
    const spares = this.#spares.get(key);
    const at = spares?.indexOf(spare) ?? -1;
    if (at < 0) return; // taken already: its attempt listens to it now
    spares?.splice(at, 1);
    void this.#end(spare);
  }

  async #end(spare: Spare): Promise<void> {
    clearTimeout(spare.expiry);
    spare.worker.control.close();
    await spare.worker.thread.terminate();
  }
}

function keyOf(resourceLimits: ResourceLimits | undefined): string {
  if (resourceLimits === undefined) return '';
  const { maxOldGenerationSizeMb, maxYoungGenerationSizeMb, codeRangeSizeMb, stackSizeMb } = resourceLimits;
  return JSON.stringify([maxOldGenerationSizeMb, maxYoungGenerationSizeMb, codeRangeSizeMb, stackSizeMb]);
}

let shared: WorkerPool | undefined;

/** The process's pool: every attempt on workers takes its threads from it. */
export function sharedWorkerPool(): WorkerPool {
  shared ??= new WorkerPool();
  return shared;
}

/** The glibc tunable that keeps large buffers out of the main malloc heap (see {@link mallocAdvice}). */
export const MMAP_THRESHOLD_ENV = 'MALLOC_MMAP_THRESHOLD_';
/** The value docs/state-backends.md recommends: glibc's own initial threshold, 128 KiB, fixed. */
export const RECOMMENDED_MMAP_THRESHOLD = '131072';

/**
 * What to tell the user of the LevelDB state backend about glibc's allocator, or `undefined` when there is nothing
 * to say (not glibc, or the threshold is set already).
 *
 * Why: glibc raises its mmap threshold each time a large mapped block is freed (up to 32 MiB). After the first large
 * blob or LevelDB batch is freed, buffers of a few hundred KiB come from the main heap and fragment it: a 10M-key
 * LevelDB job peaked at ~120 MiB more anonymous memory without the variable (docs/state-backends.md). glibc reads it
 * at process start only, so Sluice cannot set it for itself; the process that starts Sluice has to.
 *
 * @param env the environment the process started with
 * @param glibcVersion glibc's version at run time, `undefined` off glibc (musl, macOS, Windows)
 *
 * @example
 * ```ts
 * const advice = mallocAdvice(process.env, glibcRuntimeVersion());
 * if (advice !== undefined) logger.info(advice);
 * ```
 */
export function mallocAdvice(env: NodeJS.ProcessEnv, glibcVersion: string | undefined): string | undefined {
  if (glibcVersion === undefined || env[MMAP_THRESHOLD_ENV] !== undefined) return undefined;
  return (
    `the LevelDB state backend holds ~100 MiB more memory under glibc ${glibcVersion} unless the process starts with ` +
    `${MMAP_THRESHOLD_ENV}=${RECOMMENDED_MMAP_THRESHOLD} in its environment (e.g. \`${MMAP_THRESHOLD_ENV}=${RECOMMENDED_MMAP_THRESHOLD} sluice run job.ts\`); ` +
    'see docs/state-backends.md'
  );
}

/** The C library's version when it is glibc (Linux), from Node's diagnostic report header; otherwise `undefined`. */
export function glibcRuntimeVersion(): string | undefined {
  if (process.platform !== 'linux') return undefined;
  try {
    const header = (process.report.getReport() as { header?: { glibcVersionRuntime?: string } }).header;
    return header?.glibcVersionRuntime;
  } catch {
    return undefined; // advice is not worth failing a job's start over
  }
}

let advisedOnMalloc = false;

/**
 * What a job on the LevelDB state backend is told as it starts: {@link mallocAdvice} at info level, once per process
 * (a service that starts many such jobs says it once).
 * @internal
 */
export function adviseOnLevelDbJob(logger: { info(message: string): void }): void {
  if (advisedOnMalloc) return;
  advisedOnMalloc = true;
  const advice = mallocAdvice(process.env, glibcRuntimeVersion());
  if (advice !== undefined) logger.info(advice);
}

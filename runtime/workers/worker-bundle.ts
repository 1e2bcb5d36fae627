/**
 * One file a worker thread can start from: the job module and the worker's body (worker-run.ts), with all the
 * TypeScript they import, bundled by esbuild on the main thread. A worker that starts through tsx instead resolves
 * and compiles ~200 modules through module hooks, each thread on its own: ~1 s per worker on this machine kind, paid
 * again at every restart and rescale. From a bundle it loads one file in ~0.1 s (bench/workers-cpu.ts measures an
 * attempt's start).
 *
 * What the bundle keeps as it was:
 * - **Packages are not bundled.** Anything under node_modules (kafkajs, msgpackr, level, … and Sluice itself when it
 *   is installed as a package) stays an import, by absolute file URL, so the worker loads the same module files a
 *   job loaded in-process would. Only the job's own TypeScript (and Sluice's, in a clone) goes into the bundle.
 * - **`sluice` resolves from anywhere**, as job-module-hooks.ts makes it resolve for `sluice run`: a bare `sluice*`
 *   import that nothing installed answers is this Sluice.
 * - **`import.meta.url`** (and `dirname`, `filename`) in a bundled file is that file's, not the bundle's:
 *   `createRequire(import.meta.url)` and `new URL('./x', import.meta.url)` keep working.
 * - **Stack traces** name the job's own files and lines (inline source map; start-worker.ts turns source maps on).
 *
 * A bundle is cached per job module for the life of the process and rebuilt when any file in it changed (by mtime),
 * so a restart or rescale reuses it. Bundles are written to a private folder of this process in the OS temp folder,
 * removed when the process exits (bundle-directory.ts). When a module cannot be bundled (a loader esbuild does not know, a job module that
 * is not a file) {@link workerBundle} answers `undefined` and the worker starts through tsx as before: slower, never
 * wrong.
 */
import { createHash } from 'node:crypto';
import { readFile, rename, stat, writeFile } from 'node:fs/promises';
import { isBuiltin } from 'node:module';
import { dirname, extname, join, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build, type Loader, type Plugin } from 'esbuild';
import { OWN_ENTRIES } from '../cli/job-module-hooks.ts';
import type { Logger } from '../logging/index.ts';
import { ownBundleDirectory } from './bundle-directory.ts';

const OWN_ROOT = new URL('../../', import.meta.url);
const OWN_EXTENSION = extname(fileURLToPath(import.meta.url));
const WORKER_RUN = fileURLToPath(new URL(`./worker-run${OWN_EXTENSION}`, import.meta.url));
const NODE_MODULES = `${sep}node_modules${sep}`;
const LOADERS: Readonly<Record<string, Loader>> = { '.ts': 'ts', '.mts': 'ts', '.cts': 'ts', '.tsx': 'tsx', '.js': 'js', '.mjs': 'js', '.cjs': 'js', '.jsx': 'jsx' };
/** The bundle's virtual entry module (it has no file). */
const ENTRY_NAME = '<sluice worker entry>';
/** Marks esbuild resolutions the plugin asks for itself, so it does not answer its own question. */
const OWN_QUESTION = Symbol('sluice.workerBundle.resolve');

interface CachedBundle {
  readonly file: string;
  /** Every bundled source file and its mtime when bundled. */
  readonly inputs: ReadonlyArray<readonly [string, number]>;
}

const cache = new Map<string, Promise<CachedBundle | undefined>>();
/**
 * The path of a bundle that runs the worker body for the job default-exported by `jobModule` (a `file:` URL), built
 * or reused; `undefined` when the job cannot be bundled or `SLUICE_WORKER_BUNDLE=0` (workers then start through tsx).
 *
 * @example
 * ```ts
 * const entry = await workerBundle(pathToFileURL('jobs/count.ts').href, logger);
 * const worker = entry === undefined ? startThroughTsx() : new Worker(entry, { workerData });
 * ```
 */
export async function workerBundle(jobModule: string, logger: Logger): Promise<string | undefined> {
  // SLUICE_WORKER_BUNDLE=0: the escape hatch docs/workers.md names, should a job ever load wrongly from a bundle.
  if (process.env['SLUICE_WORKER_BUNDLE'] === '0' || !jobModule.startsWith('file:')) return undefined;
  const cached = await cache.get(jobModule);
  if (cached !== undefined && (await unchanged(cached))) return cached.file;
  const next = bundle(jobModule, logger);
  cache.set(jobModule, next);
  return (await next)?.file;
}

/** Whether a cached bundle still stands for its sources, and is still there (a temp cleaner may remove it). */
async function unchanged(bundle: CachedBundle): Promise<boolean> {
  try {
    await stat(bundle.file);
    const times = await Promise.all(bundle.inputs.map(async ([path]) => (await stat(path)).mtimeMs));
    return times.every((time, i) => time === bundle.inputs[i]?.[1]);
  } catch {
    return false;
  }
}

async function bundle(jobModule: string, logger: Logger): Promise<CachedBundle | undefined> {
  const jobPath = fileURLToPath(jobModule);
  const started = performance.now();
  try {
    const directory = await ownBundleDirectory();
    const result = await build({
      stdin: {
        contents: [
          `import * as job from ${JSON.stringify(jobPath)};`,
          `import { jobOfModule, runWorker } from ${JSON.stringify(WORKER_RUN)};`,
          `runWorker(jobOfModule(job, ${JSON.stringify(jobModule)}));`,
        ].join('\n'),
        resolveDir: dirname(jobPath),
        sourcefile: ENTRY_NAME,
        loader: 'js',
      },
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: `node${process.versions.node}`,
      keepNames: true,
      sourcemap: 'inline',
      sourcesContent: false,
      // Not written by esbuild; fixes where the source map's relative paths start (the bundle lands in this folder).
      outfile: join(directory, 'bundle.mjs'),
      write: false,
      metafile: true,
      logLevel: 'silent',
      absWorkingDir: process.cwd(),
      plugins: [workerBundlePlugin()],
    });
    const output = result.outputFiles[0];
    if (output === undefined) return undefined;
    const file = join(directory, `${createHash('sha256').update(output.contents).digest('hex').slice(0, 20)}.mjs`);
    // Written under another name, then renamed: a worker of an earlier attempt never reads half a file.
    const partial = `${file}.${Math.random().toString(36).slice(2)}`;
    await writeFile(partial, output.contents);
    await rename(partial, file);
    // Inputs are named relative to the working folder; the entry itself is virtual.
    const paths = Object.keys(result.metafile.inputs).filter((p) => !p.endsWith(ENTRY_NAME)).map((p) => resolve(p));
    const inputs = await Promise.all(paths.map(async (p): Promise<readonly [string, number]> => [p, (await stat(p)).mtimeMs]));
    logger.debug({ jobModule, file, inputs: inputs.length, ms: Math.round(performance.now() - started) }, 'worker bundle built');
    return { file, inputs };
  } catch (err) {
    // Worth a line at info: the job runs as it should, but each attempt's workers start ~1 s slower.
    logger.info({ jobModule, err: (err as Error)?.message ?? String(err) }, 'could not bundle the job for its worker threads; they start through tsx instead (slower to start, same results)');
    return undefined;
  }
}

/** Resolves the way the worker would load modules itself (see the file comment); rewrites `import.meta`. */
function workerBundlePlugin(): Plugin {
  return {
    name: 'sluice-worker-bundle',
    setup(esbuild) {
      esbuild.onResolve({ filter: /.*/ }, async (args) => {
        if (args.pluginData === OWN_QUESTION || args.kind === 'entry-point') return undefined;
        if (isBuiltin(args.path)) return { path: args.path, external: true };
        // Node takes file: URLs as specifiers; esbuild wants paths.
        const specifier = args.path.startsWith('file:') ? fileURLToPath(args.path) : args.path;
        const found = await esbuild.resolve(specifier, { kind: args.kind, importer: args.importer, resolveDir: args.resolveDir, pluginData: OWN_QUESTION });
        if (found.errors.length > 0) {
          const own = OWN_ENTRIES[args.path];
          if (own === undefined) return { errors: found.errors };
          const path = fileURLToPath(new URL(`${own}${OWN_EXTENSION}`, OWN_ROOT));
          return external(path) ?? { path };
        }
        if (found.external) return { path: found.path, external: true };
        return external(found.path) ?? { path: found.path, sideEffects: found.sideEffects };
      });
      esbuild.onLoad({ filter: /\.[cm]?[jt]sx?$/ }, async (args) => {
        const loader = LOADERS[extname(args.path)];
        if (loader === undefined) return undefined;
        const url = pathToFileURL(args.path).href;
        const contents = (await readFile(args.path, 'utf8'))
          .replace(/\bimport\.meta\.url\b/g, JSON.stringify(url))
          .replace(/\bimport\.meta\.dirname\b/g, JSON.stringify(dirname(args.path)))
          .replace(/\bimport\.meta\.filename\b/g, JSON.stringify(args.path));
        return { contents, loader };
      });
    },
  };
}

/** A package file stays an import by absolute URL; a file of the job's or of Sluice's own source is bundled. */
function external(path: string): { path: string; external: true } | undefined {
  return path.includes(NODE_MODULES) ? { path: pathToFileURL(path).href, external: true } : undefined;
}

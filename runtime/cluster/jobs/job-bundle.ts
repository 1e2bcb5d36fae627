import { createHash } from 'node:crypto';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';
import { CLUSTER_BUNDLES_FOLDER, OWN_ENTRIES } from '../../cli/job-module-hooks.ts';
import { SluiceError } from '../../errors/index.ts';

/** Kafka's default `max.message.bytes` is 1 MiB; a spec record holds the bundle and a little JSON. */
const MAX_BUNDLE_BYTES = 900 * 1024;

/** Sluice's own entry modules (this file's tree: the repo or dist/), without extension, → their package names. */
const OWN_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const OWN_MODULES = new Map(Object.entries(OWN_ENTRIES).map(([name, path]) => [join(OWN_ROOT, path), name]));

/**
 * A job that imports Sluice by path (a job inside a clone of Sluice, our own tests) gets the package name
 * instead, so the bundle holds the job, not a second copy of the runtime.
 */
const ownEntriesByName: Plugin = {
  name: 'sluice-own-entries',
  setup(b) {
    b.onResolve({ filter: /^(\.{1,2}\/|\/)/ }, (args) => {
      const path = resolve(args.resolveDir, args.path);
      const name = OWN_MODULES.get(path.slice(0, path.length - extname(path).length));
      return name === undefined ? undefined : { path: name, external: true };
    });
  },
};

/** A job file with its relative imports as one ES module, as the jobs topic carries it to every member. */
export interface JobBundle {
  /** The module's source text. */
  readonly code: string;
  /** sha256 of `code` (hex, 16 digits): names the file a member writes, and tells a changed job from the same one. */
  readonly hash: string;
}

/**
 * Bundles a job file for the cluster: the file and everything it imports by relative path become one ES module;
 * packages (`sluice`, `kafkajs`, …) stay imports and are resolved on each member — `sluice` to the Sluice running
 * the member, others from the member's working directory, where they must be installed. Syntax and missing-import
 * errors fail here, at submit, with esbuild's `file:line:col` message.
 *
 * @example
 * ```ts
 * const bundle = await bundleJobFile('jobs/orders.ts');
 * ```
 */
export async function bundleJobFile(file: string): Promise<JobBundle> {
  const entry = resolve(file);
  let code: string;
  try {
    const result = await build({
      entryPoints: [entry],
      bundle: true,
      write: false,
      format: 'esm',
      platform: 'node',
      target: 'node20',
      packages: 'external',
      sourcemap: 'inline',
      logLevel: 'silent',
      plugins: [ownEntriesByName],
    });
    code = result.outputFiles[0]!.text;
  } catch (err) {
    const errors = (err as { errors?: Array<{ text: string; location?: { file: string; line: number; column: number } | null }> }).errors ?? [];
    const first = errors[0];
    const where = first?.location ? `${first.location.file}:${first.location.line}:${first.location.column}: ` : '';
    throw new SluiceError('SLUICE_JOB_BUNDLE_FAILED', `cannot bundle job file ${entry} for the cluster: ${where}${first?.text ?? (err as Error).message}; fix the job file and submit again`, { cause: err });
  }
  if (Buffer.byteLength(code) > MAX_BUNDLE_BYTES) {
    throw new SluiceError('SLUICE_JOB_BUNDLE_FAILED', `job file ${entry} bundles to ${Math.round(Buffer.byteLength(code) / 1024)} KiB, more than the ${MAX_BUNDLE_BYTES / 1024} KiB a cluster's jobs topic carries: import libraries as packages (they stay imports and are installed on each member) rather than by relative path`);
  }
  return { code, hash: hashOf(code) };
}

export function hashOf(code: string): string {
  return createHash('sha256').update(code).digest('hex').slice(0, 16);
}

/**
 * Writes a received bundle to `<dataDir>/cluster-bundles/<job>-<hash>.mjs` (once; the name changes with the content)
 * and answers its path, which the member imports like any job file.
 */
export async function writeJobBundle(dataDir: string, job: string, bundle: JobBundle): Promise<string> {
  const folder = join(dataDir, CLUSTER_BUNDLES_FOLDER);
  await mkdir(folder, { recursive: true });
  const path = join(folder, `${encodeURIComponent(job)}-${bundle.hash}.mjs`);
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, bundle.code);
  await rename(tmp, path);
  return path;
}

import { createHash } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, extname, join, resolve } from 'node:path';
import type { JobDefinition } from '../api/index.ts';
import { loadJobFile } from '../cli/load-job.ts';
import { SluiceError, isSluiceError } from '../errors/index.ts';

/**
 * Loads job files into the service process, also after they were edited.
 *
 * Node caches an imported module for the life of the process, and tsx maps `file.ts?v=2` to the same module as
 * `file.ts`, so importing an edited job file again would silently return the old job. The loader remembers the
 * content hash it imported per path; when the content changed, it imports a hidden copy named after the new hash
 * in the same directory (so the job's relative imports resolve the same) and deletes the copy right away. Modules the
 * job file imports are not reloaded: edit those and the service must be restarted (docs/cli.md).
 *
 * @example
 * ```ts
 * const loader = new JobFileLoader();
 * const job = await loader.load('/srv/jobs/orders.ts');
 * ```
 */
export class JobFileLoader {
  /** path → content hash of the version a plain import of `path` returns. */
  readonly #imported = new Map<string, string>();

  async load(file: string): Promise<JobDefinition> {
    const path = resolve(file);
    let source: string;
    try {
      source = await readFile(path, 'utf8');
    } catch {
      throw new SluiceError('SLUICE_JOB_FILE_NOT_FOUND', `job file ${path} does not exist on the service's filesystem: job files are read by the service, so give a path on the machine it runs on`);
    }
    const hash = createHash('sha256').update(source).digest('hex').slice(0, 16);
    const first = this.#imported.get(path);
    if (first === undefined || first === hash) {
      this.#imported.set(path, hash);
      return importCleanly(path, path);
    }
    const extension = extname(path);
    const copy = join(dirname(path), `.${basename(path, extension)}.${hash}.sluice${extension}`);
    try {
      await writeFile(copy, source);
    } catch (err) {
      throw new SluiceError('SLUICE_JOB_FILE_IMPORT_FAILED', `job file ${path} changed since the service first loaded it, and the service cannot write a fresh copy next to it (${(err as Error).message}): save the edited job under a new file name, or restart the service`, { cause: err });
    }
    try {
      return await importCleanly(copy, path);
    } finally {
      await rm(copy, { force: true });
    }
  }
}

/** Imports `importPath`, reporting problems (syntax errors' `file:line:col` too) against `shownPath`. */
async function importCleanly(importPath: string, shownPath: string): Promise<JobDefinition> {
  try {
    return await loadJobFile(importPath);
  } catch (err) {
    if (!isSluiceError(err)) throw err;
    throw new SluiceError(err.code, err.message.split(importPath).join(shownPath), { cause: err.cause });
  }
}

import { access } from 'node:fs/promises';
import { register } from 'node:module';
import { extname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { isJobDefinition, type JobDefinition } from '../api/index.ts';
import { SluiceError } from '../errors/index.ts';
import { syntaxErrors } from './job-syntax-errors.ts';

let hooksRegistered = false;

/** Registers job-module-hooks.ts (dist: .js) once per process, before the first job file is imported. */
function registerJobModuleHooks(): void {
  if (hooksRegistered) return;
  hooksRegistered = true;
  register(`./job-module-hooks${extname(fileURLToPath(import.meta.url))}`, import.meta.url);
}

/**
 * Imports a job module (`.ts`, `.mts`, `.js`, from any folder: see job-module-hooks.ts) and returns its
 * default-exported job. Every way this can go wrong gets its own code and a message naming the file and what to do;
 * a syntax error is `SLUICE_JOB_FILE_SYNTAX_ERROR` with `file:line:column` of each error.
 *
 * @example
 * ```ts
 * const job = await loadJobFile('jobs/wordcount.ts');
 * ```
 */
export async function loadJobFile(file: string): Promise<JobDefinition> {
  const path = resolve(file);
  try {
    await access(path);
  } catch {
    throw new SluiceError('SLUICE_JOB_FILE_NOT_FOUND', `job file ${file} does not exist: check the path (relative to ${process.cwd()})`);
  }
  registerJobModuleHooks();
  let module: Record<string, unknown>;
  try {
    module = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  } catch (err) {
    const syntax = await syntaxErrors(err, path);
    if (syntax.length > 0) {
      const count = syntax.length === 1 ? 'a syntax error' : `${syntax.length} syntax errors`;
      throw new SluiceError('SLUICE_JOB_FILE_SYNTAX_ERROR', `job file ${file} has ${count}: ${syntax.join('; ')}`, { cause: err });
    }
    const reason = err instanceof Error ? err.message : String(err);
    throw new SluiceError('SLUICE_JOB_FILE_IMPORT_FAILED', `job file ${file} could not be loaded: ${reason}`, { cause: err });
  }
  const job = module['default'];
  if (job === undefined) {
    throw new SluiceError('SLUICE_JOB_FILE_NO_JOB', `job file ${file} has no default export: end it with \`export default defineJob({ name: ... }, (env) => { ... })\``);
  }
  if (!isJobDefinition(job)) {
    throw new SluiceError('SLUICE_JOB_FILE_NO_JOB', `the default export of job file ${file} is not a job: build it with defineJob(...) from sluice`);
  }
  return job;
}

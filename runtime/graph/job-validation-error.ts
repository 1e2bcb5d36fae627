import { SluiceError } from '../errors/index.ts';

/** A job that cannot run, with every problem found (not just the first). */
export class JobValidationError extends SluiceError {
  readonly problems: readonly string[];

  constructor(job: string, problems: readonly string[]) {
    super(
      'SLUICE_INVALID_JOB',
      `job "${job}" is invalid (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n` +
        problems.map((p) => `  - ${p}`).join('\n'),
    );
    this.name = 'JobValidationError';
    this.problems = problems;
  }
}

import { SluiceError } from '../errors/index.ts';

/** A command line the CLI cannot act on: printed with the command's usage, exit code 2. */
export class UsageError extends SluiceError {
  readonly usage: string;

  constructor(message: string, usage: string) {
    super('SLUICE_USAGE', message);
    this.name = 'UsageError';
    this.usage = usage;
  }
}

/** Exit codes of every CLI verb. */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

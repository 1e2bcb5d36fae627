import { SluiceError } from '../errors/index.ts';

/**
 * Parameters a job reads while building its graph: `sluice run job.ts --set topic=orders --set rate=1000`.
 *
 * @example
 * ```ts
 * defineJob({ name: 'orders' }, (env, params) => {
 *   const topic = params.string('topic', 'orders');
 *   const rate = params.number('rate', 1000);
 * });
 * ```
 */
export class JobParams {
  readonly #values: ReadonlyMap<string, string>;

  constructor(values: Iterable<[string, string]> = []) {
    this.#values = new Map(values);
  }

  /** Parses `key=value` strings as given on the command line. */
  static parse(pairs: readonly string[]): JobParams {
    const entries: [string, string][] = [];
    for (const pair of pairs) {
      const eq = pair.indexOf('=');
      if (eq <= 0) {
        throw new SluiceError('SLUICE_USAGE', `--set expects key=value, got "${pair}"`);
      }
      entries.push([pair.slice(0, eq), pair.slice(eq + 1)]);
    }
    return new JobParams(entries);
  }

  /** Whether the parameter was given (`--set key=value`). */
  has(key: string): boolean {
    return this.#values.has(key);
  }

  /** The parameter's value, or `fallback`; throws `SLUICE_JOB_PARAM_MISSING` when neither exists. */
  string(key: string, fallback?: string): string {
    const value = this.#values.get(key) ?? fallback;
    if (value === undefined) {
      throw new SluiceError('SLUICE_JOB_PARAM_MISSING', `job parameter "${key}" is required: pass --set ${key}=<value>`);
    }
    return value;
  }

  /**
   * The parameter as a finite number, or `fallback`; throws `SLUICE_JOB_PARAM_MISSING` or `SLUICE_JOB_PARAM_INVALID`.
   */
  number(key: string, fallback?: number): number {
    const raw = this.#values.get(key);
    if (raw === undefined) {
      if (fallback === undefined) {
        throw new SluiceError('SLUICE_JOB_PARAM_MISSING', `job parameter "${key}" is required: pass --set ${key}=<number>`);
      }
      return fallback;
    }
    const value = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(value)) {
      throw new SluiceError('SLUICE_JOB_PARAM_INVALID', `job parameter "${key}" must be a number, got "${raw}"`);
    }
    return value;
  }

  /** Every parameter given, as `[key, value]`. */
  entries(): IterableIterator<[string, string]> {
    return this.#values.entries();
  }
}

import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from './usage-error.ts';

type Options = NonNullable<ParseArgsConfig['options']>;
/** Named so the build can emit a declaration for parseCommandLine (node:util does not export its types by name). */
type ParsedCommandLine<O extends Options> = ReturnType<typeof parseArgs<{ args: string[]; options: O; allowPositionals: true; strict: true }>>;

/**
 * Check-only mode, for tests that hold documented command lines against the real parser: with `enabled`, a verb's
 * arguments are parsed exactly as always and then, instead of running the verb, {@link ArgumentsParsed} is thrown
 * (main() answers it with exit 0). Never set outside tests.
 */
export const commandLineCheck = { enabled: false };

/** Thrown in check-only mode once a verb's arguments parsed (see {@link commandLineCheck}). */
export class ArgumentsParsed extends Error {
  constructor() {
    super('arguments parsed (check-only mode)');
  }
}

/** Parses a verb's arguments strictly: an unknown flag or a missing value is a {@link UsageError}. */
export function parseCommandLine<O extends Options>(args: readonly string[], options: O, usage: string): ParsedCommandLine<O> {
  let parsed: ParsedCommandLine<O>;
  try {
    parsed = parseArgs({ args: [...args], options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message, usage);
  }
  if (commandLineCheck.enabled) throw new ArgumentsParsed();
  return parsed;
}

/** Parses a positive integer flag value, naming the flag when it is not one. */
export function positiveInteger(flag: string, value: string | undefined, usage: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${flag} expects a positive integer, got "${value}"`, usage);
  return n;
}

/** Parses a TCP port flag value (0–65535; 0 picks a free port), naming the flag when it is not one. */
export function portNumber(flag: string, value: string | undefined, usage: string): number | undefined {
  if (value === undefined) return undefined;
  const port = /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!(port <= 65_535)) throw new UsageError(`${flag} expects a port from 0 to 65535, got "${value}"`, usage);
  return port;
}

/** Parses `--workers`: a whole number ≥ 0 (0 runs in-process), naming the flag when it is not one. */
export function workerThreads(value: string | undefined, usage: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new UsageError(`--workers must be a whole number ≥ 0 (0 runs in-process), got "${value}"`, usage);
  return Number(value);
}

/** The `--workers` lines of a verb's usage, aligned at `column`; `defaults` is the last line (what applies unset). */
export function workersUsage(column: number, defaults: string): string {
  const indent = ' '.repeat(column);
  return `      ${'--workers <n>'.padEnd(column - 6)}worker threads for the subtasks (subtask i of each stage on worker i mod n),
${indent}capped by the largest parallelism; 0 runs them in this process
${indent}${defaults}`;
}

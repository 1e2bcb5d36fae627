import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from './usage-error.ts';

type Options = NonNullable<ParseArgsConfig['options']>;
/** Named so the build can emit a declaration for parseCommandLine (node:util does not export its types by name). */
type ParsedCommandLine<O extends Options> = ReturnType<typeof parseArgs<{ args: string[]; options: O; allowPositionals: true; strict: true }>>;

/** Parses a verb's arguments strictly: an unknown flag or a missing value is a {@link UsageError}. */
export function parseCommandLine<O extends Options>(args: readonly string[], options: O, usage: string): ParsedCommandLine<O> {
  try {
    return parseArgs({ args: [...args], options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message, usage);
  }
}

/** Parses a positive integer flag value, naming the flag when it is not one. */
export function positiveInteger(flag: string, value: string | undefined, usage: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${flag} expects a positive integer, got "${value}"`, usage);
  return n;
}

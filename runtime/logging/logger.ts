import { pino, type Logger } from 'pino';
import { createRequire } from 'node:module';
import { serializeError } from './error-serializer.ts';

export type { Logger } from 'pino';

/** Options for {@link createLogger}. */
export interface LoggerOptions {
  /** pino level; default `info`, or `LOG_LEVEL` from the environment. */
  level?: string;
  /** Human-readable lines (pino-pretty) instead of JSON; default: when stderr is a TTY. */
  pretty?: boolean;
  /**
   * Where lines go instead of stderr, one `write` per line, synchronously. `sluice run` passes its status line's
   * log stream here so a log line never lands in the middle of the progress line.
   */
  destination?: { write(line: string): unknown };
}

/**
 * The process logger for the CLI and the service: JSON lines on stderr, pretty on a TTY. `err` fields keep their
 * stack and causes' stacks (see `serializeError`).
 * Library code never creates loggers; it takes one (or a child) from its caller.
 *
 * @example
 * ```ts
 * const log = createLogger({ level: 'debug' }).child({ job: 'orders' });
 * ```
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? process.env['LOG_LEVEL'] ?? 'info';
  const pretty = options.pretty ?? process.stderr.isTTY === true;
  const serializers = { err: serializeError };
  const destination = options.destination;
  if (destination !== undefined) {
    // Formatted on this thread (not pino-pretty's worker), so the destination sees each line when it is written.
    const format = pretty ? prettyFormatter() : undefined;
    return pino({ level, serializers }, { write: (line: string) => destination.write(format === undefined ? line : format(line)) });
  }
  if (pretty) {
    return pino({ level, serializers, transport: { target: 'pino-pretty', options: { destination: 2, colorize: true } } });
  }
  return pino({ level, serializers }, pino.destination({ dest: 2, sync: true }));
}

/** A logger that drops everything: the default for library components when the caller gives none. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

/**
 * pino-pretty's line formatter, loaded only when asked for: it is the heaviest import of the logging module, and
 * every worker thread imports this module (its logs go to the main thread as JSON lines, never pretty).
 */
function prettyFormatter(): (line: string) => string {
  const { prettyFactory } = createRequire(import.meta.url)('pino-pretty') as typeof import('pino-pretty');
  return prettyFactory({ colorize: true });
}

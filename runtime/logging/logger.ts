import { pino, type Logger } from 'pino';

export type { Logger } from 'pino';

/** Options for {@link createLogger}. */
export interface LoggerOptions {
  /** pino level; default `info`, or `LOG_LEVEL` from the environment. */
  level?: string;
  /** Human-readable lines (pino-pretty) instead of JSON; default: when stderr is a TTY. */
  pretty?: boolean;
}

/**
 * The process logger for the CLI and the service: JSON lines on stderr, pretty on a TTY.
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
  if (pretty) {
    return pino({ level, transport: { target: 'pino-pretty', options: { destination: 2, colorize: true } } });
  }
  return pino({ level }, pino.destination({ dest: 2, sync: true }));
}

/** A logger that drops everything: the default for library components when the caller gives none. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

import { pino } from 'pino';
import { serializeError, type Logger } from '../logging/index.ts';

/**
 * A worker's logger: pino formats each line in the worker (serializers included, so an `err` keeps its stack) and
 * hands it to `send`, which posts it to the main thread; {@link relayWorkerLog} writes it there through the job's
 * logger. One pino, one destination, whatever thread logged.
 */
export function workerLogger(level: string, send: (line: string) => void): Logger {
  return pino({ level, base: null, timestamp: false, serializers: { err: serializeError } }, { write: (line: string) => send(line) });
}

/** Writes a line a worker logged through `logger` (which carries job and attempt) with a `worker` field. */
export function relayWorkerLog(logger: Logger, worker: number, line: string): void {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    logger.warn({ worker, line }, 'unreadable log line from a worker');
    return;
  }
  const { level, msg, ...fields } = entry;
  const label = typeof level === 'number' ? pino.levels.labels[level] : undefined;
  const log = label === undefined ? logger.info : (logger as unknown as Record<string, Logger['info']>)[label] ?? logger.info;
  log.call(logger, { ...fields, worker }, typeof msg === 'string' ? msg : '');
}

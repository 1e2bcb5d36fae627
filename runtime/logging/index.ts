export { createLogger, silentLogger } from './logger.ts';
export type { Logger, LoggerOptions } from './logger.ts';
export { serializeError } from './error-serializer.ts';
export type { SerializedError } from './error-serializer.ts';

import { Kafka, logLevel, type KafkaConfig, type LogEntry } from 'kafkajs';
import type { SinkWriterContext } from '../../../runtime/api/index.ts';
import { SluiceError } from '../../../runtime/errors/index.ts';
import type { Logger } from '../../../runtime/logging/index.ts';
import type { ResolvedKafkaSinkOptions } from './options.ts';

/** A kafkajs client for one sink writer, logging warnings and errors through the writer's pino logger. */
export function createKafkaClient(options: ResolvedKafkaSinkOptions<unknown>, context: SinkWriterContext): Kafka {
  const config: KafkaConfig = {
    brokers: [...options.brokers],
    clientId: options.clientId ?? `sluice-${context.job}-sink`,
    logLevel: logLevel.WARN,
    logCreator: () => (entry: LogEntry) => forward(context.logger, entry),
  };
  if (options.ssl !== undefined) config.ssl = options.ssl;
  if (options.sasl !== undefined) config.sasl = options.sasl;
  if (options.connectionTimeoutMs !== undefined) config.connectionTimeout = options.connectionTimeoutMs;
  const retry = options.retry;
  if (retry !== undefined) {
    config.retry = {
      ...(retry.retries === undefined ? {} : { retries: retry.retries }),
      ...(retry.initialRetryTimeMs === undefined ? {} : { initialRetryTime: retry.initialRetryTimeMs }),
      ...(retry.maxRetryTimeMs === undefined ? {} : { maxRetryTime: retry.maxRetryTimeMs }),
    };
  }
  return new Kafka(config);
}

function forward(logger: Logger, { level, log }: LogEntry): void {
  const { message, ...fields } = log;
  const text = `kafkajs: ${message}`;
  if (level === logLevel.ERROR) logger.error(fields, text);
  else if (level === logLevel.WARN) logger.warn(fields, text);
  else logger.debug(fields, text);
}

/** Wraps a failure to reach the brokers at start into an error that says what to check. */
export function unreachable(options: ResolvedKafkaSinkOptions<unknown>, context: SinkWriterContext, err: unknown): SluiceError {
  return new SluiceError(
    'SLUICE_KAFKA_UNREACHABLE',
    `kafkaSink of job "${context.job}" (subtask ${context.subtask}) could not connect to Kafka at ${options.brokers.join(', ')}: ${(err as Error)?.message ?? String(err)}; check "brokers" and that Kafka is running (sluice dev starts a local broker)`,
    { cause: err, retriable: true },
  );
}

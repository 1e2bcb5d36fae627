import { Kafka } from 'kafkajs';
import type { Logger } from '../../../runtime/logging/index.ts';
import { kafkajsLevelFor, kafkajsLogCreator } from '../../../runtime/kafkajs/kafkajs-logger.ts';
import type { ResolvedKafkaSourceOptions } from './options.ts';

/** The kafkajs client a source uses (readers and the split count alike): our retry settings, logs into pino. */
export function createSourceKafkaClient(o: ResolvedKafkaSourceOptions<unknown>, logger: Logger): Kafka {
  return new Kafka({
    brokers: [...o.brokers],
    clientId: o.clientId,
    connectionTimeout: o.connectionTimeoutMs,
    requestTimeout: o.requestTimeoutMs,
    retry: { retries: o.retries, initialRetryTime: o.initialRetryTimeMs, maxRetryTime: o.maxRetryTimeMs },
    logLevel: kafkajsLevelFor(logger),
    logCreator: kafkajsLogCreator(logger),
    ...(o.ssl === undefined ? {} : { ssl: o.ssl }),
    ...(o.sasl === undefined ? {} : { sasl: o.sasl }),
  });
}

/** The Kafka sink: at-least-once and exactly-once writes from Sluice jobs to Kafka topics. */
export { kafkaSink } from './kafka-sink.ts';
export type { KafkaSinkGuarantee, KafkaSinkHeaders, KafkaSinkOptions } from './options.ts';
export { DEFAULT_TRANSACTION_TIMEOUT_MS } from './options.ts';
export { checkTransactionTimeout } from './transaction-timeout.ts';
export type { ExactlyOnceSinkState } from './exactly-once-writer.ts';

/** Kafka connectors. */
export type { KafkaRecord, KafkaOrigin, KafkaHeaders } from './kafka-record.ts';
export { hasKafkaOrigin } from './kafka-record.ts';
export { kafkaSplitOwner, kafkaSplitId } from './split-owner.ts';
export { kafkaSource, KafkaSourceErrorCode } from './source/index.ts';
export type { KafkaSourceOptions, StartFrom, ValueFormat, OnDeserializationError, DeadLetter, ValueDeserializer, RawKafkaRecord } from './source/index.ts';
export { kafkaSink, checkTransactionTimeout, DEFAULT_TRANSACTION_TIMEOUT_MS } from './sink/index.ts';
export type { KafkaSinkOptions, KafkaSinkGuarantee, KafkaSinkHeaders, ExactlyOnceSinkState } from './sink/index.ts';

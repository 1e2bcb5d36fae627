/** The Kafka source: `kafkaSource()` and the types of its options, dead letters and deserializers. */
export { kafkaSource } from './kafka-source.ts';
export { KafkaSourceReader } from './kafka-source-reader.ts';
export type { KafkaSourceOptions, StartFrom, ValueFormat, OnDeserializationError } from './options.ts';
export type { DeadLetter } from './dead-letter.ts';
export type { ValueDeserializer, RawKafkaRecord } from './deserializer.ts';
export { KafkaSourceErrorCode } from './errors.ts';

import type { KafkaRecord } from '../kafka-record.ts';
import type { ValueFormat } from './options.ts';

/** Everything about a record except its decoded value: what a deserializer may look at. */
export type RawKafkaRecord = Omit<KafkaRecord<unknown>, 'value'>;

/**
 * Decodes a record value. Throw to reject the record: `onDeserializationError` decides what happens to it.
 *
 * @example
 * ```ts
 * const upper: ValueDeserializer<string> = (value) => value?.toString('utf8').toUpperCase() ?? '';
 * ```
 */
export type ValueDeserializer<V> = (value: Buffer | null, record: RawKafkaRecord) => V;

/**
 * The decode function for a format. Built-in formats map a null value (a tombstone) to `null`; `json` throws on
 * invalid JSON, `string` decodes UTF-8 (invalid sequences become U+FFFD, like every Kafka string deserializer).
 */
export function deserializerFor<V>(format: ValueFormat<V>): ValueDeserializer<V> {
  switch (format) {
    case 'json':
      return ((value: Buffer | null) => (value === null ? null : JSON.parse(value.toString('utf8')))) as unknown as ValueDeserializer<V>;
    case 'string':
      return ((value: Buffer | null) => (value === null ? null : value.toString('utf8'))) as unknown as ValueDeserializer<V>;
    case 'bytes':
      return ((value: Buffer | null) => value) as unknown as ValueDeserializer<V>;
    default:
      return format;
  }
}

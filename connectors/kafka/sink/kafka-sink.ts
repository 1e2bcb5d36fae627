import type { Sink } from '../../../runtime/api/index.ts';
import { AtLeastOnceWriter } from './at-least-once-writer.ts';
import { ExactlyOnceWriter } from './exactly-once-writer.ts';
import { resolveKafkaSinkOptions, type KafkaSinkOptions } from './options.ts';

/**
 * Writes records to Kafka, at-least-once (flush on every checkpoint barrier) or exactly-once (one Kafka transaction
 * per subtask per checkpoint, committed when the checkpoint completes). Options are validated here, so a bad option
 * fails when the job is defined. See docs/connectors/kafka-sink.md.
 *
 * @example
 * ```ts
 * totals.sink(kafkaSink<Total>({
 *   brokers: ['127.0.0.1:9092'],
 *   topic: 'orders-enriched',
 *   key: (t) => t.customer,
 *   guarantee: 'exactly-once',
 *   transactionalIdPrefix: 'orders-enrich',
 * }));
 * ```
 */
export function kafkaSink<T>(options: KafkaSinkOptions<T>): Sink<T> {
  const resolved = resolveKafkaSinkOptions(options);
  return {
    name: 'kafka',
    endpoints: [{ system: 'kafka', brokers: resolved.brokers }],
    createWriter: (context) =>
      resolved.guarantee === 'exactly-once' ? new ExactlyOnceWriter<T>(resolved, context) : new AtLeastOnceWriter<T>(resolved, context),
  };
}

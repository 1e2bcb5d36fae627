import type { Source } from '../../../runtime/api/index.ts';
import type { KafkaRecord } from '../kafka-record.ts';
import { deadLetterEndpoints } from './dead-letter.ts';
import { createSourceKafkaClient } from './kafka-client.ts';
import { KafkaSourceReader } from './kafka-source-reader.ts';
import { resolveKafkaSourceOptions, type KafkaSourceOptions, type ResolvedKafkaSourceOptions } from './options.ts';
import { fetchPartitionCounts } from './topic-metadata.ts';

/**
 * An unbounded source reading Kafka topics, partition-parallel: each partition is a split owned by one source
 * subtask (Flink's formula, see `kafkaSplitOwner`), its next offset is checkpointed, and restoring seeks exactly
 * there. New partitions and new topics matching `topicPattern` are picked up while the job runs. Options are checked
 * here, so a bad option fails when the job is defined, not when it runs. Full description: docs/connectors/kafka.md.
 *
 * @example
 * ```ts
 * interface Order { customer: string; amount: number }
 * env
 *   .source(kafkaSource<Order>({ brokers: ['localhost:9092'], topics: ['orders'], format: 'json' }))
 *   .map((r) => r.value)
 *   .keyBy((o) => o.customer)
 *   .reduce((a, b) => ({ customer: a.customer, amount: a.amount + b.amount }));
 * ```
 */
export function kafkaSource<V = unknown>(options: KafkaSourceOptions<V>): Source<KafkaRecord<V>> {
  const resolved = resolveKafkaSourceOptions(options);
  // Readers created per subtask by this source instance, i.e. the attempt number within this process: the
  // dead-letter sink's writers get it as their `attempt`.
  const readersPerSubtask = new Map<number, number>();
  return {
    name: 'kafka',
    bounded: false,
    endpoints: [{ system: 'kafka', brokers: resolved.brokers }, ...deadLetterEndpoints(resolved.onDeserializationError)],
    async splitCount({ logger }) {
      const kafka = createSourceKafkaClient(resolved as ResolvedKafkaSourceOptions<unknown>, logger);
      const admin = kafka.admin();
      await admin.connect();
      try {
        // Missing listed topics are not an error here: the readers report them with the fix when they start.
        const counts = await fetchPartitionCounts(admin, resolved, false);
        return [...counts.values()].reduce((a, b) => a + b, 0);
      } finally {
        await admin.disconnect().catch(() => undefined);
      }
    },
    createReader(context) {
      const attempt = readersPerSubtask.get(context.subtask) ?? 0;
      readersPerSubtask.set(context.subtask, attempt + 1);
      return new KafkaSourceReader(resolved, context, attempt);
    },
  };
}

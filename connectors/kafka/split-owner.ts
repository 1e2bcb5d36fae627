/**
 * Which source subtask reads a Kafka partition (docs/connectors/kafka.md, "Splits and assignment"). The formula is Flink's
 * `KafkaTopicPartitionAssigner`: partitions of one topic are dealt round-robin, starting at a subtask derived from the
 * topic's Java `String.hashCode`, so different topics start at different subtasks and small topics do not all land
 * on subtask 0. It depends only on (topic, partition, parallelism): the same plan always gives the same assignment,
 * on every subtask, without any coordination.
 */

/** Java's `String.hashCode()`: `s[0]*31^(n-1) + … + s[n-1]` over UTF-16 code units, in 32-bit two's complement. */
export function javaStringHash(text: string): number {
  let hash = 0;
  for (let i = 0; i < text.length; i++) hash = (Math.imul(31, hash) + text.charCodeAt(i)) | 0;
  return hash;
}

/**
 * The subtask (0-based) of `parallelism` that owns partition `partition` of `topic`:
 * `((hash(topic) * 31 & 0x7fffffff) % p + partition) % p`, the multiplication wrapping like Java's `int`.
 *
 * @example
 * ```ts
 * kafkaSplitOwner('orders', 3, 4); // → 2
 * ```
 */
export function kafkaSplitOwner(topic: string, partition: number, parallelism: number): number {
  const start = (Math.imul(javaStringHash(topic), 31) & 0x7fffffff) % parallelism;
  return (start + partition) % parallelism;
}

/**
 * The split id of a partition, as stored in checkpoints and shown by `sluice status`: `orders-3`.
 *
 * @example
 * ```ts
 * kafkaSplitId('orders', 3); // 'orders-3'
 * ```
 */
export function kafkaSplitId(topic: string, partition: number): string {
  return `${topic}-${partition}`;
}

/**
 * One record read from Kafka, as the Kafka source hands it to the job: the decoded value with everything Kafka
 * knows about where it came from. `topic`/`partition`/`offset` identify it uniquely, which sinks use for
 * deterministic ids (the Elasticsearch sink's `id: 'topic-partition-offset'`).
 *
 * @example
 * ```ts
 * env.source(kafkaSource<Order>({ brokers, topics: ['orders'], format: 'json' }))
 *   .map((r: KafkaRecord<Order>) => ({ ...r.value, partition: r.partition }));
 * ```
 */
export interface KafkaRecord<V> {
  /** The topic the record was read from. */
  readonly topic: string;
  /** The partition the record was read from. */
  readonly partition: number;
  /** The record's offset in its partition (int64 in Kafka; exact in a JS number up to 2^53). */
  readonly offset: number;
  /** The record key, or `null` when it has none. */
  readonly key: Buffer | null;
  /** The value, decoded by the source's `format`. */
  readonly value: V;
  /** Record timestamp in ms since the epoch (create time or log-append time, as the topic is configured). */
  readonly timestamp: number;
  /** The record's headers; see {@link KafkaHeaders}. */
  readonly headers: KafkaHeaders;
}

/**
 * Record headers by key. A key that occurs once maps to its value; a key that repeats (Kafka allows it) maps to all
 * its values in record order; a header sent without a value is `null`. The same shape kafkajs reports.
 */
export type KafkaHeaders = Readonly<Record<string, Buffer | Buffer[] | null>>;

/** The part of a record that locates it in Kafka; enough for a `topic-partition-offset` document id. */
export type KafkaOrigin = Pick<KafkaRecord<unknown>, 'topic' | 'partition' | 'offset'>;

/**
 * True when `value` carries a Kafka origin (topic, partition and offset): a record as the Kafka source emits it,
 * before a map replaced it.
 *
 * @example
 * ```ts
 * const id = (r: unknown) => (hasKafkaOrigin(r) ? `${r.topic}-${r.partition}-${r.offset}` : undefined);
 * ```
 */
export function hasKafkaOrigin(value: unknown): value is KafkaOrigin {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Partial<KafkaOrigin>;
  return typeof v.topic === 'string' && typeof v.partition === 'number' && typeof v.offset === 'number';
}

import { randomUUID } from 'node:crypto';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { SluiceError } from '../errors/index.ts';
import { TestingErrorCodes } from './testing-errors.ts';

/** A record of a topic as a read_committed consumer would see it. */
export interface TopicRecord {
  /** The record's partition. */
  readonly partition: number;
  /** The record's offset. */
  readonly offset: number;
  /** The record's key as a string, or `null`. */
  readonly key: string | null;
  /** The record's value as a string. */
  readonly value: string;
}

/** Written to every partition before reading, so the reader knows where the end is; never returned. */
const SENTINEL = '__sluice_testing_end__';
/** Control record key of a COMMIT marker: version 0 (int16), type 1 (int16). ABORT is type 0. */
const COMMIT_MARKER_KEY = Buffer.from([0, 0, 0, 1]);

interface RawMessage {
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  isControlRecord?: boolean;
  batchContext: { producerId: string; inTransaction: boolean };
}

function client(brokers: readonly string[]): Kafka {
  return new Kafka({ clientId: 'sluice-testing', brokers: [...brokers], logLevel: logLevel.NOTHING });
}

/**
 * Topics of the cluster, without Kafka's internal ones (`__consumer_offsets`, ...).
 *
 * @example
 * ```ts
 * const topics = await listTopics(['127.0.0.1:9092']);
 * ```
 */
export async function listTopics(brokers: readonly string[]): Promise<string[]> {
  const admin = client(brokers).admin();
  await admin.connect();
  try {
    return (await admin.listTopics()).filter((t) => !t.startsWith('__')).sort();
  } finally {
    await admin.disconnect();
  }
}

/**
 * Timestamp of the first seeded record (record i gets this + i ms): the same in every run, so what a job derives from
 * record timestamps (dead letters carry them, event time will) compares equal between the clean and the faulty run.
 */
export const SEED_EPOCH_MS = Date.UTC(2026, 0, 1);

/**
 * Creates `topic` with `partitions` partitions and writes `values` into it, record `i` into partition
 * `i % partitions` (deterministic, unlike a partitioner without keys). The topic keeps its records whatever their age
 * (`retention.ms` -1): they are stamped from {@link SEED_EPOCH_MS}, which a broker's default retention (7 days,
 * checked every 5 minutes) would otherwise delete in the middle of a long run.
 *
 * @example
 * ```ts
 * await seedTopic(['127.0.0.1:9092'], 'orders', orders.map((o) => JSON.stringify(o)), 4);
 * ```
 */
export async function seedTopic(brokers: readonly string[], topic: string, values: readonly string[], partitions = 1): Promise<void> {
  const kafka = client(brokers);
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({
      topics: [{ topic, numPartitions: partitions, replicationFactor: 1, configEntries: [{ name: 'retention.ms', value: '-1' }] }],
      waitForLeaders: true,
    });
  } finally {
    await admin.disconnect();
  }
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  try {
    for (let i = 0; i < values.length; i += 1000) {
      const messages = values.slice(i, i + 1000).map((value, j) => ({ value, partition: (i + j) % partitions, timestamp: String(SEED_EPOCH_MS + i + j) }));
      await producer.send({ topic, messages });
    }
  } finally {
    await producer.disconnect();
  }
}

/**
 * End offset of every partition of `topic`: `{ 'orders-0': 120, ... }` (the split ids the Kafka source uses).
 *
 * @example
 * ```ts
 * const ends = await topicEnds(brokers, 'orders');
 * await run.untilCheckpointCovers({ orders: ends }); // 'orders': the uid of the job's Kafka source
 * ```
 */
export async function topicEnds(brokers: readonly string[], topic: string): Promise<Record<string, number>> {
  const admin = client(brokers).admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    return Object.fromEntries(offsets.map((o) => [`${topic}-${o.partition}`, Number(o.high)]));
  } finally {
    await admin.disconnect();
  }
}

/**
 * Everything committed in `topic`, each partition in offset order, read the way a correct read_committed consumer
 * would: records are read uncommitted with their control records, and each producer's transactional records are
 * kept only when its COMMIT marker follows. (kafkajs's own read_committed filter lets aborted records through when
 * transactions of several producers interleave, docs/connectors/kafka-sink.md.) Records of a transaction still open
 * are not committed, so they are not returned. Writes one sentinel record per partition to find the end.
 *
 * @example
 * ```ts
 * const records = await readCommittedTopic(broker.brokers, 'user-totals');
 * ```
 */
export async function readCommittedTopic(brokers: readonly string[], topic: string, options: { timeoutMs?: number } = {}): Promise<TopicRecord[]> {
  const kafka = client(brokers);
  const admin: Admin = kafka.admin();
  await admin.connect();
  let partitions: number;
  try {
    partitions = (await admin.fetchTopicOffsets(topic)).length;
  } finally {
    await admin.disconnect();
  }
  const producer = kafka.producer();
  await producer.connect();
  try {
    await producer.send({ topic, messages: Array.from({ length: partitions }, (_, partition) => ({ partition, value: SENTINEL })) });
  } finally {
    await producer.disconnect();
  }
  const raw = new Map<number, RawMessage[]>();
  const ended = new Set<number>();
  const consumer = kafka.consumer({ groupId: `sluice-testing-${randomUUID()}`, readUncommitted: true });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    let allRead: () => void = () => undefined;
    const done = new Promise<void>((resolve) => (allRead = resolve));
    await consumer.run({
      eachBatch: async ({ batch }) => {
        const list = raw.get(batch.partition) ?? [];
        raw.set(batch.partition, list);
        for (const m of (batch as unknown as { rawMessages: RawMessage[] }).rawMessages) {
          list.push(m);
          if (m.isControlRecord !== true && m.value?.toString() === SENTINEL) ended.add(batch.partition);
        }
        if (ended.size === partitions) allRead();
      },
    });
    const timeoutMs = options.timeoutMs ?? 60_000;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      done,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new SluiceError(TestingErrorCodes.timeout, `reading topic "${topic}" did not reach the end of its ${partitions} partitions within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]).finally(() => clearTimeout(timer));
  } finally {
    await consumer.disconnect();
  }
  return applyMarkers(raw);
}

function applyMarkers(raw: ReadonlyMap<number, RawMessage[]>): TopicRecord[] {
  const committed: TopicRecord[] = [];
  for (const [partition, messages] of [...raw].sort((a, b) => a[0] - b[0])) {
    const seen = new Set<number>();
    const open = new Map<string, TopicRecord[]>();
    for (const m of [...messages].sort((a, b) => Number(a.offset) - Number(b.offset))) {
      const offset = Number(m.offset);
      // A batch can be fetched twice (a rebalance, a retried fetch): each offset counts once.
      if (seen.has(offset)) continue;
      seen.add(offset);
      const producerId = m.batchContext.producerId;
      if (m.isControlRecord === true) {
        const records = open.get(producerId) ?? [];
        open.delete(producerId);
        if (m.key !== null && Buffer.from(m.key).equals(COMMIT_MARKER_KEY)) committed.push(...records);
        continue;
      }
      const value = m.value?.toString() ?? '';
      if (value === SENTINEL) continue;
      const record = { partition, offset, key: m.key === null ? null : m.key.toString(), value };
      if (!m.batchContext.inTransaction) committed.push(record);
      else open.set(producerId, [...(open.get(producerId) ?? []), record]);
    }
  }
  return committed;
}

import type { Kafka } from 'kafkajs';
import { createKafkajsCluster } from '../../kafkajs/kafkajs-cluster.ts';
import { SluiceError } from '../../errors/index.ts';

/** One record of a scanned partition; `value` null is a tombstone (a deleted key of a compacted topic). */
export interface ScannedRecord {
  readonly offset: number;
  readonly key: string;
  readonly value: Buffer | null;
}

/** The parts of kafkajs 2.2.4's internal cluster and broker a scan uses. */
interface InternalCluster {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  addTargetTopic(topic: string): Promise<void>;
  findLeaderForPartitions(topic: string, partitions: number[]): Record<string, number[]>;
  findBroker(args: { nodeId: string }): Promise<InternalBroker>;
  fetchTopicsOffset(topics: Array<{ topic: string; partitions: Array<{ partition: number }>; fromBeginning: boolean }>): Promise<Array<{ topic: string; partitions: Array<{ partition: number; offset: string }> }>>;
}
interface InternalBroker {
  fetch(request: {
    replicaId: number;
    isolationLevel: number;
    maxWaitTime: number;
    minBytes: number;
    maxBytes: number;
    topics: Array<{ topic: string; partitions: Array<{ partition: number; fetchOffset: string; maxBytes: number }> }>;
  }): Promise<{ responses: Array<{ partitions: Array<{ errorCode: number; messages: Array<{ offset: string; key: Buffer | null; value: Buffer | null; isControlRecord?: boolean; batchContext?: { firstOffset: string; lastOffsetDelta: number } }> }> }> }>;
}

const READ_COMMITTED = 1;
const FETCH_BYTES = 8 * 1024 * 1024;

/** Offsets to read: from `from` (default the partition's first) up to, not including, `to` (default its end). */
export interface PartitionRange {
  readonly from?: number;
  readonly to?: number;
}

/**
 * Reads one partition of a topic from its first offset up to the high watermark it had when the scan began, record
 * by record in offset order. Cluster mode keeps its central state (jobs, status, replicated checkpoints) in compacted
 * topics that every member reads whole; a consumer group would split the partitions between members instead, and a
 * group per reader would litter the brokers with groups. So this reads without a group, through kafkajs's own
 * cluster (brokers, ssl and sasl as the client has them), read_committed. Records of aborted transactions are not
 * filtered out: the cluster's topics are written by idempotent producers, never in transactions.
 *
 * A record's value is a view of the fetch response it came in (up to 8 MiB): copy what is kept past the callback.
 *
 * @example
 * ```ts
 * const latest = new Map<string, Buffer | null>();
 * await scanPartition(kafka, 'sluice.prod.jobs', 0, (r) => latest.set(r.key, r.value));
 * ```
 */
export async function scanPartition(kafka: Kafka, topic: string, partition: number, onRecord: (record: ScannedRecord) => void): Promise<void> {
  for await (const records of readPartition(kafka, topic, partition)) for (const record of records) onRecord(record);
}

/**
 * The records of one partition in `range` (clamped to what the partition holds when the read begins), one fetch
 * response at a time, in offset order: {@link scanPartition} for a reader that awaits between responses (it fetches
 * the next only when asked) or stops early (leaving the loop closes the connections).
 *
 * @example
 * ```ts
 * for await (const records of readPartition(kafka, 'sluice.prod.checkpoints', 2, { from: 1200, to: 1300 })) {
 *   for (const record of records) await keep(record.key, Buffer.from(record.value ?? []));
 * }
 * ```
 */
export async function* readPartition(kafka: Kafka, topic: string, partition: number, range: PartitionRange = {}): AsyncGenerator<ScannedRecord[]> {
  const cluster = createKafkajsCluster<InternalCluster>(
    kafka,
    { metadataMaxAge: 300_000, allowAutoTopicCreation: false, maxInFlightRequests: null, instrumentationEmitter: null, isolationLevel: READ_COMMITTED },
    'cluster mode',
  );
  try {
    await cluster.connect();
    await cluster.addTargetTopic(topic);
    const [low, high] = await Promise.all([offsetOf(cluster, topic, partition, true), offsetOf(cluster, topic, partition, false)]);
    const end = Math.min(high, range.to ?? high);
    let next = Math.max(low, range.from ?? low);
    let emptyFetches = 0;
    while (next < end) {
      const leader = Object.entries(cluster.findLeaderForPartitions(topic, [partition])).find(([, ps]) => ps.includes(partition))?.[0];
      if (leader === undefined) throw new SluiceError('SLUICE_CLUSTER_TOPIC_UNAVAILABLE', `partition ${partition} of topic "${topic}" has no leader; check the brokers`, { retriable: true });
      const broker = await cluster.findBroker({ nodeId: leader });
      const response = await broker.fetch({
        replicaId: -1,
        isolationLevel: READ_COMMITTED,
        maxWaitTime: 100,
        minBytes: 1,
        maxBytes: FETCH_BYTES,
        topics: [{ topic, partitions: [{ partition, fetchOffset: String(next), maxBytes: FETCH_BYTES }] }],
      });
      const messages = response.responses[0]?.partitions[0]?.messages ?? [];
      let progressed = false;
      const start = next;
      const records: ScannedRecord[] = [];
      for (const message of messages) {
        const offset = Number(message.offset);
        // A batch keeps its last offset when compaction removed its last records: read on after the batch, not after
        // its last record left, or the next fetch answers the same batch again.
        const batchEnd = message.batchContext === undefined ? offset + 1 : Number(message.batchContext.firstOffset) + message.batchContext.lastOffsetDelta + 1;
        if (batchEnd > next) {
          next = batchEnd;
          progressed = true;
        }
        if (offset < start || offset >= end) continue; // a batch is returned whole; skip what was read before
        if (message.isControlRecord === true || message.key === null) continue;
        records.push({ offset, key: message.key.toString('utf8'), value: message.value });
      }
      if (records.length > 0) yield records;
      // Compaction can leave offsets without records below the high watermark (transaction markers, removed keys):
      // a fetch then answers nothing new. A few of those in a row means the rest is gone.
      emptyFetches = progressed ? 0 : emptyFetches + 1;
      if (emptyFetches >= 3) break;
    }
  } finally {
    await cluster.disconnect().catch(() => undefined);
  }
}

async function offsetOf(cluster: InternalCluster, topic: string, partition: number, fromBeginning: boolean): Promise<number> {
  const [result] = await cluster.fetchTopicsOffset([{ topic, partitions: [{ partition }], fromBeginning }]);
  const offset = result?.partitions.find((p) => p.partition === partition)?.offset;
  if (offset === undefined) throw new SluiceError('SLUICE_CLUSTER_TOPIC_UNAVAILABLE', `no offsets for partition ${partition} of topic "${topic}"; check that it exists`, { retriable: true });
  return Number(offset);
}

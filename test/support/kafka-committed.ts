// Reads a topic written by transactional producers the way a correct read_committed consumer would, by applying the
// transaction markers itself (shared by the Kafka sink, end-to-end and rescale tests).
//
// Why not a kafkajs read_committed consumer: kafkajs 2.2.4's filter of aborted records
// (consumer/filterAbortedMessages.js) assumes the broker's aborted-transaction list is sorted by first offset and
// activates at most one entry per message; Kafka lists them in marker order, so when transactions of several
// producers interleave in a partition it lets aborted records through and hides committed ones
// (docs/connectors/kafka-sink.md, "a kafkajs pitfall"). Here records are read uncommitted, control records included,
// and each producer's records are held until its COMMIT or ABORT marker.
import assert from 'node:assert/strict';
import type { KafkaCluster } from './kafka-cluster.ts';
import { waitFor } from './wait-for.ts';

/** A plain record written to every partition before reading; readers skip it. */
export const SENTINEL = '__end__';
/** Control record key of a COMMIT marker: version 0 (int16), type 1 (int16). ABORT is type 0. */
const COMMIT_MARKER_KEY = Buffer.from([0, 0, 0, 1]);

export interface CommittedRecord {
  readonly partition: number;
  readonly offset: number;
  readonly key: string | null;
  readonly value: string;
}

export interface CommittedContents {
  /** Records of committed transactions and non-transactional records, each partition in offset order. */
  readonly committed: CommittedRecord[];
  /** Records of aborted transactions, each partition in offset order. */
  readonly aborted: CommittedRecord[];
}

interface RawRecord {
  readonly key: string | null;
  readonly value: string | null;
  readonly producerId: string;
  readonly inTransaction: boolean;
  readonly control: boolean;
  readonly commit: boolean;
}

interface KafkajsRawMessage {
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  isControlRecord?: boolean;
  batchContext: { producerId: string; inTransaction: boolean };
}

/**
 * Everything in `topic`, sorted by the markers into committed and aborted records. First writes a plain sentinel to
 * every partition; a kafkajs read_committed consumer must reach all of them too, which proves that no transaction
 * is left open (an open transaction holds the last stable offset back), and the function asserts that no
 * transactional record lacks its marker.
 */
export async function readCommitted(cluster: KafkaCluster, topic: string, partitions: number): Promise<CommittedContents> {
  const producer = await cluster.producer();
  await producer.send({ topic, messages: Array.from({ length: partitions }, (_, partition) => ({ partition, value: SENTINEL })) });

  const committedSentinels = new Set<number>();
  const committedView = await cluster.consumer();
  await committedView.subscribe({ topic, fromBeginning: true });
  await committedView.run({
    eachBatch: async ({ batch }) => {
      for (const m of batch.messages) if (m.value?.toString() === SENTINEL) committedSentinels.add(batch.partition);
    },
  });

  const raw = new Map<number, Map<number, RawRecord>>();
  const consumer = await cluster.consumer({ readUncommitted: true });
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachBatch: async ({ batch }) => {
      const byOffset = raw.get(batch.partition) ?? new Map<number, RawRecord>();
      raw.set(batch.partition, byOffset);
      for (const m of (batch as unknown as { rawMessages: KafkajsRawMessage[] }).rawMessages) {
        byOffset.set(Number(m.offset), {
          key: m.key === null ? null : m.key.toString(),
          value: m.value === null ? null : m.value.toString(),
          producerId: m.batchContext.producerId,
          inTransaction: m.batchContext.inTransaction,
          control: m.isControlRecord === true,
          commit: m.key !== null && Buffer.from(m.key).equals(COMMIT_MARKER_KEY),
        });
      }
    },
  });
  const sentinelsRead = (): number => [...raw.values()].filter((m) => [...m.values()].some((r) => r.value === SENTINEL)).length;
  await waitFor(() => sentinelsRead() === partitions, { timeoutMs: 60_000, message: 'reading every partition to its end' });
  await waitFor(() => committedSentinels.size === partitions, {
    timeoutMs: 30_000,
    message: 'a read_committed consumer to reach the end of every partition (an open transaction holds it back)',
  });
  await Promise.all([consumer.stop(), committedView.stop()]);

  const committed: CommittedRecord[] = [];
  const aborted: CommittedRecord[] = [];
  for (const [partition, byOffset] of raw) {
    const open = new Map<string, CommittedRecord[]>();
    for (const offset of [...byOffset.keys()].sort((a, b) => a - b)) {
      const r = byOffset.get(offset) as RawRecord;
      if (r.control) {
        const records = open.get(r.producerId) ?? [];
        open.delete(r.producerId);
        if (r.commit) for (const record of records) committed.push(record);
        else for (const record of records) aborted.push(record);
      } else if (r.value !== SENTINEL) {
        const record = { partition, offset, key: r.key, value: r.value ?? '' };
        if (!r.inTransaction) committed.push(record);
        else {
          const records = open.get(r.producerId);
          if (records === undefined) open.set(r.producerId, [record]);
          else records.push(record);
        }
      }
    }
    assert.equal([...open.values()].flat().length, 0, `no transaction left open in partition ${partition}`);
  }
  return { committed, aborted };
}

import assert from 'node:assert/strict';
import type { KafkaCluster } from './kafka-cluster.ts';
import { waitFor } from './wait-for.ts';

/** Key of a COMMIT control record (version 0, type 1); ABORT is type 0. */
const COMMIT_MARKER_KEY = Buffer.from([0, 0, 0, 1]);
const SENTINEL = '__end-of-test__';

/** A topic's contents sorted by the transaction markers themselves. */
export interface CommittedContents {
  /** Values (as strings) of committed and non-transactional records, per partition in offset order, concatenated. */
  readonly committed: string[];
  /** Values of records in aborted transactions. */
  readonly aborted: string[];
}

interface RawRecord {
  readonly value: string | null;
  readonly producerId: string;
  readonly inTransaction: boolean;
  readonly control: boolean;
  readonly commit: boolean;
}

/**
 * Everything in `topic`, sorted into committed and aborted records by reading the transaction markers.
 *
 * Why not a read_committed kafkajs consumer: kafkajs 2.2.4's filter of aborted records
 * (consumer/filterAbortedMessages.js) assumes the broker's aborted-transaction list is sorted by first offset and
 * activates at most one entry per message; Kafka lists them in marker order, so with several producers' transactions
 * interleaved in a partition it lets aborted records through and drops committed ones. Here records are read
 * uncommitted, control records included, and each producer's records are held until its COMMIT or ABORT marker.
 *
 * A plain sentinel is written to every partition first; a read_committed consumer must reach it too, which proves
 * no transaction is left open (an open transaction holds the last stable offset back).
 */
export async function readCommitted(cluster: KafkaCluster, topic: string, partitions: number): Promise<CommittedContents> {
  const producer = await cluster.producer();
  await producer.send({ topic, messages: Array.from({ length: partitions }, (_, partition) => ({ partition, value: SENTINEL })) });
  const { records: committedView } = await cluster.collect(topic);
  const raw = new Map<number, Map<number, RawRecord>>();
  const consumer = await cluster.consumer({ readUncommitted: true });
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachBatch: async ({ batch }) => {
      const byOffset = raw.get(batch.partition) ?? new Map<number, RawRecord>();
      raw.set(batch.partition, byOffset);
      // `rawMessages` (not in kafkajs's types) still holds control records and aborted data.
      const messages = (batch as unknown as { rawMessages: Array<{ offset: string; value: Buffer | null; key: Buffer | null; isControlRecord?: boolean; batchContext: { producerId: string; inTransaction: boolean } }> }).rawMessages;
      for (const m of messages) {
        byOffset.set(Number(m.offset), {
          value: m.value === null ? null : m.value.toString(),
          producerId: m.batchContext.producerId,
          inTransaction: m.batchContext.inTransaction,
          control: m.isControlRecord === true,
          commit: m.key !== null && Buffer.from(m.key).equals(COMMIT_MARKER_KEY),
        });
      }
    },
  });
  const sentinels = (): number => [...raw.values()].filter((m) => [...m.values()].some((r) => r.value === SENTINEL)).length;
  await waitFor(() => sentinels() === partitions, { timeoutMs: 30_000, message: 'reading every partition to its end' });
  await waitFor(() => new Set(committedView.filter((r) => r.value === SENTINEL).map((r) => r.partition)).size === partitions, {
    timeoutMs: 30_000,
    message: 'a read_committed consumer to reach the end of every partition (an open transaction holds it back)',
  });
  const committed: string[] = [];
  const aborted: string[] = [];
  for (const byOffset of raw.values()) {
    const open = new Map<string, string[]>();
    for (const offset of [...byOffset.keys()].sort((a, b) => a - b)) {
      const r = byOffset.get(offset) as RawRecord;
      if (r.control) {
        const values = open.get(r.producerId) ?? [];
        open.delete(r.producerId);
        (r.commit ? committed : aborted).push(...values);
      } else if (r.value !== SENTINEL && r.value !== null) {
        if (!r.inTransaction) committed.push(r.value);
        else open.set(r.producerId, [...(open.get(r.producerId) ?? []), r.value]);
      }
    }
    assert.equal([...open.values()].flat().length, 0, 'no transaction left open');
  }
  return { committed, aborted };
}

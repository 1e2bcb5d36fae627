import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Producer, Transaction } from 'kafkajs';
import { collectSink, CollectTarget } from '../../../connectors/dev/index.ts';
import { kafkaSource } from '../../../connectors/kafka/index.ts';
import { defineJob } from '../../../runtime/api/index.ts';
import { kafkaCluster } from '../../support/kafka-cluster.ts';
import { seededRandom } from '../../support/seeded-random.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { waitFor } from '../../support/wait-for.ts';
import { checkpointsCompleted, runUntil } from './source-test-support.ts';

interface Tagged {
  readonly v: string;
}

/**
 * Three transactional producers (like the exactly-once sink's `<prefix>-<subtask>-<slot>` ids at p = 3) interleave
 * their transactions in one partition, with plain records in between; about half the transactions abort, and the
 * first round aborts two transactions in the opposite order of their first records, so the broker's aborted list
 * (by marker offset) is not sorted by first offset. Returns the values a read_committed reader must see, in offset
 * order: every plain record and every record of a committed transaction.
 */
async function interleaveTransactions(producers: Producer[], plain: Producer, topic: string): Promise<string[]> {
  const random = seededRandom(5);
  const expected: string[] = [];
  const send = async (to: Transaction | Producer, v: string) => {
    await to.send({ topic, messages: [{ partition: 0, value: JSON.stringify({ v } satisfies Tagged) }] });
  };
  for (let round = 0; round < 12; round++) {
    const transactions = await Promise.all(producers.map((p) => p.transaction()));
    // Every record of the round in the order it was written (= offset order), with its writer.
    const written: { v: string; by: number | 'plain' }[] = [];
    // Round 0: producer 0 starts first and aborts last; producer 1 starts second and aborts first.
    const order = round === 0 ? [0, 1, 2, 0, 1, 2] : Array.from({ length: 8 }, () => Math.floor(random() * producers.length));
    for (const [n, by] of order.entries()) {
      const v = `r${round}-p${by}-${n}`;
      await send(transactions[by] as Transaction, v);
      written.push({ v, by });
      if (random() < 0.3) {
        const p = `r${round}-plain-${n}`;
        await send(plain, p);
        written.push({ v: p, by: 'plain' });
      }
    }
    const commits = round === 0 ? [false, false, true] : producers.map(() => random() < 0.5);
    const endOrder = round === 0 ? [1, 0, 2] : [0, 1, 2].sort(() => random() - 0.5);
    for (const by of endOrder) {
      const tx = transactions[by] as Transaction;
      await (commits[by] ? tx.commit() : tx.abort());
    }
    for (const { v, by } of written) if (by === 'plain' || commits[by]) expected.push(v);
  }
  return expected;
}

test('interleaved transactions of three producers with aborts in one partition: exactly the committed records, in offset order', async (t) => {
  const cluster = await kafkaCluster(t);
  const topic = await cluster.createTopic({ partitions: 1, prefix: 'source-txn' });
  const prefix = cluster.uniqueName('source-txn');
  const producers = await Promise.all(
    [0, 1, 2].map((slot) => cluster.producer({ transactionalId: `${prefix}-${slot}-0`, idempotent: true, maxInFlightRequests: 1 })),
  );
  const plain = await cluster.producer();
  const expected = await interleaveTransactions(producers, plain, topic);
  assert.ok(expected.length > 20, `enough committed records (${expected.length})`);

  const target = new CollectTarget<{ v: string; offset: number }>();
  const job = defineJob({ name: 'source-transactions', parallelism: 1, checkpoints: { intervalMs: 100 } }, (env) => {
    env
      .source(kafkaSource<Tagged>({ brokers: cluster.brokers, topics: [topic], format: 'json', discoveryIntervalMs: 60_000 }))
      .uid('kafka')
      .map((r) => ({ v: r.value.v, offset: r.offset }))
      .sink(collectSink(target));
  });
  await runUntil({ job, dataDir: await tempDir(t) }, async (runner) => {
    await waitFor(() => target.records.length >= expected.length, {
      timeoutMs: 20_000,
      message: `${expected.length} committed records`,
      describe: () => ({ seen: target.records.length }),
    });
    // More checkpoints: nothing else (an aborted record) arrives later.
    await checkpointsCompleted(runner, 2);
  });
  assert.deepEqual(
    target.records.map((r) => r.v),
    expected,
  );
  const offsets = target.records.map((r) => r.offset);
  assert.deepEqual(offsets, [...offsets].sort((a, b) => a - b), 'in offset order');
});

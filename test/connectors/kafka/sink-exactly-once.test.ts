import assert from 'node:assert/strict';
import { test } from 'node:test';
import { datagen } from '../../../connectors/dev/index.ts';
import { kafkaSink } from '../../../connectors/kafka/sink/index.ts';
import { defineJob, type Sink, type SinkWriter } from '../../../runtime/api/index.ts';
import { CheckpointStore } from '../../../runtime/checkpoint/index.ts';
import { JobRunner } from '../../../runtime/runner/index.ts';
import { createLogger } from '../../../runtime/logging/index.ts';
/** `SINK_DEBUG=debug` logs the runner and the sink (pre-commits, commits, restores) to stderr. */
const debugLogger = process.env['SINK_DEBUG'] ? { logger: createLogger({ level: process.env['SINK_DEBUG'], pretty: false }) } : {};
import { kafkaCluster, type KafkaCluster } from '../../support/kafka-cluster.ts';
import { seededRandom } from '../../support/seeded-random.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { waitFor } from '../../support/wait-for.ts';

const SENTINEL = '__end__';
const COMMIT_MARKER_KEY = Buffer.from([0, 0, 0, 1]);

interface TopicContents {
  /** Values of committed records and of non-transactional ones, in partition order. */
  readonly committed: number[];
  /** Values of records in aborted transactions. */
  readonly aborted: number[];
}

/**
 * Everything in `topic`, sorted into committed and aborted records by the transaction markers themselves.
 *
 * Why not simply a read_committed kafkajs consumer: kafkajs 2.2.4's filter of aborted records
 * (consumer/filterAbortedMessages.js) assumes the broker's aborted-transaction list is sorted by first offset and
 * activates at most one entry per message; Kafka lists them in marker order, so with transactions of several
 * producers interleaved in a partition it lets aborted records through and drops committed ones. Here records are
 * read uncommitted, control records included, and each producer's records are held until its COMMIT or ABORT marker.
 *
 * A plain sentinel is written to every partition first; a read_committed consumer must reach it too, which proves no
 * transaction is left open (an open transaction holds the last stable offset back).
 */
async function readTopic(cluster: KafkaCluster, topic: string, partitions: number): Promise<TopicContents> {
  const producer = await cluster.producer();
  await producer.send({ topic, messages: Array.from({ length: partitions }, (_, partition) => ({ partition, value: SENTINEL })) });
  const { records: committedView } = await cluster.collect(topic);
  const raw = new Map<number, Map<number, { value: string | null; producerId: string; inTransaction: boolean; control: boolean; commit: boolean }>>();
  const consumer = await cluster.consumer({ readUncommitted: true });
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachBatch: async ({ batch }) => {
      const byOffset = raw.get(batch.partition) ?? new Map();
      raw.set(batch.partition, byOffset);
      for (const m of (batch as unknown as { rawMessages: unknown }).rawMessages as Array<{ offset: string; value: Buffer | null; key: Buffer | null; isControlRecord?: boolean; batchContext: { producerId: string; inTransaction: boolean } }>) {
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
  const sentinels = () => [...raw.values()].filter((m) => [...m.values()].some((r) => r.value === SENTINEL)).length;
  await waitFor(() => sentinels() === partitions, { timeoutMs: 30_000, message: 'reading every partition to its end' });
  await waitFor(() => new Set(committedView.filter((r) => r.value === SENTINEL).map((r) => r.partition)).size === partitions, {
    timeoutMs: 30_000,
    message: 'a read_committed consumer to reach the end of every partition (an open transaction holds it back)',
  });
  const committed: number[] = [];
  const aborted: number[] = [];
  for (const byOffset of raw.values()) {
    const open = new Map<string, number[]>();
    for (const offset of [...byOffset.keys()].sort((a, b) => a - b)) {
      const r = byOffset.get(offset) as NonNullable<ReturnType<typeof byOffset.get>>;
      if (r.control) {
        const values = open.get(r.producerId) ?? [];
        open.delete(r.producerId);
        (r.commit ? committed : aborted).push(...values);
      } else if (r.value !== SENTINEL) {
        const value = (JSON.parse(r.value as string) as { i: number }).i;
        if (!r.inTransaction) committed.push(value);
        else open.set(r.producerId, [...(open.get(r.producerId) ?? []), value]);
      }
    }
    assert.equal([...open.values()].flat().length, 0, 'no transaction left open');
  }
  return { committed, aborted };
}

function assertExactlyOnce(values: number[], count: number): void {
  const seen = new Set(values);
  assert.equal(seen.size, count, `every record committed (${seen.size} of ${count})`);
  assert.equal(values.length, count, `no record committed twice (${values.length - count} duplicates)`);
}

interface Faults {
  /** Throw after the inner pre-commit of checkpoint `id` (between barrier and acknowledgement). */
  preCommit?: (id: number) => boolean;
  /** Throw before the inner commit of checkpoint `id` (checkpoint stored, commit not run: a crash right there). */
  commit?: (id: number) => boolean;
  /** Close as if the process died: the writer's open transaction is left as it is. */
  crashOnClose?: boolean;
}

function withFaults<T>(inner: Sink<T>, faults: Faults): Sink<T> {
  return {
    name: inner.name,
    createWriter(context): SinkWriter<T> {
      const writer = inner.createWriter(context);
      return {
        start: () => writer.start(),
        write: (records) => writer.write(records),
        preCommit: async (id) => {
          const state = await writer.preCommit(id);
          if (faults.preCommit?.(id) === true) throw new Error(`injected failure after pre-commit of checkpoint ${id}`);
          return state;
        },
        commit: async (id) => {
          if (faults.commit?.(id) === true) throw new Error(`injected failure before commit of checkpoint ${id}`);
          await writer.commit(id);
        },
        finish: () => writer.finish(),
        // 'finished' only disconnects: what is open stays open, as after kill -9.
        close: (outcome) => writer.close(faults.crashOnClose === true ? 'finished' : outcome),
      };
    },
  };
}

test('exactly-once across failures in operators, between pre-commit and ack, in the store write and before commit', async (t) => {
  const cluster = await kafkaCluster(t);
  const topic = await cluster.createTopic({ partitions: 3 });
  const dir = await tempDir(t);
  const store = await CheckpointStore.open(dir);
  t.after(() => store.close());
  const RECORDS = 30_000;
  const random = seededRandom(20261123);
  const mapFailures = new Set([0.2, 0.5, 0.8].map((f) => Math.floor(f * RECORDS + random() * 1_000)));
  let processed = 0;
  let preCommitFailures = 1;
  let storeFailures = 1;
  let commitFailures = 2;
  const injected: string[] = [];
  const sink = withFaults(kafkaSink<{ i: number }>({ brokers: cluster.brokers, topic, key: (r) => String(r.i % 7), guarantee: 'exactly-once', transactionalIdPrefix: cluster.uniqueName('eos'), transactionTimeoutMs: 120_000 }), {
    preCommit: () => {
      if (preCommitFailures > 0 && processed > RECORDS * 0.1 && random() < 0.3) {
        preCommitFailures--;
        injected.push('pre-commit');
        return true;
      }
      return false;
    },
    commit: (id) => {
      if (commitFailures > 0 && processed > RECORDS * (commitFailures === 2 ? 0.3 : 0.6) && random() < 0.3) {
        commitFailures--;
        injected.push(`commit@${id}`);
        return true;
      }
      return false;
    },
  });
  const job = defineJob({ name: 'sink-eos', parallelism: 2, checkpoints: { intervalMs: 40 }, restart: { type: 'fixed-delay', attempts: 20, delayMs: 5 } }, (env) => {
    env
      .source(datagen({ count: RECORDS, splits: 3, batchSize: 250, ratePerSecond: 40_000, record: (i) => ({ i }) }))
      .map((r) => {
        processed++;
        if (mapFailures.delete(r.i)) {
          injected.push(`map@${r.i}`);
          throw new Error(`injected failure at record ${r.i}`);
        }
        return r;
      })
      .sink(sink);
  });
  const runner = new JobRunner({
    job,
    store,
    ...debugLogger,
    beforeCheckpointStore: (id) => {
      if (storeFailures > 0 && processed > RECORDS * 0.4 && random() < 0.3) {
        storeFailures--;
        injected.push(`store@${id}`);
        throw new Error(`injected failure while storing checkpoint ${id}`);
      }
    },
  });
  const failures: string[] = [];
  runner.events.subscribe((e) => {
    if (e.type === 'attempt-failed') failures.push((e.error as Error).message);
  });
  assert.equal(await runner.run(), 'finished');
  assert.ok(injected.length >= 5, `at least 5 injected failures: ${injected.join(', ')}`);
  assert.ok(injected.some((f) => f.startsWith('commit@')), 'a failure hit between checkpoint and commit');
  assert.equal(runner.attempts, injected.length + 1, `every failure was an injected one: ${failures.join(' | ')}`);

  const { committed, aborted } = await readTopic(cluster, topic, 3);
  assertExactlyOnce(committed, RECORDS);
  assert.ok(aborted.length > 0, 'failed attempts left aborted records, which read_uncommitted consumers see');
});

test('a restore commits the pre-committed transactions of the restored checkpoint, also when it restores the same checkpoint twice', async (t) => {
  const cluster = await kafkaCluster(t);
  const topic = await cluster.createTopic({ partitions: 2 });
  const dir = await tempDir(t);
  const store = await CheckpointStore.open(dir);
  t.after(() => store.close());
  const RECORDS = 12_000;
  let processed = 0;
  let failedCommitAt: number | undefined;
  let storeFailures = 1;
  const sink = withFaults(kafkaSink<{ i: number }>({ brokers: cluster.brokers, topic, guarantee: 'exactly-once', transactionalIdPrefix: cluster.uniqueName('eos'), transactionTimeoutMs: 120_000 }), {
    // Dies after checkpoint n is durable but before its commit, leaving its transactions open (as after kill -9).
    commit: (id) => {
      if (failedCommitAt === undefined && processed > RECORDS / 3) {
        failedCommitAt = id;
        return true;
      }
      return false;
    },
    crashOnClose: true,
  });
  const job = defineJob({ name: 'sink-eos-recommit', parallelism: 2, checkpoints: { intervalMs: 40 }, restart: { type: 'fixed-delay', attempts: 5, delayMs: 5 } }, (env) => {
    env
      .source(datagen({ count: RECORDS, splits: 2, batchSize: 200, ratePerSecond: 30_000, record: (i) => ({ i }) }))
      .map((r) => {
        processed++;
        return r;
      })
      .sink(sink);
  });
  const restoredFrom: number[] = [];
  const runner = new JobRunner({
    job,
    store,
    // The first checkpoint after the restore fails: the next attempt restores the same checkpoint again, whose
    // transactions the previous restore already committed.
    beforeCheckpointStore: () => {
      if (failedCommitAt !== undefined && storeFailures > 0) {
        storeFailures--;
        throw new Error('injected failure while storing the first checkpoint after the restore');
      }
    },
  });
  runner.events.subscribe((e) => {
    if (e.type === 'attempt-started' && e.restoredFrom !== undefined) restoredFrom.push(e.restoredFrom);
  });
  assert.equal(await runner.run(), 'finished');
  assert.ok(failedCommitAt !== undefined);
  assert.deepEqual(restoredFrom.slice(0, 2), [failedCommitAt, failedCommitAt], 'restored the checkpoint whose commit never ran, twice');
  // Records before barrier n are not replayed (the checkpoint's positions are past them): they are in the output only
  // if the restore committed the transactions of checkpoint n.
  assertExactlyOnce((await readTopic(cluster, topic, 2)).committed, RECORDS);
});

test('rescale p = 3 → 2: old subtasks\' pre-committed transactions are committed and their leftovers aborted', async (t) => {
  const cluster = await kafkaCluster(t);
  const topic = await cluster.createTopic({ partitions: 3 });
  const dir = await tempDir(t);
  const store = await CheckpointStore.open(dir);
  t.after(() => store.close());
  const RECORDS = 20_000;
  const prefix = cluster.uniqueName('eos');
  let processed = 0;
  const build = (parallelism: number, faults: Faults) =>
    defineJob({ name: 'sink-eos-rescale', parallelism, checkpoints: { intervalMs: 40 }, restart: { type: 'none' } }, (env) => {
      env
        .source(datagen({ count: RECORDS, splits: 3, batchSize: 200, ratePerSecond: 30_000, record: (i) => ({ i }) }))
        .map((r) => {
          processed++;
          return r;
        })
        .sink(withFaults(kafkaSink<{ i: number }>({ brokers: cluster.brokers, topic, guarantee: 'exactly-once', transactionalIdPrefix: prefix, transactionTimeoutMs: 120_000 }), faults));
    });

  // p = 3 dies between a durable checkpoint and its commit, leaving pre-committed and open transactions behind.
  let failedAt: number | undefined;
  const first = new JobRunner({
    job: build(3, {
      commit: (id) => {
        if (processed > RECORDS / 3) failedAt ??= id;
        return failedAt !== undefined;
      },
      crashOnClose: true,
    }),
    store,
  });
  await assert.rejects(first.run(), /injected failure before commit/);
  assert.ok(failedAt !== undefined);

  const second = new JobRunner({ job: build(2, {}), store });
  const started: Array<number | undefined> = [];
  second.events.subscribe((e) => {
    if (e.type === 'attempt-started') started.push(e.restoredFrom);
  });
  assert.equal(await second.run(), 'finished');
  assert.deepEqual(started, [failedAt]);
  // The sentinel read fails if a transaction of old subtask 2 (no longer running) was left open.
  assertExactlyOnce((await readTopic(cluster, topic, 3)).committed, RECORDS);
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { datagen } from '../../../connectors/dev/index.ts';
import { kafkaSink } from '../../../connectors/kafka/sink/index.ts';
import { defineJob } from '../../../runtime/api/index.ts';
import { CheckpointStore } from '../../../runtime/checkpoint/index.ts';
import { JobRunner } from '../../../runtime/runner/index.ts';
import { createLogger } from '../../../runtime/logging/index.ts';
import { assertOnlyInjectedFailures, failedAttempts } from '../../support/injected-failures.ts';
import { kafkaCluster, type KafkaCluster } from '../../support/kafka-cluster.ts';
import { readCommitted } from '../../support/kafka-committed.ts';
import { seededRandom } from '../../support/seeded-random.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { withSinkFaults, type SinkFaults } from '../../support/faulty-sink.ts';

/** `SINK_DEBUG=debug` logs the runner and the sink (pre-commits, commits, restores) to stderr. */
const debugLogger = process.env['SINK_DEBUG'] ? { logger: createLogger({ level: process.env['SINK_DEBUG'], pretty: false }) } : {};

interface TopicContents {
  /** Values of committed records and of non-transactional ones, in partition order. */
  readonly committed: number[];
  /** Values of records in aborted transactions. */
  readonly aborted: number[];
}

/** Values (`i`) of the topic's committed and aborted records, read by the transaction markers themselves. */
async function readTopic(cluster: KafkaCluster, topic: string, partitions: number): Promise<TopicContents> {
  const { committed, aborted } = await readCommitted(cluster, topic, partitions);
  const indexOf = (record: { value: string }): number => (JSON.parse(record.value) as { i: number }).i;
  return { committed: committed.map(indexOf), aborted: aborted.map(indexOf) };
}

function assertExactlyOnce(values: number[], count: number): void {
  const seen = new Set(values);
  assert.equal(seen.size, count, `every record committed (${seen.size} of ${count})`);
  assert.equal(values.length, count, `no record committed twice (${values.length - count} duplicates)`);
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
  const sink = withSinkFaults(kafkaSink<{ i: number }>({ brokers: cluster.brokers, topic, key: (r) => String(r.i % 7), guarantee: 'exactly-once', transactionalIdPrefix: cluster.uniqueName('eos'), transactionTimeoutMs: 120_000 }), {
    // Pre-commit and store failures fire deterministically (not by chance) because they are what leaves flushed
    // records in aborted transactions: a map failure usually hits an open transaction whose records are still
    // buffered (fewer than a send batch), so it may abort nothing, and the assertion on `aborted` below needs them.
    preCommit: () => {
      if (preCommitFailures > 0 && processed > RECORDS * 0.1) {
        preCommitFailures--;
        injected.push('pre-commit');
        return true;
      }
      return false;
    },
    commit: (id) => {
      if (commitFailures > 0 && processed > RECORDS * (commitFailures === 2 ? 0.3 : 0.6)) {
        commitFailures--;
        injected.push(`commit@${id}`);
        return true;
      }
      return false;
    },
  });
  const job = defineJob({ name: 'sink-eos', parallelism: 2, checkpoints: { intervalMs: 40, timeoutMs: 60_000 }, restart: { type: 'fixed-delay', attempts: 20, delayMs: 5 } }, (env) => {
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
      if (storeFailures > 0 && processed > RECORDS * 0.4) {
        storeFailures--;
        injected.push(`store@${id}`);
        throw new Error(`injected failure while storing checkpoint ${id}`);
      }
    },
  });
  const failures = failedAttempts(runner);
  assert.equal(await runner.run(), 'finished');
  assert.ok(injected.length >= 5, `at least 5 injected failures: ${injected.join(', ')}`);
  assert.ok(injected.includes('pre-commit') && injected.some((f) => f.startsWith('store@')), `a pre-commit and a store failure: ${injected.join(', ')}`);
  assert.ok(injected.some((f) => f.startsWith('commit@')), 'a failure hit between checkpoint and commit');
  assertOnlyInjectedFailures(runner, failures, injected);

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
  const sink = withSinkFaults(kafkaSink<{ i: number }>({ brokers: cluster.brokers, topic, guarantee: 'exactly-once', transactionalIdPrefix: cluster.uniqueName('eos'), transactionTimeoutMs: 120_000 }), {
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
  const job = defineJob({ name: 'sink-eos-recommit', parallelism: 2, checkpoints: { intervalMs: 40, timeoutMs: 60_000 }, restart: { type: 'fixed-delay', attempts: 5, delayMs: 5 } }, (env) => {
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
  const build = (parallelism: number, faults: SinkFaults) =>
    defineJob({ name: 'sink-eos-rescale', parallelism, checkpoints: { intervalMs: 40, timeoutMs: 60_000 }, restart: { type: 'none' } }, (env) => {
      env
        .source(datagen({ count: RECORDS, splits: 3, batchSize: 200, ratePerSecond: 30_000, record: (i) => ({ i }) }))
        .map((r) => {
          processed++;
          return r;
        })
        .sink(withSinkFaults(kafkaSink<{ i: number }>({ brokers: cluster.brokers, topic, guarantee: 'exactly-once', transactionalIdPrefix: prefix, transactionTimeoutMs: 120_000 }), faults));
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

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { JobParams } from '../../../runtime/api/index.ts';
import { CheckpointStore } from '../../../runtime/checkpoint/index.ts';
import { JobRunner } from '../../../runtime/runner/index.ts';
import { createLogger } from '../../../runtime/logging/index.ts';
import { assertOnlyInjectedFailures, failedAttempts } from '../../support/injected-failures.ts';
import { kafkaCluster, type KafkaCluster } from '../../support/kafka-cluster.ts';
import { readCommitted } from '../../support/kafka-committed.ts';
import { seededRandom } from '../../support/seeded-random.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { DATAGEN_TO_KAFKA_MODULE, datagenToKafka } from './fixtures/datagen-to-kafka.ts';
import { firedFaults, storeFault } from './fixtures/seeded-faults.ts';

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

/** Fresh store and fault-marker directory of a test. */
async function dirs(t: import('node:test').TestContext): Promise<{ store: CheckpointStore; faults: string }> {
  const dir = await tempDir(t);
  const store = await CheckpointStore.open(join(dir, 'data'));
  t.after(() => store.close());
  const faults = join(dir, 'faults');
  await mkdir(faults);
  return { store, faults };
}

/** Records the last completed checkpoint's datagen positions are past, over all splits of `records`. */
function checkpointed(runner: JobRunner, records: number, splits: number): number {
  const positions = runner.lastCheckpoint?.sourcePositions['numbers'] ?? [];
  return positions.reduce((n, p) => n + Number(p.position) - Math.floor((Number(p.split.slice('datagen-'.length)) * records) / splits), 0);
}

/** The fixture job's params: datagen of `records` over `splits`, exactly-once into `topic`. */
function jobParams(cluster: KafkaCluster, topic: string, settings: Record<string, string | number>): JobParams {
  return new JobParams([
    ['brokers', cluster.brokers.join(',')],
    ['topic', topic],
    ['txnPrefix', cluster.uniqueName('eos')],
    ...Object.entries(settings).map(([k, v]): [string, string] => [k, String(v)]),
  ]);
}

for (const workers of [0, 2]) {
  test(`exactly-once across failures in operators, between pre-commit and ack, in the store write and before commit (workers ${workers})`, async (t) => {
    const cluster = await kafkaCluster(t);
    const topic = await cluster.createTopic({ partitions: 3 });
    const { store, faults } = await dirs(t);
    const RECORDS = 30_000;
    const random = seededRandom(20261123);
    const mapFailures = [0.2, 0.5, 0.8].map((f) => Math.floor(f * RECORDS + random() * 1_000));
    // Pre-commit and store failures fire deterministically (not by chance) because they are what leaves flushed
    // records in aborted transactions: a map failure usually hits an open transaction whose records are still
    // buffered (fewer than a send batch), so it may abort nothing, and the assertion on `aborted` below needs them.
    // The faults are params of the job module (fixtures/seeded-faults.ts), so worker threads fail at the same points.
    const params = jobParams(cluster, topic, {
      records: RECORDS, splits: 3, batchSize: 250, rate: 40_000, keyed: 'true',
      faults, failRecords: mapFailures.join(','), preCommitAfter: RECORDS * 0.1, commitAfter: `${RECORDS * 0.3},${RECORDS * 0.6}`,
    });
    const runner: JobRunner = new JobRunner({
      job: datagenToKafka,
      params,
      store,
      workers,
      jobModule: DATAGEN_TO_KAFKA_MODULE,
      ...debugLogger,
      beforeCheckpointStore: storeFault(faults, () => checkpointed(runner, RECORDS, 3) > RECORDS * 0.4),
    });
    const failures = failedAttempts(runner);
    assert.equal(await runner.run(), 'finished');
    assert.equal(runner.workers, workers, 'ran on the workers asked for');
    const injected = firedFaults(faults);
    assert.ok(injected.length >= 5, `at least 5 injected failures: ${injected.join(', ')}`);
    assert.ok(injected.some((f) => f.startsWith('pre-commit@')) && injected.some((f) => f.startsWith('store@')), `a pre-commit and a store failure: ${injected.join(', ')}`);
    assert.ok(injected.some((f) => f.startsWith('commit@')), 'a failure hit between checkpoint and commit');
    assertOnlyInjectedFailures(runner, failures, injected);

    const { committed, aborted } = await readTopic(cluster, topic, 3);
    assertExactlyOnce(committed, RECORDS);
    assert.ok(aborted.length > 0, 'failed attempts left aborted records, which read_uncommitted consumers see');
  });

  test(`a restore commits the pre-committed transactions of the restored checkpoint, also when it restores the same checkpoint twice (workers ${workers})`, async (t) => {
    const cluster = await kafkaCluster(t);
    const topic = await cluster.createTopic({ partitions: 2 });
    const { store, faults } = await dirs(t);
    const RECORDS = 12_000;
    // Dies after checkpoint n is durable but before its commit, leaving its transactions open (as after kill -9).
    const params = jobParams(cluster, topic, { records: RECORDS, splits: 2, batchSize: 200, rate: 30_000, faults, commitAfter: RECORDS / 3, crashOnClose: 'true' });
    const failedCommitAt = (): number | undefined => {
      const fired = firedFaults(faults).find((f) => f.startsWith('commit@'));
      return fired === undefined ? undefined : Number(fired.slice('commit@'.length));
    };
    const restoredFrom: number[] = [];
    const runner = new JobRunner({
      job: datagenToKafka,
      params,
      store,
      workers,
      jobModule: DATAGEN_TO_KAFKA_MODULE,
      restartStrategy: { type: 'fixed-delay', attempts: 5, delayMs: 5 },
      // The first checkpoint after the restore fails: the next attempt restores the same checkpoint again, whose
      // transactions the previous restore already committed.
      beforeCheckpointStore: storeFault(faults, () => failedCommitAt() !== undefined && restoredFrom.includes(failedCommitAt() as number)),
    });
    runner.events.subscribe((e) => {
      if (e.type === 'attempt-started' && e.restoredFrom !== undefined) restoredFrom.push(e.restoredFrom);
    });
    assert.equal(await runner.run(), 'finished');
    assert.equal(runner.workers, workers, 'ran on the workers asked for');
    const failedAt = failedCommitAt();
    assert.ok(failedAt !== undefined);
    assert.deepEqual(restoredFrom.slice(0, 2), [failedAt, failedAt], 'restored the checkpoint whose commit never ran, twice');
    // Records before barrier n are not replayed (the checkpoint's positions are past them): they are in the output only
    // if the restore committed the transactions of checkpoint n.
    assertExactlyOnce((await readTopic(cluster, topic, 2)).committed, RECORDS);
  });

  test(`rescale p = 3 → 2: old subtasks' pre-committed transactions are committed and their leftovers aborted (workers ${workers})`, async (t) => {
    const cluster = await kafkaCluster(t);
    const topic = await cluster.createTopic({ partitions: 3 });
    const { store, faults } = await dirs(t);
    const RECORDS = 20_000;
    const common = { records: RECORDS, splits: 3, batchSize: 200, rate: 30_000 };
    const params = jobParams(cluster, topic, common);
    const run = (parallelism: number, settings: Record<string, string | number>) =>
      new JobRunner({
        job: datagenToKafka,
        params: new JobParams([...params.entries(), ...Object.entries(settings).map(([k, v]): [string, string] => [k, String(v)])]),
        store,
        parallelism,
        workers,
        jobModule: DATAGEN_TO_KAFKA_MODULE,
        restartStrategy: { type: 'none' },
      });

    // p = 3 dies between a durable checkpoint and its commit, leaving pre-committed and open transactions behind.
    const first = run(3, { faults, commitFailFrom: RECORDS / 3, crashOnClose: 'true' });
    await assert.rejects(first.run(), /injected failure before commit/);
    const fired = firedFaults(faults).find((f) => f.startsWith('commit@'));
    assert.ok(fired !== undefined);
    const failedAt = Number(fired.slice('commit@'.length));

    const second = run(2, {});
    const started: Array<number | undefined> = [];
    second.events.subscribe((e) => {
      if (e.type === 'attempt-started') started.push(e.restoredFrom);
    });
    assert.equal(await second.run(), 'finished');
    assert.equal(second.workers, workers, 'ran on the workers asked for');
    assert.deepEqual(started, [failedAt]);
    // The sentinel read fails if a transaction of old subtask 2 (no longer running) was left open.
    assertExactlyOnce((await readTopic(cluster, topic, 3)).committed, RECORDS);
  });
}

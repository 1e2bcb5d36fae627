import assert from 'node:assert/strict';
import { test } from 'node:test';
import { collectSink, CollectTarget } from '../../../connectors/dev/index.ts';
import { kafkaSource } from '../../../connectors/kafka/index.ts';
import { defineJob } from '../../../runtime/api/index.ts';
import { isSluiceError } from '../../../runtime/errors/index.ts';
import { devstackOnly, kafkaCluster } from '../../support/kafka-cluster.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { waitFor } from '../../support/wait-for.ts';
import { checkpointsCompleted, produceNumbered, runUntil, tally, type Numbered } from './source-test-support.ts';

test('broker down past the retry budget, then restarted from its data directory: the job fails over and ends exactly once', { skip: devstackOnly('stops and restarts the broker') }, async (t) => {
  const cluster = await kafkaCluster(t, { persistent: true });
  const topic = await cluster.createTopic({ partitions: 4, prefix: 'restart' });
  await produceNumbered(await cluster.producer(), topic, 4, 0, 2_000);
  const target = new CollectTarget<number>();
  const failures: unknown[] = [];
  const job = defineJob(
    { name: 'broker-restart', parallelism: 2, checkpoints: { intervalMs: 100 }, restart: { type: 'fixed-delay', attempts: 100, delayMs: 200 } },
    (env) => {
      env
        .source(
          kafkaSource<Numbered>({
            brokers: cluster.brokers,
            topics: [topic],
            format: 'json',
            connectionTimeoutMs: 300,
            requestTimeoutMs: 2_000,
            retry: { retries: 2, initialRetryTimeMs: 50, maxRetryTimeMs: 200 },
          }),
        )
        .uid('kafka')
        .map((r) => r.value.i)
        .sink(collectSink(target));
    },
  );
  await runUntil({ job, dataDir: await tempDir(t) }, async (runner) => {
    runner.events.subscribe((e) => {
      if (e.type === 'attempt-failed') failures.push(e.error);
    });
    await waitFor(() => target.records.length >= 2_000, { timeoutMs: 20_000, message: 'the first records' });
    const broker = cluster.devstack!;
    broker.faults.refuseConnections(60_000);
    broker.faults.dropConnections();
    await waitFor(() => failures.some((e) => isSluiceError(e, 'SLUICE_KAFKA_UNREACHABLE')), {
      timeoutMs: 30_000,
      message: 'an attempt failing with SLUICE_KAFKA_UNREACHABLE',
      describe: () => failures.map((e) => String(e)),
    });
    await cluster.restart();
    await produceNumbered(await cluster.producer(), topic, 4, 2_000, 3_000);
    await waitFor(() => target.records.length >= 3_000, {
      timeoutMs: 30_000,
      message: 'records written after the restart',
      describe: () => ({ committed: target.records.length, attempts: runner.attempts }),
    });
    await checkpointsCompleted(runner, 2);
  });
  const { distinct, duplicates } = tally(target.records);
  assert.deepEqual(duplicates, []);
  assert.equal(distinct, 3_000);
});

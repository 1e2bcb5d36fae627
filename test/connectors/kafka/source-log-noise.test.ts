// A job that only reads Kafka must not log kafkajs warnings about settings Sluice chose (the default partitioner of
// its offset-commit producer, that producer's limited retries): they alarm users about nothing of theirs.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Partitioners } from 'kafkajs';
import { pino } from 'pino';
import { collectSink, CollectTarget } from '../../../connectors/dev/index.ts';
import { kafkaSource } from '../../../connectors/kafka/index.ts';
import { defineJob } from '../../../runtime/api/index.ts';
import { kafkaCluster } from '../../support/kafka-cluster.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { waitFor } from '../../support/wait-for.ts';
import { checkpointsCompleted, produceNumbered, runUntil, type Numbered } from './source-test-support.ts';

test('a Kafka source job logs no kafkajs warning about Sluice’s own client settings', async (t) => {
  const cluster = await kafkaCluster(t);
  const topic = await cluster.createTopic({ partitions: 2, prefix: 'noise' });
  // kafkajs warns about the partitioner once per process: this producer names it so the job's clients are the test.
  const producer = await cluster.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await produceNumbered(producer, topic, 2, 0, 500);
  const lines: Array<{ level: number; msg: string }> = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as { level: number; msg: string }) });
  const target = new CollectTarget<number>();
  const groupId = cluster.uniqueName('noise-group');
  const job = defineJob({ name: 'log-noise', parallelism: 2, checkpoints: { intervalMs: 100 } }, (env) => {
    env
      .source(kafkaSource<Numbered>({ brokers: cluster.brokers, topics: [topic], format: 'json', groupId }))
      .uid('kafka')
      .map((r) => r.value.i)
      .sink(collectSink(target));
  });
  const admin = await cluster.admin();
  await runUntil({ job, logger, dataDir: await tempDir(t) }, async (runner) => {
    await waitFor(() => target.records.length === 500, { timeoutMs: 30_000, message: 'every record read' });
    await checkpointsCompleted(runner, 2);
    // The offset committer (the producer the warnings came from) has run once offsets reach the group.
    await waitFor(async () => (await admin.fetchOffsets({ groupId, topics: [topic] }))[0]?.partitions.every((p) => p.offset === '250'), {
      timeoutMs: 20_000,
      message: 'offsets committed to the group',
    });
  });
  const noise = lines.filter((l) => l.level >= 30 && /partitioner|Limiting retries/i.test(l.msg));
  assert.deepEqual(noise.map((l) => l.msg), [], 'no kafkajs warning about the partitioner or the committer’s retries');
});

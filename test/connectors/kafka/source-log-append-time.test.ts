import assert from 'node:assert/strict';
import { test } from 'node:test';
import { collectSink, CollectTarget } from '../../../connectors/dev/index.ts';
import { kafkaSource } from '../../../connectors/kafka/index.ts';
import { defineJob } from '../../../runtime/api/index.ts';
import { kafkaCluster } from '../../support/kafka-cluster.ts';
import { waitFor } from '../../support/wait-for.ts';
import { runUntil } from './source-test-support.ts';

test('records of a LogAppendTime topic carry the broker\'s append time, not the producer\'s timestamp', async (t) => {
  const cluster = await kafkaCluster(t);
  const topic = await cluster.createTopic({ configs: { 'message.timestamp.type': 'LogAppendTime' } });
  const producer = await cluster.producer();
  const appended: number[] = [];
  for (const batch of [['a', 'b'], ['c']]) {
    const [meta] = await producer.send({ topic, messages: batch.map((value) => ({ value, timestamp: '1000' })) });
    appended.push(Number(meta!.logAppendTime));
  }

  const target = new CollectTarget<[string, number]>();
  const job = defineJob({ name: 'log-append-time', parallelism: 1 }, (env) => {
    env
      .source(kafkaSource<string>({ brokers: cluster.brokers, topics: [topic], format: 'string' }))
      .map((r): [string, number] => [r.value, r.timestamp])
      .sink(collectSink(target));
  });
  await runUntil({ job }, () => waitFor(() => target.records.length >= 3, { timeoutMs: 20_000, message: 'the three records' }));
  assert.deepEqual(target.records, [['a', appended[0]], ['b', appended[0]], ['c', appended[1]]]);
});

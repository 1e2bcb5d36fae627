import assert from 'node:assert/strict';
import { test } from 'node:test';
import { collection } from '../../../connectors/dev/index.ts';
import { checkTransactionTimeout, kafkaSink, type KafkaSinkOptions } from '../../../connectors/kafka/sink/index.ts';
import { defineJob, type SinkWriterContext } from '../../../runtime/api/index.ts';
import { JobRunner } from '../../../runtime/runner/index.ts';
import { kafkaCluster } from '../../support/kafka-cluster.ts';
import { sinkWriterContext } from '../../support/sink-writer-context.ts';

const base: KafkaSinkOptions<unknown> = { brokers: ['127.0.0.1:9092'], topic: 'out' };

function context(overrides: Partial<SinkWriterContext> & Record<string, unknown> = {}): SinkWriterContext {
  return sinkWriterContext({ job: 'options-test', ...overrides });
}

const invalid: Array<[string, Record<string, unknown>, RegExp]> = [
  ['no brokers', { brokers: [] }, /"brokers" must be a non-empty array of "host:port"/],
  ['a broker without port', { brokers: ['localhost'] }, /"brokers"/],
  ['neither topic nor topicFn', { topic: undefined }, /exactly one of the two/],
  ['both topic and topicFn', { topicFn: () => 'x' }, /exactly one of the two/],
  ['an illegal topic name', { topic: 'a b' }, /"topic" must be a Kafka topic name/],
  ['key not a function', { key: 'customer' }, /"key" must be a function/],
  ['serializer not a function', { serializer: 1 }, /"serializer" must be a function/],
  ['an unknown guarantee', { guarantee: 'exactly-twice' }, /"guarantee" must be one of "at-least-once", "exactly-once"/],
  ['a prefix without exactly-once', { transactionalIdPrefix: 'p' }, /used only with guarantee "exactly-once"/],
  ['a bad prefix', { guarantee: 'exactly-once', transactionalIdPrefix: 'a/b' }, /"transactionalIdPrefix"/],
  ['a zero transaction timeout', { transactionTimeoutMs: 0 }, /"transactionTimeoutMs" must be a positive integer, got 0/],
  ['a fractional batch size', { batchSize: 1.5 }, /"batchSize" must be a positive integer/],
  ['negative retries', { retry: { retries: -1 } }, /"retry.retries" must be a non-negative integer/],
];

for (const [what, options, message] of invalid) {
  test(`kafkaSink rejects ${what} when the job is defined`, () => {
    assert.throws(() => kafkaSink({ ...base, ...options } as KafkaSinkOptions<unknown>), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'SLUICE_INVALID_OPTION');
      assert.match(err.message, message);
      return true;
    });
  });
}

test('exactly-once without checkpoints fails at start and says to enable checkpoints', async () => {
  const writer = kafkaSink({ ...base, guarantee: 'exactly-once' }).createWriter(context({ checkpointing: false }));
  await assert.rejects(writer.start(), { code: 'SLUICE_INVALID_OPTION', message: /takes no checkpoints.*set checkpoints: \{ intervalMs \}/ });
});

test('exactly-once in a job without checkpoints fails the job with that error', async () => {
  const job = defineJob({ name: 'eos-no-checkpoints' }, (env) => {
    env.source(collection([1])).sink(kafkaSink<number>({ ...base, guarantee: 'exactly-once' }));
  });
  await assert.rejects(new JobRunner({ job }).run(), /takes no checkpoints/);
});

test('transactionTimeoutMs must cover checkpoint interval + timeout + restart delay', async () => {
  assert.doesNotThrow(() => checkTransactionTimeout(900_000, { intervalMs: 10_000, timeoutMs: 600_000, maxRestartDelayMs: 60_000 }, 'j'));
  assert.throws(() => checkTransactionTimeout(60_000, { intervalMs: 10_000, timeoutMs: 600_000, maxRestartDelayMs: 60_000 }, 'j'), {
    code: 'SLUICE_INVALID_OPTION',
    message: /transactionTimeoutMs 60000 cannot cover .* = 670000 ms.*Raise transactionTimeoutMs to at least 670000/,
  });
  // A writer checks it at start, before connecting, when the runtime passes the job's checkpoint timing.
  const writer = kafkaSink({ ...base, guarantee: 'exactly-once', transactionTimeoutMs: 60_000 }).createWriter(
    context({ checkpointTiming: { intervalMs: 10_000, timeoutMs: 600_000, maxRestartDelayMs: 60_000 } }),
  );
  await assert.rejects(writer.start(), { code: 'SLUICE_INVALID_OPTION', message: /cannot cover/ });
});

test('a transaction timeout above the broker\'s transaction.max.timeout.ms fails at start with what to change', async (t) => {
  const cluster = await kafkaCluster(t);
  const topic = await cluster.createTopic();
  const writer = kafkaSink({ brokers: cluster.brokers, topic, guarantee: 'exactly-once', transactionalIdPrefix: cluster.uniqueName('eos'), transactionTimeoutMs: 900_001 }).createWriter(context());
  // cluster.defer, not t.after: the writer must disconnect before the broker closes (t.after would run after it).
  cluster.defer(() => writer.close('failed'));
  await assert.rejects(writer.start(), { code: 'SLUICE_INVALID_OPTION', message: /larger than the broker's transaction.max.timeout.ms/ });
});

for (const guarantee of ['at-least-once', 'exactly-once'] as const) {
  test(`${guarantee}: an unreachable broker at start is a clear, retriable error`, async (t) => {
    const writer = kafkaSink({ brokers: ['127.0.0.1:1'], topic: 'out', guarantee, retry: { retries: 1, initialRetryTimeMs: 50 }, connectionTimeoutMs: 500 }).createWriter(context());
    t.after(() => writer.close('failed'));
    await assert.rejects(writer.start(), (err: Error & { code?: string; retriable?: boolean }) => {
      assert.equal(err.code, 'SLUICE_KAFKA_UNREACHABLE');
      assert.equal(err.retriable, true);
      assert.match(err.message, /could not connect to Kafka at 127\.0\.0\.1:1.*check "brokers" and that Kafka is running/);
      return true;
    });
  });
}

import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { collectSink } from '../../../connectors/dev/index.ts';
import { kafkaSource, type KafkaSourceOptions } from '../../../connectors/kafka/index.ts';
import { defineJob } from '../../../runtime/api/index.ts';
import { isSluiceError } from '../../../runtime/errors/index.ts';
import { JobRunner } from '../../../runtime/runner/index.ts';

const good: KafkaSourceOptions<unknown> = { brokers: ['localhost:9092'], topics: ['orders'], format: 'json' };

const bad: Array<[string, Record<string, unknown>, RegExp]> = [
  ['no brokers', { brokers: [] }, /"brokers" must be a non-empty array of "host:port"/],
  ['broker without port', { brokers: ['localhost'] }, /"brokers"/],
  ['both topics and pattern', { topicPattern: /x/ }, /exactly one of the two.*got "both"/],
  ['neither topics nor pattern', { topics: undefined }, /"topics" must be given, or else "topicPattern".*got "neither"/],
  ['empty topics', { topics: [] }, /"topics" must be a non-empty array/],
  ['invalid topic name', { topics: ['orders', 'bad topic'] }, /topic names of 1–249 characters.*got "bad topic"/],
  ['pattern not a RegExp', { topics: undefined, topicPattern: 'orders.*' }, /"topicPattern" must be a RegExp/],
  ['unknown startFrom', { startFrom: 'beginning' }, /"startFrom" must be 'earliest', 'latest', 'committed' or \{ timestamp/],
  ['negative timestamp', { startFrom: { timestamp: -1 } }, /"startFrom"/],
  ['unknown format', { format: 'avro' }, /"format" must be 'json', 'string', 'bytes' or a function/],
  ['dead letter not a sink', { onDeserializationError: { deadLetter: {} } }, /"onDeserializationError" must be 'fail', 'skip' or \{ deadLetter/],
  ['zero discovery interval', { discoveryIntervalMs: 0 }, /"discoveryIntervalMs" must be an integer ≥ 10; got 0/],
  ['fractional buffer', { bufferBytes: 1.5 }, /"bufferBytes" must be an integer ≥ 1; got 1.5/],
  ['negative retries', { retry: { retries: -1 } }, /"retry.retries" must be an integer ≥ 0/],
  ['empty group id', { groupId: '' }, /"groupId" must be a non-empty string/],
];

for (const [what, change, message] of bad) {
  test(`bad option, ${what}: a SLUICE_INVALID_OPTION error naming it`, () => {
    assert.throws(
      () => kafkaSource({ ...good, ...change } as KafkaSourceOptions<unknown>),
      (err: unknown) => isSluiceError(err, 'SLUICE_INVALID_OPTION') && message.test(err.message),
    );
  });
}

test('good options build an unbounded source', () => {
  const source = kafkaSource({ ...good, startFrom: { timestamp: 0 }, format: (v) => v?.length ?? 0, onDeserializationError: { deadLetter: collectSink() } });
  assert.equal(source.bounded, false);
  assert.equal(source.name, 'kafka');
});

test('unreachable brokers: the job fails with SLUICE_KAFKA_UNREACHABLE naming the brokers, after the retries', async () => {
  // A port that was free a moment ago: connections are refused.
  const port = await new Promise<number>((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
  const job = defineJob({ name: 'unreachable', parallelism: 1 }, (env) => {
    env
      .source(kafkaSource({ brokers: [`127.0.0.1:${port}`], topics: ['orders'], format: 'string', connectionTimeoutMs: 200, retry: { retries: 2, initialRetryTimeMs: 20, maxRetryTimeMs: 50 } }))
      .sink(collectSink());
  });
  await assert.rejects(new JobRunner({ job }).run(), (err: unknown) => {
    assert.ok(isSluiceError(err, 'SLUICE_KAFKA_UNREACHABLE'), String(err));
    assert.match(err.message, new RegExp(`Kafka brokers 127\\.0\\.0\\.1:${port} unreachable`));
    assert.match(err.message, /check that the brokers are running/);
    return true;
  });
});

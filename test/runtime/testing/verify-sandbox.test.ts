import assert from 'node:assert/strict';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { collection, consoleSink, fileSink } from '../../../connectors/dev/index.ts';
import { elasticsearchSink } from '../../../connectors/elasticsearch/index.ts';
import { kafkaSink, kafkaSource } from '../../../connectors/kafka/index.ts';
import { defineJob, type Sink, type Source } from '../../../runtime/api/index.ts';
import { buildPhysicalPlan } from '../../../runtime/graph/index.ts';
import { checkInputs, checkVerifiable, nothingToCompare } from '../../../runtime/testing/verify-sandbox.ts';

const SANDBOX = { brokers: ['127.0.0.1:40001'], esNode: 'http://127.0.0.1:40002', outDir: resolve('/tmp/sluice-verify-x') };

function planOf(source: Source<unknown>, sink: Sink<unknown>) {
  return buildPhysicalPlan(defineJob({ name: 'sandboxed' }, (env) => env.source(source).uid('in').sink(sink).uid('out')));
}

const numbers = collection([1, 2, 3]) as Source<unknown>;

test('verify sandbox: sinks and sources on the devstack and under outDir pass, whatever the spelling of the same place', () => {
  const inside: Array<Sink<unknown>> = [
    kafkaSink({ brokers: SANDBOX.brokers, topic: 'out' }),
    elasticsearchSink({ node: `${SANDBOX.esNode}/`, index: 'docs', id: () => 'x' }) as Sink<unknown>,
    fileSink({ directory: join(SANDBOX.outDir, 'totals') }),
    fileSink({ directory: SANDBOX.outDir }),
    consoleSink(),
  ];
  for (const sink of inside) assert.doesNotThrow(() => checkVerifiable(planOf(numbers, sink), SANDBOX), sink.name);
  const source = kafkaSource({ brokers: SANDBOX.brokers, topics: ['in'], format: 'json' }) as Source<unknown>;
  assert.doesNotThrow(() => checkVerifiable(planOf(source, fileSink({ directory: join(SANDBOX.outDir, 'a') })), SANDBOX));
});

test('verify sandbox: a sink or source that names another broker, node or path is refused, named, with the fix', () => {
  const refused = (source: Source<unknown>, sink: Sink<unknown>, where: RegExp): void =>
    assert.throws(
      () => checkVerifiable(planOf(source, sink), SANDBOX),
      (err: Error & { code?: string }) => {
        assert.equal(err.code, 'SLUICE_VERIFY_OUTSIDE_DEVSTACK');
        assert.match(err.message, where);
        assert.match(err.message, /params\.string\('brokers'\), params\.string\('esNode'\), and paths under params\.string\('outDir'\)/);
        return true;
      },
    );
  refused(numbers, fileSink({ directory: 'out/totals' }), new RegExp(`sink "out" \\(file\\) writes to ${resolve('out/totals')}, outside the run's directory`));
  refused(numbers, fileSink({ directory: `${SANDBOX.outDir}-other` }), /sink "out" \(file\) writes to \/tmp\/sluice-verify-x-other/);
  refused(numbers, kafkaSink({ brokers: ['localhost:9092'], topic: 'out' }), /sink "out" \(kafka\) writes to Kafka at localhost:9092, not the devstack's broker \(127\.0\.0\.1:40001\)/);
  refused(numbers, elasticsearchSink({ node: 'https://prod:9200', index: 'docs', id: () => 'x' }) as Sink<unknown>, /writes to Elasticsearch at https:\/\/prod:9200/);
  refused(
    numbers,
    elasticsearchSink({ node: SANDBOX.esNode, index: 'docs', id: () => 'x', deadLetter: { file: '/var/log/rejected.ndjson' } }) as Sink<unknown>,
    /sink "out" \(elasticsearch\) writes to \/var\/log\/rejected\.ndjson/,
  );
  // A source reads there and commits its offsets there; its dead letters count as well.
  refused(kafkaSource({ brokers: ['prod:9092'], topics: ['in'], format: 'json' }) as Source<unknown>, consoleSink(), /source "in" \(kafka\) uses Kafka at prod:9092/);
  const deadLetters = kafkaSource({ brokers: SANDBOX.brokers, topics: ['in'], format: 'json', onDeserializationError: { deadLetter: kafkaSink({ brokers: ['prod:9092'], topic: 'dlq' }) } });
  refused(deadLetters as Source<unknown>, consoleSink(), /source "in" \(kafka\) uses Kafka at prod:9092/);
});

test('verify sandbox: the error for a clean run with nothing to compare names the job and its sinks', () => {
  const err = nothingToCompare(planOf(numbers, consoleSink()));
  assert.equal(err.code, 'SLUICE_VERIFY_NOTHING_TO_COMPARE');
  assert.match(err.message, /verify cannot check job "sandboxed": its clean run wrote nothing verify can read \(sinks: sink "out" \(console\)\)/);
});

test('verify sandbox: a job reading Kafka needs input records; one reading generated data does not', () => {
  const reading = planOf(kafkaSource({ brokers: SANDBOX.brokers, topics: ['clicks'], format: 'json' }) as Source<unknown>, consoleSink());
  assert.throws(() => checkInputs(reading, []), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'SLUICE_VERIFY_NO_INPUT');
    assert.match(err.message, /verify needs the records job "sandboxed" reads from Kafka \(source "in" \(kafka\)\): pass each topic's records as a file of JSON lines, --input <topic>=<file\.jsonl>/);
    return true;
  });
  assert.doesNotThrow(() => checkInputs(reading, ['clicks']));
  assert.doesNotThrow(() => checkInputs(planOf(numbers, consoleSink()), []));
});

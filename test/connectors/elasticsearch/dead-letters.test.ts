import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { collection, collectSink, CollectTarget } from '../../../connectors/dev/index.ts';
import { elasticsearchSink, type DeadLetter, type DeadLetterOptions } from '../../../connectors/elasticsearch/index.ts';
import { defineJob } from '../../../runtime/api/index.ts';
import { isSluiceError } from '../../../runtime/errors/index.ts';
import { JobRunner } from '../../../runtime/runner/index.ts';
import { elasticsearchNode, type ElasticsearchTestNode } from '../../support/elasticsearch-node.ts';
import { tempDir } from '../../support/temp-dir.ts';

interface Reading {
  id: string;
  v: number | string;
}

/** 100 readings; every 10th has a value that cannot be a `long`: a mapping conflict Elasticsearch refuses for good. */
const READINGS: Reading[] = Array.from({ length: 100 }, (_, i) => ({ id: `r${i}`, v: i % 10 === 3 ? `not a number ${i}` : i }));
const BAD = READINGS.filter((r) => typeof r.v === 'string');

async function runReadings(es: ElasticsearchTestNode, index: string, deadLetter: DeadLetterOptions<Reading> | undefined) {
  const sink = elasticsearchSink<Reading>({
    node: es.node,
    index,
    id: (r) => r.id,
    createIndex: { mappings: { properties: { v: { type: 'long' } } } },
    bulk: { maxActions: 40 },
    ...(deadLetter === undefined ? {} : { deadLetter }),
  });
  const job = defineJob({ name: 'readings', parallelism: 1 }, (env) => {
    env.source(collection(READINGS, { batchSize: 25 })).sink(sink);
  });
  const runner = new JobRunner({ job });
  const outcome = await runner.run().catch((err: unknown) => err);
  return { outcome, sink };
}

async function indexedIds(es: ElasticsearchTestNode, index: string): Promise<string[]> {
  await es.client().indices.refresh({ index });
  const result = await es.client().search({ index, size: 1_000, query: { match_all: {} } });
  return result.hits.hits.map((h) => h._id as string).sort();
}

const GOOD_IDS = READINGS.filter((r) => typeof r.v === 'number').map((r) => r.id).sort();

function assertDeadLetters(letters: readonly DeadLetter<Reading>[], index: string): void {
  assert.deepEqual(letters.map((l) => l.id).sort(), BAD.map((r) => r.id).sort());
  for (const letter of letters) {
    assert.equal(letter.index, index);
    assert.equal(letter.action, 'index');
    assert.equal(letter.status, 400);
    assert.match(letter.errorType, /^(document_parsing_exception|mapper_parsing_exception)$/);
    assert.match(letter.reason, /\[v\]/, 'the reason names the field');
    assert.deepEqual(letter.record, READINGS.find((r) => r.id === letter.id));
    assert.deepEqual(letter.document, letter.record);
    assert.equal(letter.job, 'readings');
    assert.ok(!Number.isNaN(Date.parse(letter.failedAt)));
  }
}

test('mapping conflicts go to a dead-letter index with the reason; the rest of each bulk is indexed', async (t) => {
  const es = await elasticsearchNode(t);
  const index = es.uniqueIndex('readings');
  const dlq = es.uniqueIndex('readings-dlq');
  const { outcome, sink } = await runReadings(es, index, { index: dlq });
  assert.equal(outcome, 'finished');
  assert.deepEqual(await indexedIds(es, index), GOOD_IDS);
  await es.client().indices.refresh({ index: dlq });
  const letters = await es.client().search<DeadLetter<Reading>>({ index: dlq, size: 100 });
  assertDeadLetters(letters.hits.hits.map((h) => h._source as DeadLetter<Reading>), index);
  assert.equal(sink.metrics().deadLetters, BAD.length);
  assert.equal(sink.metrics().actionsAcknowledged, GOOD_IDS.length);
});

test('mapping conflicts go to a dead-letter file (NDJSON) or any sink', async (t) => {
  const es = await elasticsearchNode(t);
  const file = join(await tempDir(t), 'dead', 'letters.ndjson');
  const toFile = es.uniqueIndex('readings-file');
  assert.equal((await runReadings(es, toFile, { file })).outcome, 'finished');
  assert.deepEqual(await indexedIds(es, toFile), GOOD_IDS);
  const lines = (await readFile(file, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as DeadLetter<Reading>);
  assertDeadLetters(lines, toFile);

  const target = new CollectTarget<DeadLetter<Reading>>();
  const toSink = es.uniqueIndex('readings-sink');
  assert.equal((await runReadings(es, toSink, { sink: collectSink(target) })).outcome, 'finished');
  assert.deepEqual(await indexedIds(es, toSink), GOOD_IDS);
  assertDeadLetters(target.records, toSink);
});

test('without a dead-letter destination a refused document fails the job, naming index, id, error type and reason', async (t) => {
  const es = await elasticsearchNode(t);
  const index = es.uniqueIndex('readings-nodlq');
  const { outcome } = await runReadings(es, index, undefined);
  assert.ok(isSluiceError(outcome, 'SLUICE_OPERATOR_FAILED') && isSluiceError(outcome.cause, 'SLUICE_ES_DOCUMENT_REJECTED'), String(outcome));
  const message = (outcome as Error).message;
  assert.ok(message.includes(`index "${index}"`), message);
  assert.match(message, /id "r\d+": 400 (document_parsing_exception|mapper_parsing_exception): .*\[v\]/);
  assert.match(message, /set the sink's deadLetter option/);
  // The first bulk's good documents were still indexed: only the refused ones are missing, nothing else.
  const ids = await indexedIds(es, index);
  assert.ok(ids.length > 0 && ids.every((id) => GOOD_IDS.includes(id)), ids.join(','));
});

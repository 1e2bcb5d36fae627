import assert from 'node:assert/strict';
import { test } from 'node:test';
import { collection, datagen } from '../../../connectors/dev/index.ts';
import { elasticsearchSink, type ElasticsearchSinkOptions } from '../../../connectors/elasticsearch/index.ts';
import type { KafkaRecord } from '../../../connectors/kafka/kafka-record.ts';
import { defineJob } from '../../../runtime/api/index.ts';
import { isSluiceError } from '../../../runtime/errors/index.ts';
import { JobRunner } from '../../../runtime/runner/index.ts';
import { elasticsearchNode, esDevstackOnly, type ElasticsearchTestNode } from '../../support/elasticsearch-node.ts';

async function runBounded<T>(records: readonly T[], options: ElasticsearchSinkOptions<T>, batchSize = 100) {
  const sink = elasticsearchSink(options);
  const job = defineJob({ name: 'es-semantics', parallelism: 1 }, (env) => {
    env.source(collection(records, { batchSize })).sink(sink);
  });
  const outcome = await new JobRunner({ job }).run().catch((err: unknown) => err);
  return { outcome, metrics: sink.metrics() };
}

async function sources(es: ElasticsearchTestNode, index: string): Promise<Map<string, unknown>> {
  await es.client().indices.refresh({ index });
  const result = await es.client().search({ index, size: 1_000 });
  return new Map(result.hits.hits.map((h) => [h._id as string, h._source]));
}

test("id 'topic-partition-offset': Kafka records become documents of their value, ids from their origin", async (t) => {
  const es = await elasticsearchNode(t);
  const index = es.uniqueIndex('tpo');
  const records: KafkaRecord<{ user: string }>[] = [0, 1, 2].map((offset) => ({
    topic: 'clicks', partition: 3, offset, key: null, value: { user: `u${offset}` }, timestamp: 0, headers: {},
  }));
  const { outcome } = await runBounded(records, { node: es.node, index, id: 'topic-partition-offset' });
  assert.equal(outcome, 'finished');
  assert.deepEqual(await sources(es, index), new Map([['clicks-3-0', { user: 'u0' }], ['clicks-3-1', { user: 'u1' }], ['clicks-3-2', { user: 'u2' }]]));
});

test("id 'topic-partition-offset' on records without a Kafka origin fails the job with what to do", async (t) => {
  const es = await elasticsearchNode(t);
  const { outcome } = await runBounded([{ user: 'a' }], { node: es.node, index: es.uniqueIndex('tpo-bad'), id: 'topic-partition-offset' });
  assert.ok(isSluiceError((outcome as Error).cause, 'SLUICE_ES_BAD_RECORD'), String(outcome));
  assert.match((outcome as Error).message, /needs records with topic, partition and offset/);
});

test('an id function returning nothing fails the job naming the problem', async (t) => {
  const es = await elasticsearchNode(t);
  const { outcome } = await runBounded([{ user: '' }], { node: es.node, index: es.uniqueIndex('id-bad'), id: (r) => r.user });
  assert.ok(isSluiceError((outcome as Error).cause, 'SLUICE_ES_BAD_RECORD'), String(outcome));
  assert.match((outcome as Error).message, /the id function returned ""; ids must be non-empty strings/);
});

test('upserts of one document within a bulk merge like Elasticsearch applies them in order', async (t) => {
  const es = await elasticsearchNode(t);
  const index = es.uniqueIndex('upsert');
  const patches = [
    { id: 'a', doc: { n: 1, profile: { name: 'Ann', tags: ['x'] } } },
    { id: 'b', doc: { n: 1 } },
    { id: 'a', doc: { n: 2, profile: { city: 'Oslo', tags: ['y'] } } },
    { id: 'a', doc: { last: '/home' } },
  ];
  const { outcome, metrics } = await runBounded(patches, { node: es.node, index, id: (p) => p.id, action: 'upsert', document: (p) => p.doc });
  assert.equal(outcome, 'finished');
  assert.equal(metrics.coalesced, 2);
  assert.deepEqual(await sources(es, index), new Map<string, unknown>([
    ['a', { n: 2, profile: { name: 'Ann', tags: ['y'], city: 'Oslo' }, last: '/home' }],
    ['b', { n: 1 }],
  ]));
});

test('index keeps the last version of a document; delete removes documents and tolerates missing ones', async (t) => {
  const es = await elasticsearchNode(t);
  const index = es.uniqueIndex('versions');
  const versions = [{ id: 'a', v: 1 }, { id: 'b', v: 1 }, { id: 'a', v: 2 }, { id: 'c', v: 1 }, { id: 'a', v: 3 }];
  assert.equal((await runBounded(versions, { node: es.node, index, id: (r) => r.id }, 2)).outcome, 'finished');
  assert.deepEqual(await sources(es, index), new Map([['a', { id: 'a', v: 3 }], ['b', { id: 'b', v: 1 }], ['c', { id: 'c', v: 1 }]]));
  const { outcome } = await runBounded([{ id: 'a' }, { id: 'missing' }, { id: 'c' }], { node: es.node, index, id: (r) => r.id, action: 'delete' });
  assert.equal(outcome, 'finished');
  assert.deepEqual([...(await sources(es, index)).keys()], ['b']);
});

test('indexFn routes records to indices; an invalid index name from it fails the job', async (t) => {
  const es = await elasticsearchNode(t);
  const even = es.uniqueIndex('even');
  const odd = es.uniqueIndex('odd');
  const rows = Array.from({ length: 10 }, (_, i) => ({ i }));
  assert.equal((await runBounded(rows, { node: es.node, indexFn: (r) => (r.i % 2 === 0 ? even : odd), id: (r) => r.i })).outcome, 'finished');
  assert.deepEqual([...(await sources(es, even)).keys()].sort(), ['0', '2', '4', '6', '8']);
  assert.deepEqual([...(await sources(es, odd)).keys()].sort(), ['1', '3', '5', '7', '9']);
  const { outcome } = await runBounded(rows, { node: es.node, indexFn: () => 'Upper', id: (r) => r.i });
  assert.match(String(outcome), /indexFn returned "Upper", which is not a valid index name \(must be lowercase\)/);
});

test('a slow Elasticsearch backpressures the job: buffered + in-flight bytes stay bounded', { skip: esDevstackOnly('adds latency') }, async (t) => {
  const es = await elasticsearchNode(t);
  const index = es.uniqueIndex('slow');
  es.devstack!.faults.latency({ ms: 100, only: 'bulk' });
  const maxBytes = 16 * 1024;
  const sink = elasticsearchSink<{ i: number; pad: string }>({ node: es.node, index, id: (r) => r.i, bulk: { maxBytes, maxInFlight: 2, maxActions: 10_000 } });
  const records = 6_000;
  const job = defineJob({ name: 'slow-es', parallelism: 1 }, (env) => {
    env.source(datagen({ count: records, batchSize: 200, record: (i) => ({ i, pad: 'x'.repeat(100) }) })).sink(sink);
  });
  let peak = 0;
  const sampler = setInterval(() => {
    const m = sink.metrics();
    peak = Math.max(peak, m.bufferedBytes + m.inFlightBytes);
  }, 5);
  t.after(() => clearInterval(sampler));
  assert.equal(await new JobRunner({ job }).run(), 'finished');
  clearInterval(sampler);
  // Per lane: one full buffer waiting plus one request in flight, each at most one record over maxBytes.
  const bound = 2 * 2 * (maxBytes + 200);
  assert.ok(peak > 0 && peak <= bound, `peak ${peak} bytes, bound ${bound}`);
  await es.client().indices.refresh({ index });
  assert.equal((await es.client().count({ index })).count, records);
  assert.ok(sink.metrics().bulkRequests >= (records * 150) / (2 * maxBytes), `bulks: ${sink.metrics().bulkRequests}`);
});

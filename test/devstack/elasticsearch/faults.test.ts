import assert from 'node:assert/strict';
import { test } from 'node:test';
import { elasticsearchNode, esDevstackOnly } from '../../support/elasticsearch-node.ts';

test('per-item 429s are retried by helpers.bulk until every document is indexed', { skip: esDevstackOnly('injects per-item 429s') }, async (t) => {
  const es = await elasticsearchNode(t);
  const client = es.client();
  const index = es.uniqueIndex('faults');
  es.devstack!.faults.rejectBulkItems({ fraction: 0.3, seed: 42, times: 2 });
  const docs = Array.from({ length: 300 }, (_, i) => ({ id: `d${i}`, n: i }));
  const dropped: unknown[] = [];
  const stats = await client.helpers.bulk({
    datasource: docs,
    onDocument: (doc) => ({ create: { _index: index, _id: doc.id } }),
    onDrop: (item) => dropped.push(item),
    retries: 5,
    wait: 10,
    refreshOnCompletion: index,
  });
  const injected = es.devstack!.faults.injected.bulkItems429;
  assert.ok(injected > 30, `about 30% of 300 items were rejected at first (got ${injected})`);
  assert.deepEqual(dropped, []);
  // stats.retry counts NDJSON lines (action + source), not documents.
  assert.equal(stats.retry, 2 * injected);
  assert.equal(stats.failed, 0);
  assert.equal((await client.count({ index })).count, docs.length);
});

test('per-item 429 rejections are deterministic for a seed', { skip: esDevstackOnly('injects per-item 429s') }, async (t) => {
  const es = await elasticsearchNode(t);
  const client = es.client();
  const index = es.uniqueIndex('faults');
  const pattern = async (): Promise<number[]> => {
    es.devstack!.faults.rejectBulkItems({ fraction: 0.5, seed: 7, times: 1 });
    const res = await client.bulk({ operations: Array.from({ length: 20 }, (_, i) => [{ index: { _index: index, _id: `${i}` } }, { i }]).flat() });
    assert.equal(res.errors, true);
    const rejected = res.items.flatMap((item, i) => (item.index!.status === 429 ? [i] : []));
    for (const i of rejected) assert.equal(res.items[i]!.index!.error!.type, 'es_rejected_execution_exception');
    return rejected;
  };
  const first = await pattern();
  assert.ok(first.length > 0 && first.length < 20);
  assert.deepEqual(await pattern(), first);
});

test('a whole-request 429 rejects helpers.bulk and client.bulk', { skip: esDevstackOnly('injects a whole-request 429') }, async (t) => {
  const es = await elasticsearchNode(t);
  const client = es.client();
  const index = es.uniqueIndex('faults');
  es.devstack!.faults.rejectRequests({ requests: 2 });
  await assert.rejects(client.bulk({ operations: [{ index: { _index: index } }, { a: 1 }] }), (err: any) => {
    assert.equal(err.meta.statusCode, 429);
    assert.equal(err.meta.body.error.type, 'es_rejected_execution_exception');
    return true;
  });
  await assert.rejects(
    client.helpers.bulk({ datasource: [{ a: 1 }], onDocument: () => ({ index: { _index: index } }) }),
    (err: any) => err.meta?.statusCode === 429,
  );
  assert.equal(es.devstack!.faults.injected.requests429, 2);
  const after = await client.bulk({ operations: [{ index: { _index: index } }, { a: 1 }] });
  assert.equal(after.errors, false);
});

test('a short 503 burst is retried by the transport; a long one surfaces', { skip: esDevstackOnly('injects 503s') }, async (t) => {
  const es = await elasticsearchNode(t);
  const client = es.client({ maxRetries: 3 });
  const index = es.uniqueIndex('faults');
  es.devstack!.faults.unavailable({ requests: 2 });
  const res = await client.index({ index, id: '1', document: { a: 1 } });
  assert.equal(res.result, 'created');
  assert.equal(es.devstack!.faults.injected.requests503, 2);

  es.devstack!.faults.unavailable({ requests: 10 });
  await assert.rejects(client.get({ index, id: '1' }), (err: any) => {
    assert.equal(err.meta.statusCode, 503);
    return true;
  });
  es.devstack!.faults.clear();
  assert.equal((await client.get({ index, id: '1' })).found, true);
});

test('refused connections are retried by the transport once the port accepts again', { skip: esDevstackOnly('closes its listening socket') }, async (t) => {
  const es = await elasticsearchNode(t);
  const client = es.client({ maxRetries: 5 });
  const index = es.uniqueIndex('faults');
  await client.index({ index, id: '1', document: { a: 1 } });
  for (const mode of ['refuse', 'reset'] as const) {
    const started = Date.now();
    await es.devstack!.faults.refuseConnections(300, { mode });
    const res = await client.index({ index, id: '2', document: { mode } });
    assert.ok(Date.now() - started >= 250, `${mode}: the write waited for the outage`);
    assert.ok(res.result === 'created' || res.result === 'updated');
  }
  assert.ok(es.devstack!.faults.injected.refusedConnections >= 1);
  assert.equal((await client.get({ index, id: '2' })).found, true);
});

test('added latency delays requests', { skip: esDevstackOnly('adds latency') }, async (t) => {
  const es = await elasticsearchNode(t);
  const client = es.client();
  es.devstack!.faults.latency({ ms: 150 });
  const started = Date.now();
  await client.ping();
  assert.ok(Date.now() - started >= 140);
  es.devstack!.faults.latency({ ms: 0 });
});

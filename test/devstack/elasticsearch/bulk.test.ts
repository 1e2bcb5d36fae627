import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { estypes } from '@elastic/elasticsearch';
import { elasticsearchNode } from '../../support/elasticsearch-node.ts';

test('helpers.bulk indexes every document of a datasource', async (t) => {
  const es = await elasticsearchNode(t);
  const client = es.client();
  const index = es.uniqueIndex('bulk');
  const docs = Array.from({ length: 2_500 }, (_, i) => ({ id: `d${i}`, n: i, text: `document number ${i}` }));
  const dropped: unknown[] = [];
  const stats = await client.helpers.bulk({
    datasource: docs,
    onDocument: (doc) => ({ index: { _index: index, _id: doc.id } }),
    onDrop: (item) => dropped.push(item),
    flushBytes: 50_000,
    refreshOnCompletion: index,
  });
  assert.deepEqual(dropped, []);
  assert.equal(stats.successful, docs.length);
  assert.equal(stats.failed, 0);
  assert.equal((await client.count({ index })).count, docs.length);
  const sample = await client.get<{ n: number }>({ index, id: 'd1234' });
  assert.equal(sample._source?.n, 1234);
});

test('helpers.bulk hands mapping conflicts to onDrop and indexes the rest of the batch', async (t) => {
  const es = await elasticsearchNode(t);
  const client = es.client();
  const index = es.uniqueIndex('bulk');
  await client.indices.create({ index, mappings: { properties: { n: { type: 'long' }, user: { properties: { name: { type: 'keyword' } } } } } });
  const docs: Array<Record<string, unknown>> = Array.from({ length: 50 }, (_, i) => ({ id: `d${i}`, n: i, user: { name: `u${i}` } }));
  docs[10] = { id: 'd10', n: 'not-a-number', user: { name: 'u10' } };
  docs[20] = { id: 'd20', n: 20, user: 'a concrete value where an object is mapped' };
  docs[30] = { id: 'd30', n: 30, user: { name: { first: 'object into keyword' } } };
  const dropped: Array<{ status: number; error: any; document: any; operation: any }> = [];
  const stats = await client.helpers.bulk({
    datasource: docs,
    onDocument: (doc) => ({ index: { _index: index, _id: String(doc['id']) } }),
    onDrop: (item) => dropped.push(item as never),
    refreshOnCompletion: index,
  });
  assert.equal(stats.failed, 3);
  assert.equal(stats.successful, 47);
  assert.deepEqual(dropped.map((d) => d.document.id), ['d10', 'd20', 'd30']);
  for (const drop of dropped) {
    assert.equal(drop.status, 400);
    assert.equal(drop.error.type, 'document_parsing_exception');
  }
  assert.match(dropped[0]!.error.reason, /failed to parse field \[n\] of type \[long\] in document with id 'd10'\. Preview of field's value: 'not-a-number'/);
  assert.equal(dropped[0]!.error.caused_by.type, 'illegal_argument_exception');
  assert.match(dropped[1]!.error.reason, /object mapping for \[user\] tried to parse field \[user\] as object, but found a concrete value/);
  assert.match(dropped[2]!.error.reason, /failed to parse field \[user\.name\] of type \[keyword\] in document with id 'd30'/);
  assert.deepEqual(dropped[0]!.operation, { index: { _index: index, _id: 'd10' } });
  assert.equal((await client.count({ index })).count, 47);
  assert.equal(await client.exists({ index, id: 'd10' }), false);
  assert.equal(await client.exists({ index, id: 'd11' }), true);
});

test('a raw bulk answers one item per action, in order, with the right statuses', async (t) => {
  const es = await elasticsearchNode(t);
  const client = es.client();
  const index = es.uniqueIndex('bulk');
  await client.index({ index, id: 'existing', document: { n: 1 }, refresh: true });
  const res = await client.bulk({
    index,
    operations: [
      { index: { _id: 'a' } }, { n: 1 },
      { create: { _id: 'existing' } }, { n: 2 },
      { index: { _id: 'bad' } }, { n: 'abc' },
      { delete: { _id: 'missing' } },
      { update: { _id: 'missing-too' } }, { doc: { n: 3 } },
      { update: { _id: 'upserted' } }, { doc: { n: 4 }, doc_as_upsert: true },
      { update: { _id: 'existing' } }, { doc: { n: 5 } },
      { create: { _id: 'b' } }, { n: 6 },
      { delete: { _id: 'a' } },
      { index: {} }, { n: 7 },
    ],
  });
  assert.equal(res.errors, true);
  assert.equal(typeof res.took, 'number');
  const summary = res.items.map((item) => {
    const [action, body] = Object.entries(item)[0] as [string, estypes.BulkResponseItem];
    return [action, body.status, body.result ?? body.error?.type];
  });
  assert.deepEqual(summary, [
    ['index', 201, 'created'],
    ['create', 409, 'version_conflict_engine_exception'],
    ['index', 400, 'document_parsing_exception'],
    ['delete', 404, 'not_found'],
    ['update', 404, 'document_missing_exception'],
    ['update', 201, 'created'],
    ['update', 200, 'updated'],
    ['create', 201, 'created'],
    ['delete', 200, 'deleted'],
    ['index', 201, 'created'],
  ]);
  const ids = res.items.map((item) => Object.values(item)[0]!._id);
  assert.deepEqual(ids.slice(0, 9), ['a', 'existing', 'bad', 'missing', 'missing-too', 'upserted', 'existing', 'b', 'a']);
  assert.equal(typeof ids[9], 'string');
  for (const item of res.items) {
    const body = Object.values(item)[0]!;
    assert.equal(body._index, index);
    if (body.error === undefined) {
      assert.equal(typeof body._seq_no, 'number');
      assert.equal(body._primary_term, 1);
      assert.equal(typeof body._version, 'number');
    }
  }
  assert.deepEqual((await client.get({ index, id: 'existing' }))._source, { n: 5 });
  assert.equal(res.items[6]!.update!._version, 2);
  assert.equal(res.items[8]!.delete!._version, 2);
});

test('bulk with refresh=true makes the batch searchable', async (t) => {
  const es = await elasticsearchNode(t);
  const client = es.client();
  const index = es.uniqueIndex('bulk');
  const res = await client.bulk({ refresh: true, operations: [{ index: { _index: index, _id: '1' } }, { a: 1 }, { index: { _index: index, _id: '2' } }, { a: 2 }] });
  assert.equal(res.errors, false);
  assert.equal(res.items[0]!.index!.forced_refresh, true);
  assert.equal((await client.count({ index })).count, 2);
});

test('a malformed bulk body fails the whole request', async (t) => {
  const es = await elasticsearchNode(t);
  const client = es.client();
  const index = es.uniqueIndex('bulk');
  await assert.rejects(client.bulk({ operations: [{ frobnicate: { _index: index } } as never] }), (err: any) => {
    assert.equal(err.meta.statusCode, 400);
    assert.equal(err.meta.body.error.type, 'illegal_argument_exception');
    assert.match(err.meta.body.error.reason, /Malformed action\/metadata line \[1\]/);
    return true;
  });
});

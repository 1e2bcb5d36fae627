import assert from 'node:assert/strict';
import { test } from 'node:test';
import { elasticsearchNode } from '../../support/elasticsearch-node.ts';

test('index, get, exists and delete keep versions, sequence numbers and results', async (t) => {
  const es = await elasticsearchNode(t);
  const client = es.client();
  const index = es.uniqueIndex('docs');

  const created = await client.index({ index, id: 'a', document: { n: 1 } });
  assert.equal(created.result, 'created');
  assert.equal(created._version, 1);
  assert.equal(created._id, 'a');
  assert.equal(created._index, index);
  assert.equal(created._primary_term, 1);
  assert.equal(created._shards.successful, 1);

  const updated = await client.index({ index, id: 'a', document: { n: 2 } });
  assert.equal(updated.result, 'updated');
  assert.equal(updated._version, 2);
  assert.ok(updated._seq_no! > created._seq_no!);

  // GET by id is realtime: no refresh needed.
  const got = await client.get<{ n: number }>({ index, id: 'a' });
  assert.equal(got.found, true);
  assert.deepEqual(got._source, { n: 2 });
  assert.equal(got._version, 2);
  assert.equal(got._seq_no, updated._seq_no);
  assert.equal(await client.exists({ index, id: 'a' }), true);
  assert.equal(await client.exists({ index, id: 'nope' }), false);

  const missing = await client.get({ index, id: 'nope' }, { ignore: [404] });
  assert.deepEqual(missing, { _index: index, _id: 'nope', found: false });

  const deleted = await client.delete({ index, id: 'a' });
  assert.equal(deleted.result, 'deleted');
  assert.equal(deleted._version, 3);
  assert.equal(await client.exists({ index, id: 'a' }), false);

  const notFound = await client.delete({ index, id: 'a' }, { ignore: [404] });
  assert.equal(notFound.result, 'not_found');

  // A re-created id continues the version of its tombstone.
  const again = await client.index({ index, id: 'a', document: { n: 3 } });
  assert.equal(again.result, 'created');
  assert.ok(again._version > 3, `version ${again._version} continues after the delete`);
});

test('auto-generated ids, _source filtering and refresh=true', async (t) => {
  const es = await elasticsearchNode(t);
  const client = es.client();
  const index = es.uniqueIndex('docs');
  const res = await client.index({ index, document: { user: { name: 'x', age: 3 }, tag: 'y' }, refresh: true });
  assert.equal(res.result, 'created');
  assert.equal(typeof res._id, 'string');
  assert.ok(res._id.length >= 10);
  assert.equal(res.forced_refresh, true);
  const filtered = await client.get({ index, id: res._id, _source_includes: ['user.name'] });
  assert.deepEqual(filtered._source, { user: { name: 'x' } });
  const none = await client.get({ index, id: res._id, _source: false });
  assert.equal(none._source, undefined);
  assert.deepEqual(await client.getSource({ index, id: res._id }), { user: { name: 'x', age: 3 }, tag: 'y' });
});

test('create on an existing id is a 409 version_conflict_engine_exception', async (t) => {
  const es = await elasticsearchNode(t);
  const client = es.client();
  const index = es.uniqueIndex('docs');
  await client.create({ index, id: '1', document: { v: 1 } });
  for (const attempt of [
    () => client.create({ index, id: '1', document: { v: 2 } }),
    () => client.index({ index, id: '1', op_type: 'create', document: { v: 2 } }),
  ]) {
    await assert.rejects(attempt(), (err: any) => {
      assert.equal(err.meta.statusCode, 409);
      assert.equal(err.meta.body.error.type, 'version_conflict_engine_exception');
      assert.match(err.meta.body.error.reason, /^\[1\]: version conflict, document already exists \(current version \[1\]\)$/);
      assert.equal(err.meta.body.error.index, index);
      assert.equal(err.meta.body.error.shard, '0');
      return true;
    });
  }
  assert.deepEqual((await client.get({ index, id: '1' }))._source, { v: 1 });
});

test('optimistic concurrency with if_seq_no / if_primary_term', async (t) => {
  const es = await elasticsearchNode(t);
  const client = es.client();
  const index = es.uniqueIndex('docs');
  const first = await client.index({ index, id: 'k', document: { v: 1 } });
  const second = await client.index({ index, id: 'k', document: { v: 2 }, if_seq_no: first._seq_no!, if_primary_term: first._primary_term! });
  assert.equal(second._version, 2);
  await assert.rejects(
    client.index({ index, id: 'k', document: { v: 3 }, if_seq_no: first._seq_no!, if_primary_term: first._primary_term! }),
    (err: any) => err.meta.statusCode === 409 && err.meta.body.error.type === 'version_conflict_engine_exception',
  );
});

test('external versioning rejects stale versions', async (t) => {
  const es = await elasticsearchNode(t);
  const client = es.client();
  const index = es.uniqueIndex('docs');
  const res = await client.index({ index, id: 'e', version: 10, version_type: 'external', document: { v: 10 } });
  assert.equal(res._version, 10);
  await assert.rejects(
    client.index({ index, id: 'e', version: 10, version_type: 'external', document: { v: 9 } }),
    (err: any) => err.meta.statusCode === 409 && err.meta.body.error.type === 'version_conflict_engine_exception',
  );
  const newer = await client.index({ index, id: 'e', version: 11, version_type: 'external', document: { v: 11 } });
  assert.equal(newer._version, 11);
});

test('update merges a partial doc, detects no-ops and upserts with doc_as_upsert', async (t) => {
  const es = await elasticsearchNode(t);
  const client = es.client();
  const index = es.uniqueIndex('docs');

  const upserted = await client.update({ index, id: 'u', doc: { a: 1, nested: { x: 1 } }, doc_as_upsert: true });
  assert.equal(upserted.result, 'created');
  assert.equal(upserted._version, 1);

  const merged = await client.update({ index, id: 'u', doc: { b: 2, nested: { y: 2 } } });
  assert.equal(merged.result, 'updated');
  assert.equal(merged._version, 2);
  assert.deepEqual((await client.get({ index, id: 'u' }))._source, { a: 1, nested: { x: 1, y: 2 }, b: 2 });

  const noop = await client.update({ index, id: 'u', doc: { a: 1 } });
  assert.equal(noop.result, 'noop');
  assert.equal(noop._version, 2);

  await assert.rejects(client.update({ index, id: 'missing', doc: { a: 1 } }), (err: any) => {
    assert.equal(err.meta.statusCode, 404);
    assert.equal(err.meta.body.error.type, 'document_missing_exception');
    assert.match(err.meta.body.error.reason, /^\[missing\]: document missing$/);
    return true;
  });

  const withUpsert = await client.update({ index, id: 'v', doc: { a: 5 }, upsert: { a: 0, fresh: true } });
  assert.equal(withUpsert.result, 'created');
  assert.deepEqual((await client.get({ index, id: 'v' }))._source, { a: 0, fresh: true });
});

test('delete does not auto-create the index', async (t) => {
  const es = await elasticsearchNode(t);
  const client = es.client();
  const index = es.uniqueIndex('docs');
  await assert.rejects(client.delete({ index, id: '1' }), (err: any) => {
    assert.equal(err.meta.statusCode, 404);
    assert.equal(err.meta.body.error.type, 'index_not_found_exception');
    return true;
  });
  assert.equal(await client.indices.exists({ index }), false);
});

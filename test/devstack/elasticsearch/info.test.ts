import assert from 'node:assert/strict';
import { test } from 'node:test';
import { elasticsearchNode } from '../../support/elasticsearch-node.ts';

test('ping and info answer like an 8.x node', async (t) => {
  const es = await elasticsearchNode(t);
  const client = es.client();
  assert.equal(await client.ping(), true);
  const info = await client.info();
  assert.match(info.version.number, /^(8|9)\./);
  assert.equal(info.tagline, 'You Know, for Search');
  assert.equal(typeof info.cluster_uuid, 'string');
  assert.equal(typeof info.name, 'string');
});

test('every answer carries the product header, HEAD and errors included', async (t) => {
  const es = await elasticsearchNode(t);
  const head = await fetch(`${es.node}/`, { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(head.headers.get('x-elastic-product'), 'Elasticsearch');
  const get = await fetch(`${es.node}/`, { headers: { accept: 'application/vnd.elasticsearch+json; compatible-with=8' } });
  assert.equal(get.headers.get('x-elastic-product'), 'Elasticsearch');
  assert.match(get.headers.get('content-type') ?? '', /json/);
  const missing = await fetch(`${es.node}/${es.uniqueIndex('missing')}/_doc/1`);
  assert.equal(missing.status, 404);
  assert.equal(missing.headers.get('x-elastic-product'), 'Elasticsearch');
});

test('index exists is a HEAD boolean; creating an existing index is a 400', async (t) => {
  const es = await elasticsearchNode(t);
  const client = es.client();
  const index = es.uniqueIndex('admin');
  assert.equal(await client.indices.exists({ index }), false);
  const created = await client.indices.create({ index, settings: { number_of_shards: 1 } });
  assert.deepEqual({ acknowledged: created.acknowledged, index: created.index }, { acknowledged: true, index });
  assert.equal(await client.indices.exists({ index }), true);
  await assert.rejects(client.indices.create({ index }), (err: any) => {
    assert.equal(err.meta.statusCode, 400);
    assert.equal(err.meta.body.error.type, 'resource_already_exists_exception');
    assert.equal(err.meta.body.error.root_cause[0].type, 'resource_already_exists_exception');
    assert.equal(err.meta.body.error.index, index);
    return true;
  });
  const got = await client.indices.get({ index });
  assert.equal(got[index]?.settings?.index?.number_of_shards, '1');
  assert.equal(got[index]?.settings?.index?.provided_name, index);
  assert.deepEqual((await client.indices.delete({ index })).acknowledged, true);
  assert.equal(await client.indices.exists({ index }), false);
});

test('a missing index gives the real index_not_found_exception body', async (t) => {
  const es = await elasticsearchNode(t);
  const client = es.client();
  const index = es.uniqueIndex('missing');
  for (const call of [
    () => client.get({ index, id: '1' }),
    () => client.search({ index, query: { match_all: {} } }),
    () => client.count({ index }),
    () => client.indices.delete({ index }),
    () => client.indices.getMapping({ index }),
  ]) {
    await assert.rejects(call(), (err: any) => {
      assert.equal(err.meta.statusCode, 404);
      const body = err.meta.body;
      assert.equal(body.status, 404);
      assert.equal(body.error.type, 'index_not_found_exception');
      assert.equal(body.error.reason, `no such index [${index}]`);
      assert.equal(body.error.index, index);
      assert.equal(body.error['resource.id'], index);
      assert.equal(body.error.index_uuid, '_na_');
      assert.equal(body.error.root_cause[0].type, 'index_not_found_exception');
      return true;
    });
  }
});

test('invalid index names are rejected on create and on auto-create', async (t) => {
  const es = await elasticsearchNode(t);
  const client = es.client();
  const name = `Upper-${es.uniqueIndex('x')}`;
  await assert.rejects(client.indices.create({ index: name }), (err: any) => {
    assert.equal(err.meta.statusCode, 400);
    assert.equal(err.meta.body.error.type, 'invalid_index_name_exception');
    assert.match(err.meta.body.error.reason, /must be lowercase/);
    return true;
  });
  await assert.rejects(client.index({ index: name, document: { a: 1 } }), (err: any) => {
    assert.equal(err.meta.body.error.type, 'invalid_index_name_exception');
    return true;
  });
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { elasticsearchNode } from '../../support/elasticsearch-node.ts';

test('dynamic mapping infers long, float, boolean, date, text+keyword and objects', async (t) => {
  const es = await elasticsearchNode(t);
  const client = es.client();
  const index = es.uniqueIndex('mapping');
  await client.index({
    index, id: '1',
    document: { count: 3, ratio: 0.5, ok: true, at: '2024-05-06T07:08:09.123Z', day: '2024-05-06', name: 'x', user: { id: 7, tags: ['a'] }, nothing: null, empty: [] },
  });
  const mapping = (await client.indices.getMapping({ index }))[index]!.mappings;
  assert.deepEqual(mapping.properties, {
    at: { type: 'date' },
    count: { type: 'long' },
    day: { type: 'date' },
    name: { type: 'text', fields: { keyword: { type: 'keyword', ignore_above: 256 } } },
    ok: { type: 'boolean' },
    ratio: { type: 'float' },
    user: {
      properties: {
        id: { type: 'long' },
        tags: { type: 'text', fields: { keyword: { type: 'keyword', ignore_above: 256 } } },
      },
    },
  });
});

test('a value that does not fit the mapped type is a 400 document_parsing_exception and changes nothing', async (t) => {
  const es = await elasticsearchNode(t);
  const client = es.client();
  const index = es.uniqueIndex('mapping');
  await client.index({ index, id: '1', document: { count: 3, when: '2024-01-01T00:00:00Z', flag: true, obj: { a: 1 }, label: 'l' } });
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ count: 'three' }, /^\[1:\d+\] failed to parse field \[count\] of type \[long\] in document with id '2'\. Preview of field's value: 'three'$/],
    [{ when: 'yesterday' }, /failed to parse field \[when\] of type \[date\] in document with id '2'/],
    [{ flag: 'yes' }, /failed to parse field \[flag\] of type \[boolean\] in document with id '2'/],
    [{ obj: 'flat' }, /object mapping for \[obj\] tried to parse field \[obj\] as object, but found a concrete value/],
    [{ label: { nested: 1 } }, /failed to parse field \[label\] of type \[text\] in document with id '2'/],
    [{ fresh: 1, count: 'x' }, /failed to parse field \[count\] of type \[long\]/],
  ];
  for (const [document, reason] of cases) {
    await assert.rejects(client.index({ index, id: '2', document }), (err: any) => {
      assert.equal(err.meta.statusCode, 400, JSON.stringify(document));
      assert.equal(err.meta.body.error.type, 'document_parsing_exception');
      assert.match(err.meta.body.error.reason, reason);
      assert.equal(err.meta.body.error.root_cause[0].type, 'document_parsing_exception');
      return true;
    });
  }
  assert.equal(await client.exists({ index, id: '2' }), false);
  // The failed document's new field did not reach the mapping.
  const properties = (await client.indices.getMapping({ index }))[index]!.mappings.properties!;
  assert.equal(properties['fresh'], undefined);
});

test('numbers are coerced the way ES does: numeric strings into long, integers into float', async (t) => {
  const es = await elasticsearchNode(t);
  const client = es.client();
  const index = es.uniqueIndex('mapping');
  await client.index({ index, id: '1', document: { n: 1, f: 1.5, s: 'text' } });
  await client.index({ index, id: '2', document: { n: '42', f: 2, s: 17 }, refresh: true });
  assert.equal((await client.count({ index, query: { term: { n: 42 } } })).count, 1);
  assert.equal((await client.count({ index, query: { term: { 's.keyword': '17' } } })).count, 1);
  assert.deepEqual((await client.get({ index, id: '2' }))._source, { n: '42', f: 2, s: 17 });
});

test('explicit mappings are respected, strict mappings reject new fields, PUT _mapping adds fields', async (t) => {
  const es = await elasticsearchNode(t);
  const client = es.client();
  const index = es.uniqueIndex('mapping');
  await client.indices.create({
    index,
    mappings: { dynamic: 'strict', properties: { code: { type: 'keyword' }, amount: { type: 'double' }, at: { type: 'date', format: 'epoch_millis' } } },
  });
  await client.index({ index, id: '1', document: { code: 'A-1', amount: 9.5, at: 1700000000000 }, refresh: true });
  assert.equal((await client.count({ index, query: { term: { code: 'A-1' } } })).count, 1);
  await assert.rejects(client.index({ index, id: '2', document: { code: 'B', extra: 1 } }), (err: any) => {
    assert.equal(err.meta.statusCode, 400);
    assert.equal(err.meta.body.error.type, 'strict_dynamic_mapping_exception');
    assert.match(err.meta.body.error.reason, /mapping set to strict, dynamic introduction of \[extra\] within \[_doc\] is not allowed/);
    return true;
  });
  await client.indices.putMapping({ index, properties: { extra: { type: 'integer' } } });
  await client.index({ index, id: '2', document: { code: 'B', extra: 1 } });
  const mapping = (await client.indices.getMapping({ index }))[index]!.mappings;
  assert.equal(mapping.dynamic, 'strict');
  assert.deepEqual(mapping.properties!['extra'], { type: 'integer' });
  assert.deepEqual(mapping.properties!['at'], { type: 'date', format: 'epoch_millis' });
  await assert.rejects(client.indices.putMapping({ index, properties: { code: { type: 'long' } } }), (err: any) => {
    assert.equal(err.meta.statusCode, 400);
    assert.equal(err.meta.body.error.type, 'illegal_argument_exception');
    assert.match(err.meta.body.error.reason, /mapper \[code\] cannot be changed from type \[keyword\] to \[long\]/);
    return true;
  });
});

test('a bulk establishes the mapping with its first document; later conflicting items fail alone', async (t) => {
  const es = await elasticsearchNode(t);
  const client = es.client();
  const index = es.uniqueIndex('mapping');
  const res = await client.bulk({
    index,
    operations: [{ index: { _id: '1' } }, { v: 10 }, { index: { _id: '2' } }, { v: 'ten' }, { index: { _id: '3' } }, { v: 11 }],
  });
  assert.deepEqual(res.items.map((item) => item.index!.status), [201, 400, 201]);
  assert.equal(res.items[1]!.index!.error!.type, 'document_parsing_exception');
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Client } from '@elastic/elasticsearch';
import { elasticsearchNode } from '../../support/elasticsearch-node.ts';
import { waitFor } from '../../support/wait-for.ts';

interface Person {
  name: string;
  age: number;
  score: number;
  active: boolean;
  joined: string;
  tags: string[];
}

const PEOPLE: Array<[string, Person]> = [
  ['p1', { name: 'Alice Smith', age: 31, score: 1.5, active: true, joined: '2024-01-05T10:00:00Z', tags: ['admin', 'ops'] }],
  ['p2', { name: 'Bob Jones', age: 25, score: 7.25, active: false, joined: '2023-06-01T00:00:00Z', tags: ['dev'] }],
  ['p3', { name: 'Carol Smith', age: 42, score: 3, active: true, joined: '2022-12-31T23:59:59Z', tags: ['dev', 'ops'] }],
  ['p4', { name: 'Dave Brown', age: 25, score: 0.5, active: true, joined: '2024-03-10T08:30:00Z', tags: [] }],
  ['p5', { name: 'Eve Adams', age: 19, score: 9, active: false, joined: '2021-02-02T02:02:02Z', tags: ['intern'] }],
];

async function seeded(client: Client, index: string): Promise<void> {
  const res = await client.bulk({ index, refresh: true, operations: PEOPLE.flatMap(([id, doc]) => [{ index: { _id: id } }, doc]) });
  assert.equal(res.errors, false);
}

async function ids(client: Client, index: string, body: Record<string, unknown>): Promise<string[]> {
  const res = await client.search({ index, ...body });
  return res.hits.hits.map((hit) => hit._id!);
}

test('documents become searchable only after a refresh; GET by id is realtime', async (t) => {
  const es = await elasticsearchNode(t);
  const client = es.client();
  const index = es.uniqueIndex('search');
  // An explicit refresh_interval of -1 makes "not yet visible" deterministic, on a real node as here.
  await client.indices.create({ index, settings: { refresh_interval: '-1' } });
  await client.index({ index, id: '1', document: { a: 1 } });
  assert.equal((await client.get({ index, id: '1' })).found, true);
  assert.equal((await client.count({ index })).count, 0);
  assert.equal((await client.search({ index })).hits.hits.length, 0);
  await client.indices.refresh({ index });
  assert.equal((await client.count({ index })).count, 1);
});

test('the periodic refresh makes documents visible without an explicit refresh', async (t) => {
  const es = await elasticsearchNode(t);
  const client = es.client();
  const index = es.uniqueIndex('search');
  await client.index({ index, id: '1', document: { a: 1 } });
  await waitFor(async () => (await client.count({ index })).count === 1, { timeoutMs: 10_000, intervalMs: 100, message: 'the scheduled refresh' });
});

test('refresh=wait_for answers once the write is searchable', async (t) => {
  const es = await elasticsearchNode(t);
  const client = es.client();
  const index = es.uniqueIndex('search');
  await client.index({ index, id: '1', document: { a: 1 }, refresh: 'wait_for' });
  assert.equal((await client.count({ index })).count, 1);
});

test('match_all, hits.total shape, size and from', async (t) => {
  const es = await elasticsearchNode(t);
  const client = es.client();
  const index = es.uniqueIndex('search');
  await seeded(client, index);
  const all = await client.search({ index, query: { match_all: {} } });
  assert.deepEqual(all.hits.total, { value: 5, relation: 'eq' });
  assert.equal(all.hits.hits.length, 5);
  assert.equal(all.timed_out, false);
  assert.equal(all._shards.failed, 0);
  const hit = all.hits.hits.find((h) => h._id === 'p1')!;
  assert.equal(hit._index, index);
  assert.deepEqual(hit._source, PEOPLE[0]![1]);

  const sorted = await ids(client, index, { sort: [{ age: 'asc' }, { 'name.keyword': 'asc' }] });
  assert.deepEqual(sorted, ['p5', 'p2', 'p4', 'p1', 'p3']);
  assert.deepEqual(await ids(client, index, { sort: [{ age: 'asc' }, { 'name.keyword': 'asc' }], size: 2 }), ['p5', 'p2']);
  assert.deepEqual(await ids(client, index, { sort: [{ age: 'asc' }, { 'name.keyword': 'asc' }], size: 2, from: 2 }), ['p4', 'p1']);
  const limited = await client.search({ index, size: 0 });
  assert.deepEqual(limited.hits.total, { value: 5, relation: 'eq' });
  assert.equal(limited.hits.hits.length, 0);
});

test('term and terms follow the mapping: text is analysed, keyword is exact', async (t) => {
  const es = await elasticsearchNode(t);
  const client = es.client();
  const index = es.uniqueIndex('search');
  await seeded(client, index);
  const byScore = { sort: [{ 'name.keyword': 'asc' }] };
  assert.deepEqual(await ids(client, index, { query: { term: { name: 'Alice' } } }), []);
  assert.deepEqual(await ids(client, index, { query: { term: { name: 'smith' } }, ...byScore }), ['p1', 'p3']);
  assert.deepEqual(await ids(client, index, { query: { term: { 'name.keyword': 'Bob Jones' } } }), ['p2']);
  assert.deepEqual(await ids(client, index, { query: { term: { age: 25 } }, ...byScore }), ['p2', 'p4']);
  assert.deepEqual(await ids(client, index, { query: { term: { age: '25' } }, ...byScore }), ['p2', 'p4']);
  assert.deepEqual(await ids(client, index, { query: { term: { active: false } }, ...byScore }), ['p2', 'p5']);
  assert.deepEqual(await ids(client, index, { query: { terms: { 'tags.keyword': ['ops', 'intern'] } }, ...byScore }), ['p1', 'p3', 'p5']);
  assert.deepEqual(await ids(client, index, { query: { terms: { age: [19, 42] } }, ...byScore }), ['p3', 'p5']);
  assert.deepEqual(await ids(client, index, { query: { ids: { values: ['p4', 'p2', 'zz'] } }, ...byScore }), ['p2', 'p4']);
  assert.deepEqual(await ids(client, index, { query: { match: { name: 'SMITH alice' } }, ...byScore }), ['p1', 'p3']);
  assert.deepEqual(await ids(client, index, { query: { term: { nothere: 'x' } } }), []);
});

test('range on numbers and dates, bool must/filter/must_not/should, exists', async (t) => {
  const es = await elasticsearchNode(t);
  const client = es.client();
  const index = es.uniqueIndex('search');
  await seeded(client, index);
  const byName = { sort: [{ 'name.keyword': 'asc' }] };
  assert.deepEqual(await ids(client, index, { query: { range: { age: { gt: 25 } } }, ...byName }), ['p1', 'p3']);
  assert.deepEqual(await ids(client, index, { query: { range: { age: { gte: 25, lt: 42 } } }, ...byName }), ['p1', 'p2', 'p4']);
  assert.deepEqual(await ids(client, index, { query: { range: { age: { lte: 19 } } }, ...byName }), ['p5']);
  assert.deepEqual(await ids(client, index, { query: { range: { score: { gt: 1.5, lte: 7.25 } } }, ...byName }), ['p2', 'p3']);
  assert.deepEqual(await ids(client, index, { query: { range: { joined: { gte: '2024-01-01T00:00:00Z' } } }, ...byName }), ['p1', 'p4']);
  assert.deepEqual(await ids(client, index, {
    query: { bool: { must: [{ term: { active: true } }], filter: [{ range: { age: { gte: 25 } } }], must_not: [{ term: { 'name.keyword': 'Dave Brown' } }] } },
    ...byName,
  }), ['p1', 'p3']);
  assert.deepEqual(await ids(client, index, {
    query: { bool: { should: [{ term: { age: 19 } }, { term: { age: 42 } }] } }, ...byName,
  }), ['p3', 'p5']);
  assert.deepEqual(await ids(client, index, { query: { bool: { filter: { exists: { field: 'tags' } } } }, ...byName }), ['p1', 'p2', 'p3', 'p5']);
  assert.equal((await client.count({ index, query: { range: { age: { gte: 25 } } } })).count, 4);
  assert.equal((await client.count({ index })).count, 5);
});

test('sort: desc, multi-valued fields, missing values last, dates as epoch millis', async (t) => {
  const es = await elasticsearchNode(t);
  const client = es.client();
  const index = es.uniqueIndex('search');
  await seeded(client, index);
  await client.index({ index, id: 'p6', document: { name: 'No Age' }, refresh: true });
  assert.deepEqual(await ids(client, index, { sort: [{ age: 'desc' }, { 'name.keyword': 'asc' }] }), ['p3', 'p1', 'p2', 'p4', 'p5', 'p6']);
  assert.deepEqual(await ids(client, index, { sort: [{ age: { order: 'asc' } }, { 'name.keyword': 'asc' }] }), ['p5', 'p2', 'p4', 'p1', 'p3', 'p6']);
  const res = await client.search({ index, sort: [{ score: 'desc' }], size: 1 });
  assert.equal(res.hits.hits[0]!._id, 'p5');
  assert.deepEqual(res.hits.hits[0]!.sort, [9]);
  assert.equal(res.hits.hits[0]!._score, null);
  const dates = await client.search({ index, sort: [{ joined: 'asc' }], size: 1 });
  assert.deepEqual(dates.hits.hits[0]!.sort, [Date.parse('2021-02-02T02:02:02Z')]);
  const keywords = await client.search({ index, sort: [{ 'tags.keyword': 'desc' }], size: 1, query: { ids: { values: ['p1'] } } });
  assert.deepEqual(keywords.hits.hits[0]!.sort, ['ops']);
});

test('sorting on _id, text fields and unmapped fields fails as on a real node', async (t) => {
  const es = await elasticsearchNode(t);
  const client = es.client();
  const index = es.uniqueIndex('search');
  await seeded(client, index);
  for (const [sort, pattern] of [
    [[{ _id: 'asc' }], /Fielddata access on the _id field is disallowed/],
    [[{ name: 'asc' }], /Fielddata is disabled on \[name\]/],
    [[{ nothere: 'asc' }], /No mapping found for \[nothere\] in order to sort on/],
  ] as const) {
    await assert.rejects(client.search({ index, sort: [...sort] }), (err: any) => {
      assert.equal(err.meta.statusCode, 400);
      assert.equal(err.meta.body.error.type, 'search_phase_execution_exception');
      assert.match(err.meta.body.error.root_cause[0].reason, pattern);
      return true;
    });
  }
  const ok = await client.search({ index, sort: [{ nothere: { order: 'asc', unmapped_type: 'long' } }] });
  assert.equal(ok.hits.hits.length, 5);
});

test('an unknown query type is a 400 parsing_exception', async (t) => {
  const es = await elasticsearchNode(t);
  const client = es.client();
  const index = es.uniqueIndex('search');
  await seeded(client, index);
  await assert.rejects(client.search({ index, query: { no_such_query: {} } as never }), (err: any) => {
    assert.equal(err.meta.statusCode, 400);
    assert.equal(err.meta.body.error.type, 'parsing_exception');
    assert.match(err.meta.body.error.reason, /unknown query \[no_such_query\]/);
    return true;
  });
});

test('search across several indices and wildcards', async (t) => {
  const es = await elasticsearchNode(t);
  const client = es.client();
  const a = es.uniqueIndex('multi');
  const b = es.uniqueIndex('multi');
  await client.index({ index: a, id: '1', document: { n: 1 }, refresh: true });
  await client.index({ index: b, id: '2', document: { n: 2 }, refresh: true });
  const both = await client.search({ index: [a, b], sort: [{ n: 'asc' }] });
  assert.deepEqual(both.hits.hits.map((h) => [h._index, h._id]), [[a, '1'], [b, '2']]);
  const wildcard = await client.count({ index: `${a.slice(0, -8)}*` });
  assert.equal(wildcard.count, 1);
});

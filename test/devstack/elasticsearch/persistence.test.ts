import assert from 'node:assert/strict';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { Client } from '@elastic/elasticsearch';
import { startElasticsearch, type ElasticsearchServer } from '../../../devstack/elasticsearch/index.ts';
import { esDevstackOnly } from '../../support/elasticsearch-node.ts';

async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-es-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function withServer<T>(dataDir: string, use: (client: Client, server: ElasticsearchServer) => Promise<T>): Promise<T> {
  const server = await startElasticsearch({ dataDir });
  const client = new Client({ node: server.node });
  try {
    return await use(client, server);
  } finally {
    await client.close();
    await server.close();
  }
}

test('indices, mappings, documents and versions survive close and restart', { skip: esDevstackOnly('restarts the server on a data directory') }, async (t) => {
  const dataDir = await tempDir(t);
  const before = await withServer(dataDir, async (client) => {
    await client.indices.create({ index: 'orders', settings: { number_of_replicas: 0 }, mappings: { properties: { sku: { type: 'keyword' } } } });
    const ops = Array.from({ length: 500 }, (_, i) => [{ index: { _index: 'orders', _id: `o${i}` } }, { sku: `s${i % 7}`, qty: i }]).flat();
    assert.equal((await client.bulk({ operations: ops })).errors, false);
    await client.index({ index: 'orders', id: 'o1', document: { sku: 's1', qty: 1000 } });
    await client.delete({ index: 'orders', id: 'o2' });
    await client.update({ index: 'orders', id: 'o3', doc: { note: 'patched' } });
    await client.index({ index: 'auto', id: 'x', document: { when: '2024-01-01T00:00:00Z' } });
    return { info: await client.info(), mapping: await client.indices.getMapping({ index: 'orders' }), o3: await client.get({ index: 'orders', id: 'o3' }) };
  });

  await withServer(dataDir, async (client) => {
    assert.equal((await client.info()).cluster_uuid, before.info.cluster_uuid);
    assert.deepEqual(await client.indices.getMapping({ index: 'orders' }), before.mapping);
    const settings = (await client.indices.getSettings({ index: 'orders' }))['orders']!.settings!.index!;
    assert.equal(settings.number_of_replicas, '0');
    // Restored documents are searchable at once, as after ES's recovery.
    assert.equal((await client.count({ index: 'orders' })).count, 499);
    const o1 = await client.get<{ qty: number }>({ index: 'orders', id: 'o1' });
    assert.equal(o1._version, 2);
    assert.equal(o1._source?.qty, 1000);
    assert.equal(await client.exists({ index: 'orders', id: 'o2' }), false);
    const o3 = await client.get({ index: 'orders', id: 'o3' });
    assert.deepEqual(o3, before.o3);
    const next = await client.index({ index: 'orders', id: 'o4', document: { sku: 's4', qty: 4 } });
    assert.ok(next._seq_no! > o3._seq_no!, 'sequence numbers continue after a restart');
    assert.equal(next._version, 2);
    assert.equal((await client.get({ index: 'auto', id: 'x' })).found, true);
    await client.indices.delete({ index: 'auto' });
  });

  await withServer(dataDir, async (client) => {
    assert.equal(await client.indices.exists({ index: 'auto' }), false);
    assert.equal((await client.get<{ qty: number }>({ index: 'orders', id: 'o4' }))._source?.qty, 4);
    // 500 documents with sku s(i % 7): 71 have s4 (i = 4, 11, …, 494).
    assert.equal((await client.count({ index: 'orders', query: { term: { sku: 's4' } } })).count, 71);
  });
});

test('a write acknowledged before an abrupt stop is replayed from the operation log', { skip: esDevstackOnly('copies its data directory') }, async (t) => {
  const dataDir = await tempDir(t);
  const copy = await tempDir(t);
  const server = await startElasticsearch({ dataDir });
  const client = new Client({ node: server.node });
  try {
    await client.index({ index: 'log', id: '1', document: { a: 1 } });
    await client.bulk({ operations: [{ index: { _index: 'log', _id: '2' } }, { a: 2 }, { delete: { _index: 'log', _id: '1' } }] });
    // Copy the directory while the server runs: what a crash would leave (no snapshot written at close).
    await cp(dataDir, copy, { recursive: true });
  } finally {
    await client.close();
    await server.close();
  }
  await withServer(copy, async (restored) => {
    assert.equal(await restored.exists({ index: 'log', id: '1' }), false);
    const two = await restored.get({ index: 'log', id: '2' });
    assert.deepEqual(two._source, { a: 2 });
    assert.equal(two._seq_no, 1);
  });
});

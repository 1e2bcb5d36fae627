import assert from 'node:assert/strict';
import { test } from 'node:test';
import { JobParams } from '../../../runtime/api/index.ts';
import { CheckpointStore } from '../../../runtime/checkpoint/index.ts';
import { JobRunner } from '../../../runtime/runner/index.ts';
import clicksToEs, { type Click, type UserClicks } from '../../../jobs/clicks-to-es.ts';
import { elasticsearchNode } from '../../support/elasticsearch-node.ts';
import { kafkaCluster } from '../../support/kafka-cluster.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { waitFor } from '../../support/wait-for.ts';

const CLICKS = 3_000;
const USERS = 40;
const PAGES = ['/', '/docs', '/pricing', '/blog'];

const CLICKS_TO_ES_MODULE = new URL('../../../jobs/clicks-to-es.ts', import.meta.url);

for (const workers of [0, 2]) test(`jobs/clicks-to-es: Kafka clicks become one document per user with the click count and the last url (workers ${workers})`, async (t) => {
  const kafka = await kafkaCluster(t);
  const es = await elasticsearchNode(t);
  const topic = await kafka.createTopic({ partitions: 2, prefix: 'clicks' });
  const index = es.uniqueIndex('user-clicks');
  const expected = new Map<string, { clicks: number; lastUrl: string; lastTs: number }>();
  const producer = await kafka.producer();
  for (let start = 0; start < CLICKS; start += 500) {
    const messages = [];
    for (let i = start; i < start + 500; i++) {
      const click: Click = { user: `u${(i * 7) % USERS}`, url: PAGES[i % PAGES.length] as string, ts: 1_700_000_000_000 + i };
      const e = expected.get(click.user);
      expected.set(click.user, { clicks: (e?.clicks ?? 0) + 1, lastUrl: click.url, lastTs: click.ts });
      messages.push({ key: click.user, value: JSON.stringify(click) });
    }
    await producer.send({ topic, messages });
  }

  const store = await CheckpointStore.open(await tempDir(t));
  t.after(() => store.close());
  const runner = new JobRunner({
    job: clicksToEs,
    store,
    workers,
    jobModule: CLICKS_TO_ES_MODULE,
    params: new JobParams([['brokers', kafka.brokers.join(',')], ['node', es.node], ['topic', topic], ['index', index], ['flushMs', '100']]),
  });
  const run = runner.run();
  t.after(async () => {
    runner.cancel('test over');
    await run.catch(() => undefined);
  });
  const client = es.client();
  const documents = await waitFor(
    async () => {
      if (!(await client.indices.exists({ index }))) return undefined;
      await client.indices.refresh({ index });
      const result = await client.search<UserClicks>({ index, size: 1_000 });
      const docs = result.hits.hits.map((h) => h._source as UserClicks);
      return docs.reduce((n, d) => n + d.clicks, 0) === CLICKS ? result.hits.hits : undefined;
    },
    { timeoutMs: 60_000, intervalMs: 200, message: 'every click counted in the index' },
  );
  runner.cancel('test over');
  assert.equal(await run, 'cancelled');
  assert.equal(runner.workers, workers, 'ran on the workers asked for');
  assert.equal(documents.length, USERS);
  for (const hit of documents) {
    const doc = hit._source as UserClicks;
    assert.equal(hit._id, doc.user, 'document id = user');
    assert.deepEqual({ clicks: doc.clicks, lastUrl: doc.lastUrl, lastTs: doc.lastTs }, expected.get(doc.user));
  }
});

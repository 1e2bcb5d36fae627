/**
 * jobs/pageviews-per-minute.ts as users run it (`sluice run`, worker threads by default) on 4 Kafka partitions of
 * seeded, out-of-order page views: killed with -9 mid-stream and run again at parallelism 3 while windows are open,
 * its per-minute documents equal a brute-force count, no extra documents; then a view inside the allowed lateness
 * updates its minute, and one past it lands exactly once in the late-records topic.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { MINUTE_MS, type PageMinute, type PageView } from '../../../jobs/pageviews-per-minute.ts';
import { elasticsearchNode } from '../../support/elasticsearch-node.ts';
import { kafkaCluster, type KafkaCluster } from '../../support/kafka-cluster.ts';
import { readCommitted } from '../../support/kafka-committed.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { waitFor } from '../../support/wait-for.ts';

const ROOT = join(import.meta.dirname, '..', '..', '..');
const JOB = join(ROOT, 'jobs', 'pageviews-per-minute.ts');
const VIEWS = 24_000;
const PARTITIONS = 4;
const PAGES = 17;
/** Event time of view 0: a minute boundary, so minutes are easy to read in failures. */
const BASE = Date.UTC(2026, 11, 3, 8);
const OUT_OF_ORDERNESS_MS = 5_000;

/** View `i`: 5 ms apart in event time (24 000 views span 2 minutes), shuffled by up to ±2 s. */
function viewOf(i: number): PageView {
  const jitter = ((i * 2_654_435_761) % 4_001) - 2_000;
  return { page: `/p${(i * 7_919) % PAGES}`, user: `u${i % 97}`, ts: BASE + i * 5 + jitter };
}

/** Views [from, to) round-robin over the partitions, each partition in index order (so disorder stays bounded). */
async function produce(cluster: KafkaCluster, topic: string, views: ReadonlyArray<{ partition: number; view: PageView }>): Promise<void> {
  const producer = await cluster.producer();
  for (let start = 0; start < views.length; start += 1_000) {
    await producer.send({ topic, messages: views.slice(start, start + 1_000).map(({ partition, view }) => ({ partition, key: view.page, value: JSON.stringify(view) })) });
  }
}

function expectedMinutes(views: readonly PageView[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const v of views) {
    const id = `${v.page}@${v.ts - (v.ts % MINUTE_MS)}`;
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}

function runJob(dataDir: string, args: readonly string[]) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'runtime/cli/main.ts', 'run', JOB, '--data-dir', dataDir, '--log-level', 'debug', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let completed = 0;
  child.stderr.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-20_000);
    for (const m of chunk.toString().matchAll(/"msg":"checkpoint (\d+) complete"/g)) completed = Math.max(completed, Number(m[1]));
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return { child, exited, stderr: () => stderr.slice(-4_000), completed: () => completed };
}

test('pageviews per minute: kill -9 mid-stream, rerun at parallelism 3 with windows open: documents equal a brute-force count; lateness updates, later views go to the late topic once', { timeout: 240_000 }, async (t) => {
  const cluster = await kafkaCluster(t);
  const es = await elasticsearchNode(t);
  const topic = await cluster.createTopic({ partitions: PARTITIONS, prefix: 'pageviews' });
  const lateTopic = await cluster.createTopic({ partitions: 1, prefix: 'pageviews-late' });
  const index = es.uniqueIndex('pageviews-per-minute');
  const dataDir = join(await tempDir(t), 'data');
  const params = ['--set', `brokers=${cluster.brokers.join(',')}`, '--set', `node=${es.node}`, '--set', `topic=${topic}`, '--set', `index=${index}`, '--set', `lateTopic=${lateTopic}`];
  const client = es.client();
  const documents = async (): Promise<Map<string, number>> => {
    await client.indices.refresh({ index }).catch(() => undefined);
    const found = await client.search<PageMinute>({ index, size: 1_000, query: { match_all: {} } }).catch(() => undefined);
    return new Map((found?.hits.hits ?? []).map((h) => [h._id as string, h._source?.views ?? 0]));
  };

  const views = Array.from({ length: VIEWS }, (_, i) => ({ partition: i % PARTITIONS, view: viewOf(i) }));
  const last = Math.max(...views.map((v) => v.view.ts));
  // One view per partition far ahead: the watermark (min over partitions) passes every minute of the real views.
  const lastMinuteEnd = last - (last % MINUTE_MS) + MINUTE_MS;
  const flush = Array.from({ length: PARTITIONS }, (_, partition) => ({ partition, view: { page: '/flush', user: 'flush', ts: lastMinuteEnd + OUT_OF_ORDERNESS_MS + 1 } }));
  const expected = expectedMinutes(views.map((v) => v.view));

  await produce(cluster, topic, views.slice(0, VIEWS / 2));
  const first = runJob(dataDir, params);
  t.after(() => first.child.kill('SIGKILL'));
  await waitFor(async () => (await documents()).size >= 10, { timeoutMs: 90_000, intervalMs: 200, message: 'the first run to write minutes', describe: first.stderr });
  first.child.kill('SIGKILL');
  assert.equal((await first.exited).signal, 'SIGKILL');

  await produce(cluster, topic, [...views.slice(VIEWS / 2), ...flush]);
  const second = runJob(dataDir, [...params, '-p', '3']);
  t.after(() => second.child.kill('SIGKILL'));
  let seen = new Map<string, number>();
  await waitFor(async () => (seen = await documents()).size >= expected.size && [...expected].every(([id, n]) => seen.get(id) === n), {
    timeoutMs: 120_000,
    intervalMs: 250,
    message: 'every minute counted exactly',
    describe: () => ({ documents: seen.size, expected: expected.size, log: second.stderr() }),
  });
  assert.deepEqual(new Map([...seen].sort()), new Map([...expected].sort()), 'one document per page and minute with its exact count, no extras');

  // The watermark is now past every real minute: a view in the last minute is late but inside the allowed minute of
  // lateness (its document goes up by one); a view in the first minute is past it (to the late topic, once).
  const lastMinute = lastMinuteEnd - MINUTE_MS;
  const lateInside: PageView = { page: '/p1', user: 'late', ts: lastMinute + 10 };
  const tooLate: PageView = { page: '/p2', user: 'too-late', ts: BASE + 10 };
  await produce(cluster, topic, [{ partition: 0, view: lateInside }, { partition: 1, view: tooLate }]);
  const updatedId = `/p1@${lastMinute}`;
  await waitFor(async () => (await documents()).get(updatedId) === (expected.get(updatedId) ?? 0) + 1, { timeoutMs: 60_000, intervalMs: 200, message: 'the late view to update its minute', describe: second.stderr });
  // Two checkpoints more: the second completes only after the first's transactions (the too-late view's) committed.
  const after = second.completed() + 2;
  await waitFor(() => second.completed() >= after, { timeoutMs: 60_000, message: 'two more checkpoints', describe: second.stderr });
  second.child.kill('SIGINT');
  assert.equal((await second.exited).code, 0, second.stderr());

  const { committed } = await readCommitted(cluster, lateTopic, 1);
  assert.deepEqual(committed.map((r) => JSON.parse(r.value) as PageView), [tooLate], 'the too-late view, exactly once');
  const final = await documents();
  assert.equal(final.get(`/p2@${BASE}`), expected.get(`/p2@${BASE}`), 'the too-late view changed nothing');
});

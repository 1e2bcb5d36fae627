/**
 * The quickstart (`npm start`): Kafka → Sluice → Elasticsearch on this machine, with no external services.
 *
 * 1. starts the devstack in this process: a Kafka-protocol broker and an Elasticsearch-API server (free ports,
 *    in memory);
 * 2. creates the topic `clicks` (2 partitions) and produces a sample click stream `{ user, url, ts }` into it;
 * 3. runs jobs/clicks-to-es.ts with checkpoints (clicks per user and the last url → index `user-clicks`, id = user);
 * 4. shows the counts arriving in the index (the busiest users, refreshed), and ends by itself once every click is
 *    counted there (or on Ctrl-C).
 *
 *   npm start                       # 60,000 clicks by 500 users
 *   npm start -- --clicks 200000    # more
 *
 * Not a job module: a script that sets up the stage and runs the job with the runtime's JobRunner, as `sluice run`
 * would. Its output is for a person: progress on stdout.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Client } from '@elastic/elasticsearch';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import { startElasticsearch } from '../devstack/elasticsearch/index.ts';
import { startKafkaBroker } from '../devstack/kafka/index.ts';
import { JobParams } from '../runtime/api/index.ts';
import { CheckpointStore } from '../runtime/checkpoint/index.ts';
import { createLogger } from '../runtime/logging/index.ts';
import { JobRunner } from '../runtime/runner/index.ts';
import clicksToEs, { type Click, type UserClicks } from './clicks-to-es.ts';

const TOPIC = 'clicks';
const INDEX = 'user-clicks';
const PAGES = ['/', '/pricing', '/docs', '/docs/jobs', '/docs/checkpoints', '/blog', '/signup', '/login', '/cart', '/checkout'];

const { values } = parseArgs({
  options: { clicks: { type: 'string', default: '60000' }, users: { type: 'string', default: '500' }, 'timeout-s': { type: 'string', default: '300' } },
});
const totalClicks = positive('--clicks', values.clicks);
const users = positive('--users', values.users);
const timeoutMs = positive('--timeout-s', values['timeout-s']) * 1000;
const out = process.stdout;
const tty = out.isTTY === true;
const logger = createLogger({ level: process.env['LOG_LEVEL'] ?? 'warn' });

const started = Date.now();
out.write('Sluice quickstart: Kafka → Sluice → Elasticsearch, all in this process\n');
const broker = await startKafkaBroker({ numPartitions: 2 });
const es = await startElasticsearch();
const dataDir = await mkdtemp(join(tmpdir(), 'sluice-quickstart-'));
out.write(`  Kafka broker          ${broker.brokers.join(',')}\n  Elasticsearch server  ${es.node}\n  checkpoints           ${dataDir}\n\n`);

const kafka = new Kafka({ clientId: 'quickstart', brokers: broker.brokers, logLevel: logLevel.NOTHING });
const admin = kafka.admin();
await admin.connect();
await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: 2, replicationFactor: 1 }], waitForLeaders: true });
await admin.disconnect();
const producer = kafka.producer();
await producer.connect();

const store = await CheckpointStore.open(dataDir, { logger });
const runner = new JobRunner({
  job: clicksToEs,
  params: new JobParams([['brokers', broker.brokers.join(',')], ['node', es.node], ['topic', TOPIC], ['index', INDEX]]),
  // As `sluice run` does: the subtasks run on worker threads (one per core), each importing the job's module.
  jobModule: new URL('./clicks-to-es.ts', import.meta.url),
  store,
  logger,
});
let checkpoints = 0;
runner.events.subscribe((e) => {
  if (e.type === 'checkpoint-completed') checkpoints++;
});
const stop = (): void => runner.cancel('stopped (Ctrl-C)');
process.once('SIGINT', stop);
process.once('SIGTERM', stop);

const client = new Client({ node: es.node });
let watching = true;
let usersSeen = 0;
const running = runner.run();
const producing = produceClicks(producer, totalClicks, users);
let exitCode = 0;
try {
  const outcome = await Promise.race([running, watchIndex()]);
  if (outcome === 'counted') {
    runner.cancel('stopped: every sample click is counted');
    await running;
    out.write(`\nDone: ${totalClicks.toLocaleString('en')} clicks by ${usersSeen} users counted in index "${INDEX}" in ${seconds()} s ` +
      `(${checkpoints} checkpoints). Next: docs/connectors/elasticsearch.md, jobs/clicks-to-es.ts\n`);
  } else if (outcome === 'cancelled') {
    out.write('\nStopped.\n');
  } else {
    out.write(`\nThe job ended (${outcome}) before every click was counted.\n`);
    exitCode = 1;
  }
} catch (err) {
  out.write(`\nThe quickstart failed: ${(err as Error).message}\n`);
  exitCode = 1;
} finally {
  watching = false;
  process.removeListener('SIGINT', stop);
  process.removeListener('SIGTERM', stop);
  await producing.catch(() => undefined);
  await producer.disconnect().catch(() => undefined);
  await client.close();
  await store.close();
  await Promise.all([broker.close(), es.close()]);
  await rm(dataDir, { recursive: true, force: true });
}
process.exitCode = exitCode;

/** Produces the sample in batches of 1,000 (kafkajs's sweet spot), keyed by user, a few batches per 100 ms. */
async function produceClicks(target: Producer, count: number, userCount: number): Promise<void> {
  let seed = 42;
  const random = (): number => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  for (let sent = 0; sent < count && runner.state !== 'cancelled'; ) {
    const messages = [];
    for (let i = 0; i < 1_000 && sent < count; i++, sent++) {
      // A skewed audience: a few users click a lot, as on a real site.
      const user = `user-${String(Math.floor(userCount * random() ** 3)).padStart(3, '0')}`;
      const click: Click = { user, url: PAGES[Math.floor(random() * PAGES.length)] as string, ts: Date.now() };
      messages.push({ key: user, value: JSON.stringify(click) });
    }
    await target.send({ topic: TOPIC, messages });
    await new Promise((resolve) => setTimeout(resolve, 150)); // ~6,000 clicks/s: slow enough to watch
  }
}

/** Shows the busiest users as the index fills; resolves 'counted' once the index holds every click. */
async function watchIndex(): Promise<'counted'> {
  let linesShown = 0;
  while (watching) {
    if (Date.now() - started > timeoutMs) throw new Error(`not every click was counted after ${timeoutMs / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const docs = await userDocuments().catch(() => [] as UserClicks[]);
    const counted = docs.reduce((n, d) => n + d.clicks, 0);
    const top = [...docs].sort((a, b) => b.clicks - a.clicks || a.user.localeCompare(b.user)).slice(0, 5);
    const lines = [
      `${seconds()} s  clicks counted in "${INDEX}": ${counted.toLocaleString('en')} / ${totalClicks.toLocaleString('en')}   users: ${docs.length}   checkpoints: ${checkpoints}`,
      ...top.map((d, i) => `  ${i + 1}. ${d.user}  ${String(d.clicks).padStart(6)} clicks   last ${d.lastUrl}`),
    ];
    if (tty && linesShown > 0) out.write(`\x1b[${linesShown}A\x1b[0J`);
    if (tty || counted === totalClicks || Math.round((Date.now() - started) / 500) % 4 === 0) {
      out.write(`${lines.join('\n')}\n`);
      linesShown = tty ? lines.length : 0;
    }
    usersSeen = docs.length;
    if (counted === totalClicks) return 'counted';
  }
  return new Promise(() => undefined); // the job ended first; the race is decided by it
}

async function userDocuments(): Promise<UserClicks[]> {
  if (!(await client.indices.exists({ index: INDEX }))) return [];
  await client.indices.refresh({ index: INDEX });
  const result = await client.search<UserClicks>({ index: INDEX, size: 10_000 });
  return result.hits.hits.map((h) => h._source as UserClicks);
}

function seconds(): string {
  return ((Date.now() - started) / 1000).toFixed(1);
}

function positive(flag: string, value: string | undefined): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) {
    process.stderr.write(`${flag} expects a positive integer, got "${value}"\n`);
    process.exit(2);
  }
  return n;
}

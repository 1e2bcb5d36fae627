/**
 * Renders docs/dashboard.png: the dashboard's job page for a Kafka job under load, in headless Chromium.
 *
 *   npm run screenshot            # writes docs/dashboard.png
 *   npm run screenshot -- out.png
 *
 * Everything runs in this process on free ports: the devstack Kafka broker, a click stream into a 3-partition topic
 * that outpaces the job's first seconds (so lag shows), and the service with the test job. Not a test: a script
 * for the docs, next to the browser tests whose helpers it shares.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel } from 'kafkajs';
import { startKafkaBroker } from '../../devstack/kafka/index.ts';
import { silentLogger } from '../../runtime/logging/index.ts';
import { startService } from '../../runtime/service/index.ts';
import { launchChromium } from './chromium.ts';
import { startClickStream } from './click-stream.ts';

const output = resolve(process.argv[2] ?? fileURLToPath(new URL('../../docs/dashboard.png', import.meta.url)));
const jobFile = fileURLToPath(new URL('./fixtures/kafka-count-job.ts', import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const broker = await startKafkaBroker({ numPartitions: 3 });
const kafka = new Kafka({ clientId: 'dashboard-screenshot', brokers: broker.brokers, logLevel: logLevel.NOTHING });
const admin = kafka.admin();
await admin.connect();
await admin.createTopics({ topics: [{ topic: 'clicks', numPartitions: 3, replicationFactor: 1 }], waitForLeaders: true });
await admin.disconnect();
const producer = kafka.producer();
await producer.connect();
// A backlog first, so the chart shows lag being worked off, then a steady stream.
for (let i = 0; i < 20; i++) await producer.send({ topic: 'clicks', messages: Array.from({ length: 5_000 }, (_, j) => ({ key: `user-${j % 50}`, value: JSON.stringify({ user: `user-${j % 50}` }) })) });
const stream = startClickStream(producer, 'clicks', { perTick: 200 });
const dir = await mkdtemp(join(tmpdir(), 'sluice-screenshot-'));
const service = await startService({ dataDir: join(dir, 'data'), port: 0, logger: silentLogger() });
const browser = await launchChromium();
try {
  const submitted = await fetch(`${service.url}/v1/jobs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ file: jobFile, params: { brokers: broker.brokers.join(','), topic: 'clicks', group: 'screenshot', output: join(dir, 'out') } }),
  });
  if (submitted.status !== 201) throw new Error(`submit failed: ${submitted.status} ${await submitted.text()}`);
  await sleep(8_000);
  await fetch(`${service.url}/v1/jobs/dashboard-clicks/rescale`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ parallelism: 3 }) });
  await sleep(6_000);
  const page = await browser.newPage();
  await page.setViewport({ width: 1200, height: 1000, deviceScaleFactor: 1 });
  await page.goto(`${service.url}/#/jobs/dashboard-clicks`);
  await page.waitForSelector('#lag-chart polyline');
  await sleep(1_500);
  await page.screenshot({ path: output, fullPage: false });
  process.stdout.write(`wrote ${output}\n`);
} finally {
  await browser.close();
  await service.close();
  await stream.stop();
  await producer.disconnect();
  await broker.close();
  await rm(dir, { recursive: true, force: true });
}

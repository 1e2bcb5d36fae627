/**
 * Memory of a cluster member moving a savepoint through the checkpoints topic: a savepoint's blobs are the whole
 * state. The savepoint (BLOBS blobs of BLOB_MIB MiB, default 128 × 1.5 MiB, as a 128-key-group job) is written to a
 * local store in one process; another process, with a 256 MiB old space as a LevelDB-backend job might have,
 * publishes it to a devstack broker in a third process (`CheckpointPublisher.publish`, none of its blobs in the topic
 * yet); a fourth, with the same old space and an empty store, takes the job over as a member does (reads the job's
 * partition, then adopts the newest complete checkpoint from it); a fifth publishes the savepoint's export file for
 * the job's owner (`sluice checkpoint restore`), and a sixth, as that owner, reads it back and imports it. Figures:
 * how much each process's anonymous memory grew (its peak, sampled every 20 ms, less its memory before), against the
 * savepoint's size.
 *
 * Run: `npx tsx bench/cluster-savepoint-replication.ts`
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { CheckpointStore } from '../runtime/checkpoint/index.ts';
import { CheckpointPublisher } from '../runtime/cluster/checkpoints/checkpoint-publisher.ts';
import { ClusterCheckpointTools } from '../runtime/cluster/checkpoints/checkpoint-tools.ts';
import { ReplicatedJobView } from '../runtime/cluster/checkpoints/replicated-view.ts';
import { silentLogger } from '../runtime/logging/index.ts';
import { emitFigure } from './support/figure.ts';
import { spawnBrokerProcess } from './support/spawn-broker.ts';

const BLOBS = Number(process.env['BLOBS'] ?? 128);
const BLOB_MIB = Number(process.env['BLOB_MIB'] ?? 1.5);
const JOB = 'replicated';
const TOPIC = 'checkpoints';

interface Result {
  readonly growthMiB: number;
  readonly ms: number;
}

if (process.argv[2] === '--step') {
  const [, , , step, dir, brokers] = process.argv;
  if (step === 'build') await build(dir!);
  else if (step === 'publish') process.stdout.write(`RESULT ${JSON.stringify(await publish(dir!, brokers!.split(',')))}\n`);
  else if (step === 'takeover') process.stdout.write(`RESULT ${JSON.stringify(await takeOver(dir!, brokers!.split(',')))}\n`);
  else process.stdout.write(`RESULT ${JSON.stringify(await importStep(step!, dir!, (brokers ?? '').split(',')))}\n`);
  process.exit(0);
}

async function build(dir: string): Promise<void> {
  const store = await CheckpointStore.open(dir);
  const blobs = Array.from({ length: BLOBS }, (_, keyGroup) => ({ operatorUid: 'count', keyGroup, bytes: randomBytes(Math.round(BLOB_MIB * 1024 * 1024)) }));
  const header = { job: JOB, id: 1, kind: 'savepoint' as const, timestamp: 1, durationMs: 1, parallelism: 1, maxParallelism: BLOBS, operators: [{ uid: 'count', name: 'count', parallelism: 1, stateful: true }], sourcePositions: {} };
  await store.write(header, blobs, { retain: 3 });
  await store.close();
}

function anonymousMiB(): number {
  return Number(/RssAnon:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 0) / 1024;
}

async function publish(dir: string, brokers: string[]): Promise<Result> {
  const logger = silentLogger();
  const kafka = new Kafka({ brokers, logLevel: logLevel.NOTHING });
  const store = await CheckpointStore.open(dir);
  const savepoint = (await store.latestValid(JOB))!.manifest;
  const view = await ReplicatedJobView.read({ kafka, topic: TOPIC, partitions: 1, job: JOB, logger });
  const publisher = await CheckpointPublisher.open({ kafka, topic: TOPIC, partitions: 1, job: JOB, epoch: 1, member: 'bench', store, retain: 3, override: 0, view, logger });
  const before = anonymousMiB();
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, anonymousMiB())), 20);
  const started = performance.now();
  await publisher.publish(savepoint);
  const ms = performance.now() - started;
  clearInterval(sampler);
  peak = Math.max(peak, anonymousMiB());
  await publisher.close();
  await store.close();
  return { growthMiB: peak - before, ms };
}

/** What a member taking the job over does with the topic: read the job's partition, adopt its newest complete checkpoint. */
async function takeOver(dir: string, brokers: string[]): Promise<Result> {
  const kafka = new Kafka({ brokers, logLevel: logLevel.NOTHING });
  const store = await CheckpointStore.open(dir);
  const before = anonymousMiB();
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, anonymousMiB())), 20);
  const started = performance.now();
  const view = await ReplicatedJobView.read({ kafka, topic: TOPIC, partitions: 1, job: JOB, logger: silentLogger() });
  const latest = view.latestComplete();
  if (latest === undefined) throw new Error('the savepoint is not complete in the topic');
  await store.adopt(latest.manifest, view.blobs(latest));
  const ms = performance.now() - started;
  clearInterval(sampler);
  peak = Math.max(peak, anonymousMiB());
  if ((await store.latestValid(JOB))?.manifest.id !== 1) throw new Error('the adopted savepoint does not load');
  await store.close();
  return { growthMiB: peak - before, ms };
}

/**
 * `publish-import`: the savepoint's export file (written by `export`, outside the measurement) published as import 1
 * of the job, as a member does for `sluice checkpoint restore`. `restore-import`: a member with an empty store reads
 * the job's partition, reads import 1 back and imports it, as the job's owner does when it starts.
 */
async function importStep(step: string, dir: string, brokers: string[]): Promise<Result> {
  const kafka = new Kafka({ brokers, logLevel: logLevel.NOTHING });
  const logger = silentLogger();
  const tools = new ClusterCheckpointTools({ kafka, topic: TOPIC, partitions: 1, dataDir: dir, member: () => 'bench', logger });
  if (step === 'export') {
    const store = await CheckpointStore.open(dir);
    await store.exportTo(JOB, 1, join(dir, 'export.bin'));
    await store.close();
    return { growthMiB: 0, ms: 0 };
  }
  const store = step === 'restore-import' ? await CheckpointStore.open(join(dir, 'importing-owner')) : undefined;
  const before = anonymousMiB();
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, anonymousMiB())), 20);
  const started = performance.now();
  if (store === undefined) await tools.publishImport(JOB, 1, { file: join(dir, 'export.bin') });
  else {
    const view = await ReplicatedJobView.read({ kafka, topic: TOPIC, partitions: 1, job: JOB, logger });
    const read = await tools.readImport(view, 1);
    await store.importFrom(read.file, { job: JOB, idAbove: view.highestId });
    await read.release();
  }
  const ms = performance.now() - started;
  clearInterval(sampler);
  peak = Math.max(peak, anonymousMiB());
  await store?.close();
  return { growthMiB: peak - before, ms };
}

async function step(args: string[], heapMiB?: number): Promise<string> {
  const child = spawn(process.execPath, [...(heapMiB === undefined ? [] : [`--max-old-space-size=${heapMiB}`]), '--import', 'tsx', new URL(import.meta.url).pathname, '--step', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`step ${args[0]} exited with ${code}`);
  return out;
}

const dir = await mkdtemp(join(tmpdir(), 'sluice-bench-savepoint-replication-'));
const broker = await spawnBrokerProcess({ partitions: 1 });
try {
  const admin = new Kafka({ brokers: broker.brokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  // As the member creates it (cluster-topics.ts): chunks of 512 KiB in batches of up to 768 KiB.
  await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: 1, replicationFactor: 1, configEntries: [{ name: 'max.message.bytes', value: String(2 * 1024 * 1024) }] }], waitForLeaders: true });
  await admin.disconnect();
  await step(['build', dir]);
  const resultOf = (out: string): Result => JSON.parse(out.split('\n').find((l) => l.startsWith('RESULT '))!.slice('RESULT '.length)) as Result;
  const result = resultOf(await step(['publish', dir, broker.brokers.join(',')], 256));
  const takeover = resultOf(await step(['takeover', join(dir, 'new-owner'), broker.brokers.join(',')], 256));
  await step(['export', dir]);
  const publishedImport = resultOf(await step(['publish-import', dir, broker.brokers.join(',')], 256));
  const restoredImport = resultOf(await step(['restore-import', dir, broker.brokers.join(',')], 256));
  const sizeMiB = BLOBS * BLOB_MIB;
  process.stderr.write(`[cluster-savepoint-replication] ${sizeMiB} MiB savepoint replicated in ${(result.ms / 1000).toFixed(1)} s; memory grew ${result.growthMiB.toFixed(0)} MiB\n`);
  process.stderr.write(`[cluster-savepoint-replication] taken over (read and adopted) in ${(takeover.ms / 1000).toFixed(1)} s; memory grew ${takeover.growthMiB.toFixed(0)} MiB\n`);
  process.stderr.write(`[cluster-savepoint-replication] export published as an import in ${(publishedImport.ms / 1000).toFixed(1)} s (memory grew ${publishedImport.growthMiB.toFixed(0)} MiB); read back and imported in ${(restoredImport.ms / 1000).toFixed(1)} s (memory grew ${restoredImport.growthMiB.toFixed(0)} MiB)\n`);
  emitFigure({
    name: `cluster/savepoint replication memory growth, ${sizeMiB} MiB savepoint`,
    value: result.growthMiB,
    unit: 'MiB',
    baseline: sizeMiB,
    note: `peak anonymous memory of the publishing process less its memory before (--max-old-space-size=256), ${BLOBS} blobs of ${BLOB_MIB} MiB none of which were in the topic; ${(result.ms / 1000).toFixed(1)} s; baseline: the savepoint's size`,
  });
  emitFigure({
    name: `cluster/takeover memory growth, ${sizeMiB} MiB savepoint`,
    value: takeover.growthMiB,
    unit: 'MiB',
    baseline: sizeMiB,
    note: `peak anonymous memory of a member with an empty store (--max-old-space-size=256) reading the job's partition and adopting the savepoint from it, less its memory before; ${(takeover.ms / 1000).toFixed(1)} s; baseline: the savepoint's size`,
  });
  emitFigure({
    name: `cluster/import publish memory growth, ${sizeMiB} MiB savepoint`,
    value: publishedImport.growthMiB,
    unit: 'MiB',
    baseline: sizeMiB,
    note: `peak anonymous memory of a member (--max-old-space-size=256) publishing the savepoint's export file as an import (checked in a scratch store, then sent chunk by chunk), less its memory before; ${(publishedImport.ms / 1000).toFixed(1)} s; baseline: the savepoint's size`,
  });
  emitFigure({
    name: `cluster/import restore memory growth, ${sizeMiB} MiB savepoint`,
    value: restoredImport.growthMiB,
    unit: 'MiB',
    baseline: sizeMiB,
    note: `peak anonymous memory of the job's owner (--max-old-space-size=256, empty store) reading the import back from the topic and importing it, less its memory before; ${(restoredImport.ms / 1000).toFixed(1)} s; baseline: the savepoint's size`,
  });
} finally {
  await broker.stop();
  await rm(dir, { recursive: true, force: true });
}

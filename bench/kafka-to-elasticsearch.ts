/**
 * Kafka → Elasticsearch end to end (issue 6's figures), the devstack broker and Elasticsearch server each in a child
 * process:
 *
 * 1. throughput, bar ≥ 1.0×: every record of a topic (4 partitions, 100-byte JSON values) becomes a document
 *    with id `<topic>-<partition>-<offset>`;
 *    baseline: a hand-written kafkajs `eachBatch` → `JSON.parse` → `client.helpers.bulk` (flushBytes 5 MiB,
 *              concurrency 2, awaited per batch so offsets are committed only after the documents are written);
 *    ours:     `kafkaSource(json)` → `elasticsearchSink({ id: 'topic-partition-offset' })`, p = 1, checkpoints every
 *              1 s, default bulk options.
 *    Same data, alternately, fresh index per run, each timed from its first record to its last acknowledged
 *    document; median of the runs.
 * 2. peak RSS (VmHWM) of a `sluice run` process (bench/support/kafka-to-es-job.ts) while it moves `rssRecords`
 *    records (default 2M) into an Elasticsearch that delays every bulk by 200 ms (bar ≤ 256 MiB), for each of
 *    RSS_VARIANTS. The throughput includes start-up and the ~250 ms polling of the index count.
 *
 *   npx tsx bench/kafka-to-elasticsearch.ts [records=200000] [rssRecords=2000000] [runs=2]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Client } from '@elastic/elasticsearch';
import { Kafka, logLevel } from 'kafkajs';
import { elasticsearchSink, type BulkOptions } from '../connectors/elasticsearch/index.ts';
import { kafkaSource, type KafkaRecord } from '../connectors/kafka/index.ts';
import { defineJob } from '../runtime/api/index.ts';
import { CheckpointStore } from '../runtime/checkpoint/index.ts';
import { JobRunner } from '../runtime/runner/index.ts';
import { fillBenchTopic } from './support/fill-topic.ts';
import { emitFigure, median } from './support/figure.ts';
import { type BenchEvent } from './support/bench-events.ts';

const RECORDS = Number(process.argv[2] ?? 200_000);
const RSS_RECORDS = Number(process.argv[3] ?? 2_000_000);
const RUNS = Number(process.argv[4] ?? 2);
const PARTITIONS = 4;
/** One peak-RSS measurement: bulk options of the job and extra `sluice run` arguments. */
interface RssVariant {
  readonly label: string;
  readonly maxActions: number;
  readonly maxInFlight: number;
  readonly sluiceArgs: readonly string[];
}

/**
 * The sink's default bulk options (1,000 actions, 2 in flight: ~10,000 records/s at 200 ms per bulk, so this run
 * takes ~4 minutes), then 10× larger bulks twice as wide (8× the documents in memory), as `sluice run` runs by default
 * (old generation grows 30 % over the live set before a full GC, runtime/cli/heap-growth.ts) and with V8's own heap
 * growth, which trades memory for CPU.
 */
const RSS_VARIANTS: readonly RssVariant[] = [
  { label: 'default', maxActions: 1_000, maxInFlight: 2, sluiceArgs: [] },
  { label: 'bulk-10000x4', maxActions: 10_000, maxInFlight: 4, sluiceArgs: [] },
  { label: 'bulk-10000x4-v8-heap-growth', maxActions: 10_000, maxInFlight: 4, sluiceArgs: ['--heap-growth', '0'] },
];

const log = (text: string): void => void process.stderr.write(`[kafka-to-elasticsearch] ${text}\n`);

/** Starts a bench/support child process that prints one JSON line once listening. */
async function child<T>(script: string, args: string[]): Promise<{ info: T; stop(): Promise<void> }> {
  const path = fileURLToPath(new URL(`./support/${script}`, import.meta.url));
  const proc: ChildProcess = spawn(process.execPath, ['--import', 'tsx', path, ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: proc.stdout! }).once('line', resolve);
    proc.once('exit', (code) => reject(new Error(`${script} exited with code ${code} before listening`)));
  });
  return {
    info: JSON.parse(line) as T,
    stop: async () => {
      proc.kill('SIGTERM');
      await exited;
    },
  };
}

async function countDocuments(node: string, index: string): Promise<number> {
  const client = new Client({ node });
  try {
    await client.indices.refresh({ index });
    return (await client.count({ index })).count;
  } finally {
    await client.close();
  }
}

/** The hand-written pipeline: kafkajs eachBatch, JSON.parse, helpers.bulk with the same ids. */
async function baseline(kafka: Kafka, node: string, topic: string, records: number): Promise<number> {
  const index = `bench-base-${randomUUID()}`;
  const client = new Client({ node });
  const consumer = kafka.consumer({ groupId: `bench-${randomUUID()}`, maxWaitTimeInMs: 500 });
  await consumer.connect();
  try {
    let written = 0;
    let first = 0;
    let done!: (at: number) => void;
    const finished = new Promise<number>((resolve) => (done = resolve));
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachBatch: async ({ batch }) => {
        if (first === 0) first = performance.now();
        const items = batch.messages.map((m) => ({ id: `${batch.topic}-${batch.partition}-${m.offset}`, doc: JSON.parse(m.value!.toString()) as BenchEvent }));
        const stats = await client.helpers.bulk({
          datasource: items,
          onDocument: (item) => [{ index: { _index: index, _id: item.id } }, item.doc],
          flushBytes: 5 * 1024 * 1024,
          concurrency: 2,
        });
        if (stats.failed > 0) throw new Error(`baseline: ${stats.failed} documents failed`);
        written += stats.successful;
        if (written >= records) done(performance.now());
      },
    });
    const end = await finished;
    const count = await countDocuments(node, index);
    if (count !== records) throw new Error(`baseline indexed ${count} of ${records}`);
    return records / ((end - first) / 1000);
  } finally {
    await consumer.disconnect();
    await client.indices.delete({ index }).catch(() => undefined);
    await client.close();
  }
}

/** The Sluice job; resolves records/s and the peak RSS of this process while it ran. */
async function ours(brokers: string[], node: string, topic: string, records: number, bulk: Partial<BulkOptions>): Promise<{ rate: number; peakRss: number }> {
  const index = `bench-sluice-${randomUUID()}`;
  const dir = await mkdtemp(join(tmpdir(), 'sluice-es-bench-cp-'));
  const store = await CheckpointStore.open(dir);
  let first = 0;
  const sink = elasticsearchSink<KafkaRecord<BenchEvent>>({ node, index, id: 'topic-partition-offset', bulk });
  const job = defineJob({ name: `bench-es-${randomUUID().slice(0, 8)}`, parallelism: 1, checkpoints: { intervalMs: 1000 } }, (env) => {
    env
      .source(kafkaSource<BenchEvent>({ brokers, topics: [topic], format: 'json' }))
      .map((r) => {
        if (first === 0) first = performance.now();
        return r;
      })
      .sink(sink);
  });
  const runner = new JobRunner({ job, store });
  let checkpoints = 0;
  runner.events.subscribe((e) => {
    if (e.type === 'checkpoint-completed') checkpoints++;
  });
  let peakRss = process.memoryUsage.rss();
  log(`  RSS before the job: ${(peakRss / 2 ** 20).toFixed(0)} MiB`);
  let peakHeap = 0;
  const run = runner.run();
  let end = 0;
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setInterval(() => {
        peakRss = Math.max(peakRss, process.memoryUsage.rss());
        peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
        if (sink.metrics().actionsAcknowledged >= records) {
          end = performance.now();
          clearInterval(timer);
          resolve();
        }
      }, 10);
      run.then(
        () => reject(new Error('job ended early')),
        (err: unknown) => {
          clearInterval(timer);
          reject(err as Error);
        },
      );
    });
  } finally {
    runner.cancel('benchmark done');
    await run.catch(() => undefined);
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
  const count = await countDocuments(node, index);
  if (count !== records) throw new Error(`Sluice indexed ${count} of ${records}`);
  const client = new Client({ node });
  await client.indices.delete({ index }).catch(() => undefined);
  await client.close();
  log(`  (${checkpoints} checkpoints, ${sink.metrics().bulkRequests} bulk requests, peak heap used ${(peakHeap / 2 ** 20).toFixed(0)} MiB)`);
  return { rate: records / ((end - first) / 1000), peakRss };
}

/**
 * `sluice run bench/support/kafka-to-es-job.ts` in its own process, so its peak RSS is the job's alone (not the
 * producer's that filled the topic); stopped with SIGTERM once every document is acknowledged (counted in the index).
 */
async function sluiceRunProcess(brokers: string[], node: string, topic: string, records: number, variant: RssVariant): Promise<{ rate: number; peakRss: number }> {
  const index = `bench-sluice-rss-${randomUUID()}`;
  const dataDir = await mkdtemp(join(tmpdir(), 'sluice-es-bench-run-'));
  const root = fileURLToPath(new URL('..', import.meta.url));
  const job = fileURLToPath(new URL('./support/kafka-to-es-job.ts', import.meta.url));
  const params = { brokers: brokers.join(','), node, topic, index, maxActions: String(variant.maxActions), maxInFlight: String(variant.maxInFlight) };
  const proc = spawn(
    process.execPath,
    ['--import', 'tsx', 'runtime/cli/main.ts', 'run', job, '--data-dir', dataDir, '--log-level', 'warn', ...variant.sluiceArgs, ...Object.entries(params).flatMap(([k, v]) => ['--set', `${k}=${v}`])],
    { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const started = performance.now();
  const client = new Client({ node });
  let peakRss = 0;
  try {
    for (;;) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      const status = await readFile(`/proc/${proc.pid}/status`, 'utf8').catch(() => '');
      const hwm = /VmHWM:\s+(\d+) kB/.exec(status);
      if (hwm !== null) peakRss = Math.max(peakRss, Number(hwm[1]) * 1024);
      if (proc.exitCode !== null) throw new Error(`sluice run exited with ${proc.exitCode}`);
      if (!(await client.indices.exists({ index }))) continue;
      await client.indices.refresh({ index });
      if ((await client.count({ index })).count >= records) break;
    }
    const rate = records / ((performance.now() - started) / 1000);
    proc.kill('SIGTERM');
    await exited;
    await client.indices.delete({ index }).catch(() => undefined);
    return { rate, peakRss };
  } finally {
    proc.kill('SIGKILL');
    await client.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const broker = await child<{ brokers: string[] }>('broker-process.ts', ['--partitions', String(PARTITIONS)]);
  const brokers = broker.info.brokers;
  const kafka = new Kafka({ clientId: 'sluice-bench', brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  try {
    if (RECORDS > 0) {
      const es = await child<{ node: string }>('elasticsearch-process.ts', []);
      try {
        const topic = `bench-es-${randomUUID()}`;
        await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS, replicationFactor: 1 }], waitForLeaders: true });
        await fillBenchTopic(kafka, topic, RECORDS);
        log(`${RECORDS} records in ${topic}`);
        const base: number[] = [];
        const sluice: number[] = [];
        for (let run = 0; run < RUNS; run++) {
          base.push(await baseline(kafka, es.info.node, topic, RECORDS));
          log(`run ${run + 1}: kafkajs eachBatch + helpers.bulk ${Math.round(base[run]!)} records/s`);
          sluice.push((await ours(brokers, es.info.node, topic, RECORDS, {})).rate);
          log(`run ${run + 1}: Sluice kafkaSource → elasticsearchSink ${Math.round(sluice[run]!)} records/s`);
        }
        emitFigure({
          name: 'kafka-to-elasticsearch/throughput',
          value: median(sluice),
          unit: 'records/s',
          baseline: median(base),
          note: 'baseline: kafkajs eachBatch + JSON.parse + helpers.bulk in the same run; devstack broker and ES in child processes; bar ≥ 1.0',
        });
      } finally {
        await es.stop();
      }
    }
    if (RSS_RECORDS > 0) {
      const slow = await child<{ node: string }>('elasticsearch-process.ts', ['--latency-ms', '200']);
      try {
        const topic = `bench-es-rss-${randomUUID()}`;
        await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS, replicationFactor: 1 }], waitForLeaders: true });
        await fillBenchTopic(kafka, topic, RSS_RECORDS);
        log(`${RSS_RECORDS} records in ${topic}; Elasticsearch delays every bulk by 200 ms`);
        for (const variant of RSS_VARIANTS) {
          const { rate, peakRss } = await sluiceRunProcess(brokers, slow.info.node, topic, RSS_RECORDS, variant);
          log(`sluice run (${variant.label}) moved ${RSS_RECORDS} records at ${Math.round(rate)} records/s, peak RSS ${(peakRss / 2 ** 20).toFixed(0)} MiB`);
          const args = variant.sluiceArgs.length === 0 ? '' : ` ${variant.sluiceArgs.join(' ')}`;
          emitFigure({
            name: `kafka-to-elasticsearch/peak-rss-2M-slow-es/${variant.label}`,
            value: peakRss / 2 ** 20,
            unit: 'MiB',
            baseline: 256,
            note: `peak RSS (VmHWM) of \`sluice run${args}\` moving ${RSS_RECORDS} records at ${Math.round(rate)} records/s into an Elasticsearch adding 200 ms per bulk (bulks of ${variant.maxActions} actions, ${variant.maxInFlight} in flight); bar ≤ 256 MiB (ratio ≤ 1)`,
          });
        }
      } finally {
        await slow.stop();
      }
    }
  } finally {
    await admin.disconnect();
    await broker.stop();
  }
}

await main();

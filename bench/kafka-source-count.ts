/**
 * Kafka source → keyed count → discard, against the hand-written kafkajs loop it replaces (issue 5's figure; bar
 * ≥ 1.0× with checkpoints every second):
 *   baseline: kafkajs `eachBatch` → `JSON.parse` → count per user in a `Map`;
 *   ours:     `kafkaSource(json)` → `keyBy(user)` → `reduce` (count) → discard sink, p = 1, checkpoints every 1 s.
 * Both read the same topic (4 partitions, 100-byte JSON values, 10,000 users) from the devstack broker running in a
 * child process, alternately, 3 runs each; each is timed from its first record to its last. Median reported.
 *
 *   npx tsx bench/kafka-source-count.ts [records]      (KAFKA_BROKERS=host:port for a real cluster)
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { kafkaSource } from '../connectors/kafka/index.ts';
import { defineJob } from '../runtime/api/index.ts';
import { CheckpointStore } from '../runtime/checkpoint/index.ts';
import { JobRunner } from '../runtime/runner/index.ts';
import { fillBenchTopic } from './support/fill-topic.ts';
import { discardSink } from './support/discard-sink.ts';
import { emitFigure, median } from './support/figure.ts';
import { spawnBrokerProcess } from './support/spawn-broker.ts';
import { BENCH_USERS, type BenchEvent } from './support/bench-events.ts';

// 2M records: at ~800k records/s a run lasts ~2.5 s, so checkpoints every second really happen inside the timed part.
const RECORDS = Number(process.argv[2] ?? 2_000_000);
const PARTITIONS = 4;
const RUNS = 3;

const log = (text: string): void => void process.stderr.write(`[kafka-source-count] ${text}\n`);

/** The hand-written loop: a fresh group, eachBatch, JSON.parse, Map count. */
async function baseline(kafka: Kafka, topic: string): Promise<number> {
  const consumer = kafka.consumer({ groupId: `bench-${randomUUID()}`, maxWaitTimeInMs: 500 });
  await consumer.connect();
  try {
    const counts = new Map<string, number>();
    let seen = 0;
    let first = 0;
    let done!: (at: number) => void;
    const finished = new Promise<number>((resolve) => (done = resolve));
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachBatch: async ({ batch }) => {
        if (first === 0) first = performance.now();
        for (const message of batch.messages) {
          const event = JSON.parse(message.value!.toString()) as BenchEvent;
          counts.set(event.user, (counts.get(event.user) ?? 0) + 1);
        }
        seen += batch.messages.length;
        if (seen >= RECORDS) done(performance.now());
      },
    });
    const end = await finished;
    if (counts.size !== BENCH_USERS) throw new Error(`baseline counted ${counts.size} users`);
    return RECORDS / ((end - first) / 1000);
  } finally {
    await consumer.disconnect();
  }
}

/** The Sluice job, p = 1, checkpoints every second. */
async function ours(brokers: string[], topic: string): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-kafka-source-bench-cp-'));
  const store = await CheckpointStore.open(dir);
  const counter = { count: 0 };
  let first = 0;
  let end = 0;
  let reached!: () => void;
  const done = new Promise<void>((resolve) => (reached = resolve));
  const job = defineJob({ name: `bench-${randomUUID().slice(0, 8)}`, parallelism: 1, checkpoints: { intervalMs: 1000 } }, (env) => {
    env
      .source(kafkaSource<BenchEvent>({ brokers, topics: [topic], format: 'json' }))
      .map((r) => {
        if (first === 0) first = performance.now();
        return { user: r.value.user, n: 1 };
      })
      .keyBy((c) => c.user)
      .reduce((a, b) => ({ user: a.user, n: a.n + b.n }))
      .sink(
        (() => {
          const inner = discardSink<{ user: string; n: number }>(counter);
          return {
            name: inner.name,
            createWriter: (context) => {
              const writer = inner.createWriter(context);
              return {
                ...writer,
                write: (records) => {
                  void writer.write(records);
                  if (counter.count >= RECORDS && end === 0) {
                    end = performance.now();
                    reached();
                  }
                },
              };
            },
          };
        })(),
      );
  });
  const runner = new JobRunner({ job, store });
  const run = runner.run();
  let checkpoints = 0;
  runner.events.subscribe((e) => {
    if (e.type === 'checkpoint-completed') checkpoints++;
  });
  try {
    await Promise.race([done, run.then(() => Promise.reject(new Error('job ended early')))]);
  } finally {
    runner.cancel('benchmark done');
    await run.catch(() => undefined);
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
  log(`  (${checkpoints} checkpoints completed during the run${checkpoints === 0 ? ': too few records for the 1 s interval, the figure is without checkpoints' : ''})`);
  return RECORDS / ((end - first) / 1000);
}

async function main(): Promise<void> {
  const external = (process.env.KAFKA_BROKERS ?? '').split(',').map((b) => b.trim()).filter(Boolean);
  const broker = external.length > 0 ? undefined : await spawnBrokerProcess({ partitions: PARTITIONS });
  const brokers = broker?.brokers ?? external;
  const kafka = new Kafka({ clientId: 'sluice-bench', brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const topic = `bench-source-${randomUUID()}`;
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS, replicationFactor: 1 }], waitForLeaders: true });
    await fillBenchTopic(kafka, topic, RECORDS);
    log(`${RECORDS} records in ${topic}`);
    const base: number[] = [];
    const sluice: number[] = [];
    for (let run = 0; run < RUNS; run++) {
      base.push(await baseline(kafka, topic));
      log(`run ${run + 1}: kafkajs eachBatch + JSON.parse + Map ${Math.round(base[run]!)} records/s`);
      sluice.push(await ours(brokers, topic));
      log(`run ${run + 1}: Sluice kafkaSource → keyBy → count ${Math.round(sluice[run]!)} records/s`);
    }
    emitFigure({
      name: 'kafka-source/keyed-count-checkpoint-1s',
      value: median(sluice),
      unit: 'records/s',
      baseline: median(base),
      note: 'baseline: hand-written kafkajs eachBatch + JSON.parse + Map count in the same run; bar ≥ 1.0',
    });
  } finally {
    if (external.length > 0) await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.disconnect();
    await broker?.stop();
  }
}

await main();

/**
 * Kafka → map → Kafka, against the hand-written kafkajs consume-transform-produce loop it replaces (issue 5's
 * figure; bar ≥ 1.0× at-least-once, exactly-once reported against the same baseline):
 *   baseline: kafkajs consumer `eachBatch` (4 partitions consumed concurrently) → JSON.parse → transform →
 *             JSON.stringify → `producer.send` in sends of 1,000 messages, at most 8 in flight; each batch awaits its
 *             sends before returning, so its offsets are never ahead of what Kafka acknowledged (at-least-once);
 *   ours:     `kafkaSource(json)` → `map(transform)` → `kafkaSink` (sends of 1,000, 8 in flight), p = 1, checkpoints
 *             every 1 s, at-least-once; then the same with `guarantee: 'exactly-once'`.
 * All read the same topic (4 partitions, 100-byte JSON values, 10,000 users) from the devstack broker running in a
 * child process, alternately, 3 runs each, each into a fresh output topic; timed from the first record read until
 * every output record is acknowledged (output high watermarks, polled) — for exactly-once until the checkpoint that
 * covers the whole input completed (its transactions commit then; records are visible one EndTxn later).
 * Medians reported. The record count is a multiple of 1,000 so no partial send waits for a barrier at the end.
 *
 *   npx tsx bench/kafka-to-kafka.ts [records]      (KAFKA_BROKERS=host:port for a real cluster)
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel, type Admin, type Message } from 'kafkajs';
import { kafkaSink, kafkaSource, type KafkaSinkGuarantee } from '../connectors/kafka/index.ts';
import { defineJob } from '../runtime/api/index.ts';
import { CheckpointStore } from '../runtime/checkpoint/index.ts';
import { JobRunner } from '../runtime/runner/index.ts';
import { fillBenchTopic } from './support/fill-topic.ts';
import { emitFigure, median } from './support/figure.ts';
import { spawnBrokerProcess } from './support/spawn-broker.ts';
import { type BenchEvent } from './support/bench-events.ts';

const RECORDS = Math.ceil(Number(process.argv[2] ?? 300_000) / 1_000) * 1_000;
const PARTITIONS = 4;
const RUNS = 3;
const SEND_SIZE = 1_000;
const IN_FLIGHT = 8;

interface Enriched extends BenchEvent {
  bucket: number;
  day: number;
}

/** The per-record work both sides do: a small enrichment, the kind a real consume-transform-produce job does. */
function transform(e: BenchEvent): Enriched {
  return { ...e, bucket: e.id % 16, day: Math.floor(e.ts / 86_400_000) };
}

const log = (text: string): void => void process.stderr.write(`[kafka-to-kafka] ${text}\n`);

async function createTopic(admin: Admin, prefix: string): Promise<string> {
  const topic = `${prefix}-${randomUUID()}`;
  await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS, replicationFactor: 1 }], waitForLeaders: true });
  return topic;
}

/** Resolves with the time the output topic's high watermarks add up to `RECORDS` (every record acknowledged). */
async function outputComplete(admin: Admin, topic: string, stop: { stopped: boolean }): Promise<number> {
  for (;;) {
    const offsets = await admin.fetchTopicOffsets(topic);
    if (offsets.reduce((n, p) => n + Number(p.high), 0) >= RECORDS) return performance.now();
    if (stop.stopped) throw new Error('stopped before the output was complete');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A bounded number of concurrent sends: `run` waits while `limit` are in flight. */
class SendWindow {
  #inFlight = 0;
  readonly #waiters: Array<() => void> = [];
  constructor(readonly limit: number) {}
  async run(send: () => Promise<unknown>): Promise<void> {
    while (this.#inFlight >= this.limit) await new Promise<void>((resolve) => this.#waiters.push(resolve));
    this.#inFlight++;
    try {
      await send();
    } finally {
      this.#inFlight--;
      this.#waiters.shift()?.();
    }
  }
}

/** The hand-written loop. */
async function baseline(kafka: Kafka, admin: Admin, input: string): Promise<number> {
  const output = await createTopic(admin, 'bench-k2k-out');
  const producer = kafka.producer();
  const consumer = kafka.consumer({ groupId: `bench-${randomUUID()}`, maxWaitTimeInMs: 500 });
  await Promise.all([producer.connect(), consumer.connect()]);
  const stop = { stopped: false };
  try {
    const window = new SendWindow(IN_FLIGHT);
    let first = 0;
    await consumer.subscribe({ topic: input, fromBeginning: true });
    await consumer.run({
      partitionsConsumedConcurrently: PARTITIONS,
      eachBatch: async ({ batch }) => {
        if (first === 0) first = performance.now();
        const sends: Array<Promise<void>> = [];
        let messages: Message[] = [];
        for (const message of batch.messages) {
          const out = transform(JSON.parse(message.value!.toString()) as BenchEvent);
          messages.push({ key: out.user, value: JSON.stringify(out) });
          if (messages.length === SEND_SIZE) {
            const full = messages;
            sends.push(window.run(() => producer.send({ topic: output, messages: full })));
            messages = [];
          }
        }
        if (messages.length > 0) {
          const rest = messages;
          sends.push(window.run(() => producer.send({ topic: output, messages: rest })));
        }
        await Promise.all(sends);
      },
    });
    const end = await outputComplete(admin, output, stop);
    return RECORDS / ((end - first) / 1000);
  } finally {
    stop.stopped = true;
    await consumer.disconnect();
    await producer.disconnect();
    await admin.deleteTopics({ topics: [output] }).catch(() => undefined);
  }
}

/** The Sluice job, p = 1, checkpoints every second. */
async function ours(brokers: string[], admin: Admin, input: string, guarantee: KafkaSinkGuarantee): Promise<number> {
  const output = await createTopic(admin, 'bench-k2k-out');
  const dir = await mkdtemp(join(tmpdir(), 'sluice-kafka-to-kafka-bench-cp-'));
  const store = await CheckpointStore.open(dir);
  const stop = { stopped: false };
  let first = 0;
  const job = defineJob({ name: `bench-${randomUUID().slice(0, 8)}`, parallelism: 1, checkpoints: { intervalMs: 1000, timeoutMs: 60_000 } }, (env) => {
    env
      .source(kafkaSource<BenchEvent>({ brokers, topics: [input], format: 'json' }))
      .map((r) => {
        if (first === 0) first = performance.now();
        return transform(r.value);
      })
      .sink(
        kafkaSink<Enriched>({
          brokers,
          topic: output,
          key: (e) => e.user,
          guarantee,
          batchSize: SEND_SIZE,
          maxInFlightSends: IN_FLIGHT,
          ...(guarantee === 'exactly-once' ? { transactionalIdPrefix: `bench-${randomUUID()}`, transactionTimeoutMs: 300_000 } : {}),
        }),
      );
  });
  const runner = new JobRunner({ job, store });
  let checkpoints = 0;
  let covered!: (at: number) => void;
  const coveredAt = new Promise<number>((resolve) => (covered = resolve));
  runner.events.subscribe((e) => {
    if (e.type === 'attempt-failed') log(`  attempt failed: ${(e.error as Error).message}`);
    if (e.type !== 'checkpoint-completed') return;
    checkpoints++;
    const read = Object.values(e.manifest.sourcePositions).flat().reduce((n, p) => n + Number(p.position), 0);
    if (read >= RECORDS) covered(performance.now());
  });
  const run = runner.run();
  try {
    const done = guarantee === 'exactly-once' ? coveredAt : outputComplete(admin, output, stop);
    const end = await Promise.race([done, run.then(() => Promise.reject(new Error('job ended early')))]);
    log(`  (${checkpoints} checkpoints completed during the run)`);
    return RECORDS / ((end - first) / 1000);
  } finally {
    stop.stopped = true;
    runner.cancel('benchmark done');
    await run.catch(() => undefined);
    await store.close();
    await rm(dir, { recursive: true, force: true });
    await admin.deleteTopics({ topics: [output] }).catch(() => undefined);
  }
}

async function main(): Promise<void> {
  const external = (process.env.KAFKA_BROKERS ?? '').split(',').map((b) => b.trim()).filter(Boolean);
  const broker = external.length > 0 ? undefined : await spawnBrokerProcess({ partitions: PARTITIONS });
  const brokers = broker?.brokers ?? external;
  const kafka = new Kafka({ clientId: 'sluice-bench', brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const input = await createTopic(admin, 'bench-k2k-in');
  try {
    await fillBenchTopic(kafka, input, RECORDS);
    log(`${RECORDS} records in ${input}`);
    const base: number[] = [];
    const atLeastOnce: number[] = [];
    const exactlyOnce: number[] = [];
    for (let run = 0; run < RUNS; run++) {
      base.push(await baseline(kafka, admin, input));
      log(`run ${run + 1}: kafkajs eachBatch → map → send ${Math.round(base[run]!)} records/s`);
      atLeastOnce.push(await ours(brokers, admin, input, 'at-least-once'));
      log(`run ${run + 1}: Sluice at-least-once ${Math.round(atLeastOnce[run]!)} records/s`);
      exactlyOnce.push(await ours(brokers, admin, input, 'exactly-once'));
      log(`run ${run + 1}: Sluice exactly-once ${Math.round(exactlyOnce[run]!)} records/s`);
    }
    const note = 'baseline: hand-written kafkajs eachBatch → JSON.parse → map → send (1,000 per send, 8 in flight) in the same run';
    emitFigure({ name: 'kafka-to-kafka/at-least-once', value: median(atLeastOnce), unit: 'records/s', baseline: median(base), note: `${note}; bar ≥ 1.0` });
    emitFigure({ name: 'kafka-to-kafka/exactly-once', value: median(exactlyOnce), unit: 'records/s', baseline: median(base), note: `${note}; until the covering checkpoint (1 s interval) completed` });
  } finally {
    await admin.deleteTopics({ topics: [input] }).catch(() => undefined);
    await admin.disconnect();
    await broker?.stop();
  }
}

await main();

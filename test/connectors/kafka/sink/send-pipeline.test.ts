import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Message } from 'kafkajs';
import { resolveKafkaSinkOptions, type KafkaSinkOptions } from '../../../../connectors/kafka/sink/options.ts';
import { laneOfKey, SendPipeline, type SendFn } from '../../../../connectors/kafka/sink/send-pipeline.ts';
import { seededRandom } from '../../../support/seeded-random.ts';

interface Update {
  readonly key: string | null;
  readonly seq: number;
}

/**
 * A producer that, like kafkajs, does not keep concurrent sends in order: a send's messages land in the log only when
 * the test lets them, and `landSome` lets a random subset of the sends in flight land, in random order.
 */
function reorderingProducer(seed: number) {
  const random = seededRandom(seed);
  const log: Message[] = [];
  const pending: Array<{ messages: Message[]; done: () => void; fail: (err: Error) => void }> = [];
  let maxConcurrent = 0;
  const send: SendFn = (topicMessages) =>
    new Promise<void>((resolve, reject) => {
      pending.push({ messages: topicMessages.flatMap((t) => t.messages), done: resolve, fail: reject });
      maxConcurrent = Math.max(maxConcurrent, pending.length);
    });
  return {
    send,
    log,
    pending,
    maxConcurrent: () => maxConcurrent,
    /** Lands (and acknowledges) some of the sends in flight, in a random order; returns how many. */
    landSome(): number {
      let landed = 0;
      for (let i = pending.length - 1; i >= 0; i--) {
        if (pending.length > 1 && random() < 0.5) continue;
        const [sendCall] = pending.splice(Math.floor(random() * pending.length), 1);
        if (sendCall === undefined) continue;
        log.push(...sendCall.messages);
        sendCall.done();
        landed++;
      }
      return landed;
    },
  };
}

function pipelineOf(send: SendFn, options: Partial<KafkaSinkOptions<Update>> = {}): SendPipeline<Update> {
  const resolved = resolveKafkaSinkOptions<Update>({
    brokers: ['localhost:9092'],
    topic: 'out',
    key: (u) => u.key,
    serializer: (u) => `${u.key}:${u.seq}`,
    batchSize: 10,
    maxInFlightSends: 8,
    ...options,
  });
  return new SendPipeline(resolved, send);
}

/** Writes `updates` in chunks, landing sends whenever the pipeline asks the writer to wait (backpressure). */
async function writeAll(pipeline: SendPipeline<Update>, producer: ReturnType<typeof reorderingProducer>, updates: readonly Update[], chunk: number): Promise<void> {
  for (let i = 0; i < updates.length; i += chunk) {
    const waiting = pipeline.add(updates.slice(i, i + chunk));
    if (waiting === undefined) continue;
    let done = false;
    void waiting.then(() => (done = true));
    while (!done) {
      producer.landSome();
      await new Promise((r) => setImmediate(r));
    }
    await waiting;
  }
  const flushed = pipeline.flush();
  let done = false;
  void flushed.then(() => (done = true), () => (done = true));
  while (!done) {
    producer.landSome();
    await new Promise((r) => setImmediate(r));
  }
  await flushed;
}

/** `count` updates over `keys` keys (null among them when `withNullKey`), each key's `seq` counting up from 1. */
function updates(count: number, keys: number, seed: number, withNullKey = false): Update[] {
  const random = seededRandom(seed);
  const next = new Map<string | null, number>();
  return Array.from({ length: count }, () => {
    const pick = Math.floor(random() * keys);
    const key = withNullKey && pick === 0 ? null : `k${pick}`;
    const seq = (next.get(key) ?? 0) + 1;
    next.set(key, seq);
    return { key, seq };
  });
}

function assertInOrder(log: readonly Message[], written: readonly Update[]): void {
  assert.equal(log.length, written.length, 'every message landed exactly once');
  const last = new Map<string | null, number>();
  const wrong: string[] = [];
  for (const message of log) {
    const [key, seq] = String(message.value).split(':') as [string, string];
    const k = key === 'null' ? null : key;
    const expected = (last.get(k) ?? 0) + 1;
    if (Number(seq) !== expected) wrong.push(`${key}: ${seq} after ${expected - 1}`);
    last.set(k, Math.max(Number(seq), last.get(k) ?? 0));
  }
  assert.deepEqual(wrong.slice(0, 5), [], `each key's messages land in the order written (${wrong.length} out of order)`);
}

test('each key keeps its order however the producer reorders concurrent sends', async () => {
  for (const seed of [1, 2, 3, 4, 5]) {
    const producer = reorderingProducer(seed);
    const pipeline = pipelineOf(producer.send);
    const written = updates(5_000, 50, seed);
    await writeAll(pipeline, producer, written, 37);
    assertInOrder(producer.log, written);
    assert.ok(producer.maxConcurrent() >= 2, `different keys still travel in parallel (at most ${producer.maxConcurrent()} sends were in flight)`);
    assert.ok(producer.maxConcurrent() <= 8, 'never more sends in flight than maxInFlightSends');
  }
});

test('records without a key keep their order among themselves', async () => {
  const producer = reorderingProducer(11);
  const pipeline = pipelineOf(producer.send);
  const written = updates(3_000, 20, 11, true);
  await writeAll(pipeline, producer, written, 50);
  assertInOrder(producer.log, written);
});

test('one lane (maxInFlightSends 1) sends one batch at a time', async () => {
  const producer = reorderingProducer(7);
  const pipeline = pipelineOf(producer.send, { maxInFlightSends: 1 });
  const written = updates(1_000, 10, 7);
  await writeAll(pipeline, producer, written, 25);
  assertInOrder(producer.log, written);
  assert.equal(producer.maxConcurrent(), 1);
});

test('a lane with a full batch behind its send makes the writer wait; buffered messages stay bounded', async () => {
  const producer = reorderingProducer(3);
  const pipeline = pipelineOf(producer.send, { batchSize: 10, maxInFlightSends: 2 });
  // One key: everything in one lane. The first 10 go out at once, the next 10 wait behind them.
  const hot = Array.from({ length: 20 }, (_, i) => ({ key: 'hot', seq: i + 1 }));
  assert.equal(pipeline.add(hot.slice(0, 10)), undefined, 'a first full batch is sent without waiting');
  assert.equal(producer.pending.length, 1);
  const waiting = pipeline.add(hot.slice(10));
  assert.ok(waiting instanceof Promise, 'a second full batch behind the first makes the writer wait');
  assert.equal(producer.pending.length, 1, 'and is not sent while the first is in flight');
  producer.landSome();
  await waiting;
  assert.equal(producer.pending.length, 1, 'the waiting batch went out once the first was acknowledged');
  producer.landSome();
  await pipeline.flush();
  assertInOrder(producer.log, hot);
});

test('a failed send fails every later call with SLUICE_KAFKA_SEND_FAILED, naming the topic', async () => {
  const producer = reorderingProducer(5);
  const pipeline = pipelineOf(producer.send);
  pipeline.add(Array.from({ length: 10 }, (_, i) => ({ key: 'a', seq: i + 1 })));
  producer.pending[0]?.fail(new Error('NOT_ENOUGH_REPLICAS'));
  await pipeline.settled();
  const expected = { code: 'SLUICE_KAFKA_SEND_FAILED', message: /could not write to "out": NOT_ENOUGH_REPLICAS/ };
  await assert.rejects(pipeline.flush(), expected);
  assert.throws(() => pipeline.add([{ key: 'a', seq: 11 }]), expected);
});

test('laneOfKey: equal keys share a lane, keys spread over the lanes', () => {
  assert.equal(laneOfKey('customer-1', 8), laneOfKey('customer-1', 8));
  assert.equal(laneOfKey(Buffer.from('customer-1'), 8), laneOfKey('customer-1', 8), 'an ASCII string and its bytes hash alike');
  const perLane = new Array<number>(8).fill(0);
  for (let i = 0; i < 8_000; i++) perLane[laneOfKey(`c-${i}`, 8)]! += 1;
  assert.ok(perLane.every((n) => n > 700 && n < 1_300), `keys spread over the lanes: ${perLane.join(', ')}`);
});

import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { enrichOrder, parseOrder, type OrderWithTotal } from '../../../jobs/orders-enrich.ts';
import { JobParams } from '../../../runtime/api/index.ts';
import { CheckpointStore } from '../../../runtime/checkpoint/index.ts';
import { JobRunner } from '../../../runtime/runner/index.ts';
import { kafkaCluster } from '../../support/kafka-cluster.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { waitFor } from '../../support/wait-for.ts';
import { readCommitted } from '../../support/kafka-committed.ts';
import { ORDERS_JOB_MODULE, ordersJob } from './fixtures/orders-job.ts';
import { firedFaults, storeFault } from './fixtures/seeded-faults.ts';
import { assertPerKeyOrder, endOffsets, runUntil, settled } from './fixtures/orders-input.ts';
import { assertOnlyInjectedFailures, failedAttempts } from '../../support/injected-failures.ts';

/** Bad orders and the words their dead letter's reason must contain. */
const BAD_ORDERS: ReadonlyArray<readonly [string | null, RegExp]> = [
  ['{"orderId":"b-1","customer":"ann"', /not valid JSON/],
  ['[1,2]', /must be a JSON object/],
  ['{"customer":"ann","amount":1}', /"orderId"/],
  ['{"orderId":"b-4","customer":"  ","amount":1}', /"customer" must be a non-empty string/],
  ['{"orderId":"b-5","customer":"ann","amount":-3}', /"amount" must be a number ≥ 0, got -3/],
  ['{"orderId":"b-6","customer":"ann","amount":"12"}', /"amount" must be a number/],
  ['{"orderId":"b-7","customer":"ann","amount":5,"currency":"XYZ"}', /"currency" must be one of EUR, USD/],
  [null, /tombstone/],
];

test('parseOrder normalises good orders and names the field of bad ones', () => {
  assert.deepEqual(parseOrder(Buffer.from('{"orderId":7,"customer":" ann ","amount":3,"currency":" usd"}')), { orderId: '7', customer: 'ann', amount: 3, currency: 'USD' });
  assert.deepEqual(parseOrder(Buffer.from('{"orderId":"o","customer":"bo","amount":0}')), { orderId: 'o', customer: 'bo', amount: 0, currency: 'EUR' });
  for (const [value, reason] of BAD_ORDERS) assert.throws(() => parseOrder(value === null ? null : Buffer.from(value)), reason);
  assert.deepEqual(enrichOrder({ orderId: 'o', customer: 'c', amount: 19.99, currency: 'EUR' }), { orderId: 'o', customer: 'c', amount: 19.99, currency: 'EUR', amountEurCents: 1999, band: 'small' });
  assert.equal(enrichOrder({ orderId: 'o', customer: 'c', amount: 100, currency: 'GBP' }).band, 'medium');
  assert.equal(enrichOrder({ orderId: 'o', customer: 'c', amount: 200, currency: 'EUR' }).band, 'large');
});

for (const workers of [0, 2]) test(`bad orders go to the dead-letter topic with topic, partition, offset and reason; good ones are counted exactly once (workers ${workers})`, { timeout: 120_000 }, async (t) => {
  const cluster = await kafkaCluster(t);
  const input = await cluster.createTopic({ partitions: 2, prefix: 'orders' });
  const output = await cluster.createTopic({ partitions: 2, prefix: 'orders-enriched' });
  const deadLetters = await cluster.createTopic({ partitions: 1, prefix: 'orders-dead-letters' });
  const params = new JobParams([
    ['brokers', cluster.brokers.join(',')],
    ['input', input],
    ['output', output],
    ['deadLetters', deadLetters],
    ['txnPrefix', cluster.uniqueName('orders-dl')],
    ['group', cluster.uniqueName('orders-dl-group')],
  ]);
  const producer = await cluster.producer();
  const good = Array.from({ length: 40 }, (_, i) => ({ orderId: `g-${i}`, customer: `c-${i % 3}`, amount: i }));
  // Good and bad interleaved in one partition, so a bad order must not hold back or drop the ones after it.
  await producer.send({
    topic: input,
    messages: good.flatMap((order, i) => [
      { key: order.customer, partition: i % 2, value: JSON.stringify(order) },
      ...(i < BAD_ORDERS.length ? [{ key: `bad-${i}`, partition: i % 2, value: BAD_ORDERS[i]![0] }] : []),
    ]),
  });

  const store = await CheckpointStore.open(await tempDir(t));
  t.after(() => store.close());
  const runner = new JobRunner({ job: ordersJob, params, store, workers, jobModule: ORDERS_JOB_MODULE });
  const running = runner.run();
  const { records: letters } = await cluster.collect(deadLetters);
  try {
    await waitFor(() => letters.length >= BAD_ORDERS.length, { timeoutMs: 60_000, message: 'a dead letter per bad order', describe: () => letters.length });
    // Every good order is behind a completed checkpoint once the positions reach the end of both partitions.
    await waitFor(() => (runner.lastCheckpoint?.sourcePositions['orders'] ?? []).reduce((n, p) => n + Number(p.position), 0) === good.length + BAD_ORDERS.length, {
      timeoutMs: 60_000,
      message: 'a checkpoint past every order',
    });
    const covering = runner.lastCheckpoint?.id as number;
    await waitFor(() => (runner.lastCheckpoint?.id as number) >= covering + 2, { timeoutMs: 30_000, message: 'two more checkpoints (the covering one committed)' });
  } finally {
    runner.cancel('test over');
  }
  assert.equal(await running, 'cancelled');
  assert.equal(runner.workers, workers, 'ran on the workers asked for');
  assert.equal(runner.attempts, 1, 'bad orders do not fail the job');

  const received = letters.map((l) => JSON.parse(l.value as string) as { topic: string; partition: number; offset: number; key: string | null; value: string | null; reason: string });
  assert.equal(received.length, BAD_ORDERS.length, 'one dead letter per bad order (no replay happened)');
  for (const [i, [value, reason]] of BAD_ORDERS.entries()) {
    const letter = received.find((l) => l.key === `bad-${i}`);
    assert.ok(letter !== undefined, `dead letter of bad order ${i}`);
    assert.equal(letter.topic, input);
    assert.equal(letter.partition, i % 2);
    assert.equal(letter.value, value, 'the original value, unchanged');
    assert.match(letter.reason, reason);
    assert.ok(Number.isInteger(letter.offset) && letter.offset >= 0);
  }
  const { committed } = await readCommitted(cluster, output, 2);
  const outputs = committed.map((r) => JSON.parse(r.value) as OrderWithTotal);
  assert.deepEqual(outputs.map((o) => o.order.orderId).sort(), good.map((o) => o.orderId).sort(), 'every good order once');
  const last = new Map<string, number>();
  for (const o of outputs) last.set(o.order.customer, Math.max(last.get(o.order.customer) ?? 0, o.customerTotalEurCents));
  const expected = new Map<string, number>();
  for (const o of good) expected.set(o.customer, (expected.get(o.customer) ?? 0) + o.amount * 100);
  assert.deepEqual(last, expected, 'totals per customer count only the good orders');
});

/** Order `i` of the failure test: every 23rd one is bad (a different kind each time), keyed so it has its own key. */
function mixedOrder(i: number): { key: string; value: string | null } {
  if (i % 23 === 5) {
    const [value] = BAD_ORDERS[Math.floor(i / 23) % BAD_ORDERS.length] as readonly [string | null, RegExp];
    return { key: `bad-${i}`, value };
  }
  return { key: `c-${i % 101}`, value: JSON.stringify({ orderId: `o-${i}`, customer: `c-${i % 101}`, amount: i % 500 }) };
}

for (const workers of [0, 2]) test(
  `dead letters are exactly-once with the job: seeded failures and a restore at another parallelism commit each bad order once (workers ${workers})`,
  { timeout: 240_000 },
  async (t) => {
    const cluster = await kafkaCluster(t);
    const input = await cluster.createTopic({ partitions: 4, prefix: 'orders' });
    const output = await cluster.createTopic({ partitions: 2, prefix: 'orders-enriched' });
    const deadLetters = await cluster.createTopic({ partitions: 2, prefix: 'orders-dead-letters' });
    const params = new JobParams([
      ['brokers', cluster.brokers.join(',')],
      ['input', input],
      ['output', output],
      ['deadLetters', deadLetters],
      ['txnPrefix', cluster.uniqueName('orders-dl-eos')],
      ['group', cluster.uniqueName('orders-dl-eos-group')],
    ]);
    const producer = await cluster.producer();
    const send = async (from: number, to: number): Promise<void> => {
      for (let start = from; start < to; start += 1_000) {
        await producer.send({ topic: input, messages: Array.from({ length: Math.min(1_000, to - start) }, (_, j) => mixedOrder(start + j)) });
      }
    };
    const FIRST = 20_000;
    const TOTAL = 30_000;
    await send(0, FIRST);
    const dir = await tempDir(t);
    const store = await CheckpointStore.open(join(dir, 'data'));
    t.after(() => store.close());
    const faultsDir = join(dir, 'faults');
    await mkdir(faultsDir);

    // Phase 1 at p = 2: failures in the map (records after dead letters were written), between a checkpoint's
    // pre-commit and its store, and in the output sink's commit; seeded by params, so workers fail alike.
    const injected = (): string[] => firedFaults(faultsDir);
    const first: JobRunner = new JobRunner({
      job: ordersJob,
      params: new JobParams([...params.entries(), ['faults', faultsDir], ['failRecords', 'o-3001,o-9002,o-15003'], ['commitAfter', '6000']]),
      store,
      workers,
      jobModule: ORDERS_JOB_MODULE,
      beforeCheckpointStore: storeFault(faultsDir, () => (first.lastCheckpoint?.sourcePositions['orders'] ?? []).reduce((n, p) => n + Number(p.position), 0) >= 12_000),
    });
    const failures = failedAttempts(first);
    await runUntil(first, settled(first, input, await endOffsets(cluster, input), () => injected().length === 5));
    assert.equal(first.workers, workers, 'ran on the workers asked for');
    assertOnlyInjectedFailures(first, failures, injected(), 3);

    // Phase 2: more orders, restored at p = 3 (the dead-letter transactions of two old subtasks are spread over three).
    await send(FIRST, TOTAL);
    const second = new JobRunner({ job: ordersJob, params, store, parallelism: 3, workers, jobModule: ORDERS_JOB_MODULE });
    await runUntil(second, settled(second, input, await endOffsets(cluster, input)));
    assert.equal(second.workers, workers, 'ran on the workers asked for');

    const bad = Array.from({ length: TOTAL }, (_, i) => i).filter((i) => mixedOrder(i).key.startsWith('bad-'));
    const letters = await readCommitted(cluster, deadLetters, 2);
    const perKey = new Map<string, number>();
    for (const letter of letters.committed) perKey.set(letter.key as string, (perKey.get(letter.key as string) ?? 0) + 1);
    const repeated = [...perKey].filter(([, n]) => n > 1);
    assert.deepEqual(repeated.slice(0, 5), [], `no dead letter committed twice (${repeated.length} repeated)`);
    assert.deepEqual([...perKey.keys()].sort(), bad.map((i) => `bad-${i}`).sort(), 'a committed dead letter for every bad order');
    for (const letter of letters.committed) {
      const i = Number((letter.key as string).slice('bad-'.length));
      const [, reason] = BAD_ORDERS[Math.floor(i / 23) % BAD_ORDERS.length] as readonly [string | null, RegExp];
      assert.match((JSON.parse(letter.value) as { reason: string }).reason, reason);
    }

    const { committed } = await readCommitted(cluster, output, 2);
    assert.equal(committed.length, TOTAL - bad.length, 'every good order committed once');
    assertPerKeyOrder(committed);
    t.diagnostic(`injected: ${injected().join(', ')}; ${bad.length} dead letters; ${letters.aborted.length} aborted dead letters`);
  },
);

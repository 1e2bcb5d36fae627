import assert from 'node:assert/strict';
import { test } from 'node:test';
import { enrichOrder, parseOrder, type OrderWithTotal } from '../../../jobs/orders-enrich.ts';
import { JobParams } from '../../../runtime/api/index.ts';
import { CheckpointStore } from '../../../runtime/checkpoint/index.ts';
import { JobRunner } from '../../../runtime/runner/index.ts';
import { kafkaCluster } from '../../support/kafka-cluster.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { waitFor } from '../../support/wait-for.ts';
import { readCommitted } from '../../support/kafka-committed.ts';
import { ordersJob } from './fixtures/orders-job.ts';

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

test('bad orders go to the dead-letter topic with topic, partition, offset and reason; good ones are counted exactly once', { timeout: 120_000 }, async (t) => {
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
  const runner = new JobRunner({ job: ordersJob(), params, store });
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

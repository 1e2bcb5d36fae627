/**
 * jobs/orders-with-customers.ts: orders joined with customer profiles (event-time temporal join, connect + keyed
 * state), converted to EUR with broadcast FX rates, unmatched orders to a side output, malformed records to dead
 * letters. The job runs against the test's Kafka (devstack, or KAFKA_BROKERS) with seeded crashes, and what it
 * commits is compared with a brute-force join of the input (fixtures/orders-with-customers-data.ts); then
 * `sluice verify` runs the job file as shipped, clean and with crashes, on the same input.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import job, { latestAtOrBefore, parseOrder, parseProfile, parseRate, withoutOld, withVersion } from '../../jobs/orders-with-customers.ts';
import { readCommittedTopic, startJob, topicEnds, type TopicRecord } from '../../runtime/testing/index.ts';
import { kafkaCluster } from '../support/kafka-cluster.ts';
import { runSluice as sluice } from '../support/sluice-cli.ts';
import { expected, input, lateRecords, PARTITIONS, TIMEOUT_MS, type Input } from './fixtures/orders-with-customers-data.ts';

const JOB_FILE = fileURLToPath(new URL('../../jobs/orders-with-customers.ts', import.meta.url));

test('the parsers normalise good records and name the field of bad ones', () => {
  const json = (v: unknown): Buffer => Buffer.from(JSON.stringify(v));
  assert.deepEqual(parseOrder(json({ orderId: 7, customer: ' ann ', amount: 3, currency: ' usd', ts: '2026-01-01T10:00:00Z' })), {
    orderId: '7',
    customer: 'ann',
    amount: 3,
    currency: 'USD',
    ts: Date.UTC(2026, 0, 1, 10),
  });
  assert.equal(parseOrder(json({ orderId: 'o', customer: 'bo', amount: 0, ts: 5 })).currency, 'EUR');
  assert.deepEqual(parseProfile(json({ customer: 'ann', ts: 1, name: 'Ann' })), { customer: 'ann', ts: 1, name: 'Ann', tier: 'standard' });
  assert.deepEqual(parseRate(json({ currency: 'gbp', ts: 2, eurPerUnit: 1.2 })), { currency: 'GBP', ts: 2, eurPerUnit: 1.2 });
  assert.throws(() => parseOrder(null), /order value is null \(a tombstone\)/);
  assert.throws(() => parseOrder(json({ orderId: 'o', customer: 'c', amount: 1, ts: '2026-01-01 10:00' })), /"ts" must be epoch milliseconds or an ISO 8601 date-time with a zone/);
  assert.throws(() => parseOrder(json({ orderId: 'o', customer: 'c', amount: 1, ts: 1.5 })), /"ts"/);
  assert.throws(() => parseProfile(null), /profile value is null \(a tombstone\)/);
  assert.throws(() => parseProfile(json({ customer: 'c', ts: 1, name: '' })), /profile field "name" must be a non-empty string/);
  assert.throws(() => parseRate(json({ currency: 'usd', ts: 1 })), /rate field "eurPerUnit" must be a number > 0, got nothing/);
});

test('versions: inserted in ts order (same ts replaced), the one in force found, only those no order can need dropped', () => {
  const v = (ts: number, name = `v${ts}`): { ts: number; name: string } => ({ ts, name });
  let versions = [v(30), v(10)].reduce((all, x) => withVersion(all, x), [] as Array<{ ts: number; name: string }>);
  versions = withVersion(withVersion(versions, v(20)), v(20, 'v20b'));
  assert.deepEqual(versions, [v(10), v(20, 'v20b'), v(30)]);
  assert.equal(latestAtOrBefore(versions, 9), undefined);
  assert.deepEqual(latestAtOrBefore(versions, 20), v(20, 'v20b'));
  assert.deepEqual(latestAtOrBefore(versions, 29), v(20, 'v20b'));
  assert.deepEqual(withoutOld(versions, 25), [v(20, 'v20b'), v(30)]); // v20b still holds at 25
  assert.deepEqual(withoutOld(versions, 30), [v(30)]);
  assert.deepEqual(withoutOld(versions, 1_000), [v(30)]); // the newest always stays
  assert.deepEqual(withoutOld(versions, Number.NEGATIVE_INFINITY), versions);
});

test('orders-with-customers under seeded crashes commits exactly the brute-force temporal join: each order once, in one output, per-customer order kept', { timeout: 120_000 }, async (t) => {
  const data = input();
  assert.deepEqual(lateRecords(data), [], 'the input has no late record (else timing could change the result)');
  const want = expected(data);
  const cluster = await kafkaCluster(t);
  const topic = (prefix: string, partitions = PARTITIONS): Promise<string> => cluster.createTopic({ prefix, partitions });
  const topics = {
    orders: await topic('orders'),
    profiles: await topic('customer-profiles'),
    rates: await topic('fx-rates'),
    output: await topic('orders-with-customers'),
    unmatched: await topic('orders-unmatched'),
    deadLetters: await topic('owc-dead-letters', 1),
  };
  const producer = await cluster.producer();
  for (const name of ['orders', 'profiles', 'rates'] as const) {
    const lines: Input[typeof name] = data[name];
    await producer.send({ topic: topics[name], messages: lines.map((l, i) => ({ key: l.key, value: l.value, partition: i % PARTITIONS })) });
  }

  const run = await startJob(job, {
    params: { brokers: cluster.brokers.join(','), ...topics, timeoutMs: String(TIMEOUT_MS), idleMs: '0', txnPrefix: cluster.uniqueName('owc'), group: cluster.uniqueName('owc') },
    checkpointIntervalMs: 100,
    faults: { crashes: 3, seed: 5 },
  });
  cluster.defer(() => run.close());
  const ends = { orders: await topicEnds(cluster.brokers, topics.orders), profiles: await topicEnds(cluster.brokers, topics.profiles), rates: await topicEnds(cluster.brokers, topics.rates) };
  // Every fault fired, and three checkpoints of the last attempt cover the input: the watermark of the input's last
  // records may follow the first one's barrier (what it decides is in the second), and the sinks committed the second
  // before the third completed.
  const started = Date.now();
  await run.until(
    () => {
      if (run.faults.pending > 0) return false;
      const attempt = run.events.findLastIndex((e) => e.type === 'attempt-started');
      return run.events.slice(attempt).filter((e) => e.type === 'checkpoint-completed' && coversAll(e.manifest.sourcePositions, ends)).length >= 3;
    },
    { timeoutMs: 90_000 },
  );
  t.diagnostic(`three checkpoints covered the input after ${Date.now() - started} ms, ${run.attempts} attempts, ${run.checkpoints.length} checkpoints`);
  assert.equal(await run.stop(), 'cancelled');
  assert.equal(run.faults.fired.length, 3);

  const [output, unmatched, deadLetters] = await Promise.all([readCommittedTopic(cluster.brokers, topics.output), readCommittedTopic(cluster.brokers, topics.unmatched), readCommittedTopic(cluster.brokers, topics.deadLetters)]);

  // The main output: per customer, exactly the expected records in the expected order (a customer's records share a
  // partition; log order is what a consumer reads).
  const byCustomer = new Map<string, unknown[]>();
  for (const r of inLogOrder(output)) byCustomer.set(r.key as string, [...(byCustomer.get(r.key as string) ?? []), JSON.parse(r.value)]);
  assert.deepEqual([...byCustomer.keys()].sort(), [...want.output.keys()].sort());
  for (const [customer, records] of want.output) assert.deepEqual(byCustomer.get(customer), records, `the records of ${customer}`);

  // Unmatched: keyed by orderId, once each.
  assert.deepEqual(unmatched.map((r) => r.key).sort(), [...want.unmatched.keys()].sort());
  for (const r of unmatched) assert.deepEqual(JSON.parse(r.value), want.unmatched.get(r.key as string), `unmatched ${r.key}`);

  // Dead letters: each malformed line once, with where it came from and why.
  const letters = deadLetters.map((r) => JSON.parse(r.value) as { topic: string; partition: number; offset: number; key: string | null; value: string; reason: string });
  assert.equal(letters.length, want.deadLetters.length);
  for (const w of want.deadLetters) {
    const found = letters.filter((l) => l.topic === topics[w.input] && l.partition === w.partition && l.offset === w.offset);
    assert.equal(found.length, 1, `one dead letter for ${w.input} ${w.partition}/${w.offset}`);
    assert.equal(found[0]!.value, w.value);
    assert.equal(found[0]!.key, w.key);
    assert.match(found[0]!.reason, w.reason);
  }

  // Each order in exactly one output, or still waiting for event time to pass it.
  const ids = [
    ...output.map((r) => (JSON.parse(r.value) as { order: { orderId: string } }).order.orderId),
    ...unmatched.map((r) => r.key as string),
    ...letters.filter((l) => l.topic === topics.orders).map((l) => (/"orderId":"([^"]+)"/.exec(l.value) ?? [])[1] as string),
    ...want.waiting,
  ];
  const allOrders = data.orders.map((l) => (/"orderId":"([^"]+)"/.exec(l.value) ?? [])[1]);
  assert.deepEqual(ids.sort(), allOrders.sort());
  assert.deepEqual(want.waiting.sort(), ['o-tail-0', 'o-tail-1']);
  // The cases the input is built for all occur.
  const outputs = [...want.output.values()].flat() as Array<{ profileArrivedLater: boolean; rate: unknown }>;
  assert.ok(outputs.some((o) => o.profileArrivedLater) && outputs.some((o) => o.rate === null) && outputs.some((o) => o.rate !== null));
  const reasons = [...want.unmatched.values()].map((u) => (u as { reason: string }).reason);
  assert.ok(reasons.includes('no-profile') && reasons.includes('no-rate'));
});

test('sluice verify: jobs/orders-with-customers.ts is EXACT under crashes, per-customer order included', { timeout: 240_000 }, async (t) => {
  const data = input();
  const want = expected(data);
  const dir = await mkdtemp(join(tmpdir(), 'sluice-verify-owc-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const args = ['verify', JOB_FILE, '--set', `timeoutMs=${TIMEOUT_MS}`, '--set', 'idleMs=0', '--partitions', String(PARTITIONS), '--faults', '3', '--seed', '7'];
  for (const [name, topic] of [['orders', 'orders'], ['profiles', 'customer-profiles'], ['rates', 'fx-rates']] as const) {
    await writeFile(join(dir, `${topic}.jsonl`), `${data[name].map((l) => l.value).join('\n')}\n`);
    args.push('--input', `${topic}=${join(dir, `${topic}.jsonl`)}`);
  }
  const run = await sluice(args);
  assert.equal(run.code, 0, run.stdout + run.stderr);
  const outputs = [...want.output.values()].reduce((n, r) => n + r.length, 0);
  const total = outputs + want.unmatched.size + want.deadLetters.length;
  assert.match(
    run.stdout,
    new RegExp(
      `^EXACT: with 3 crashes the job wrote exactly what the clean run wrote \\(${total} records in kafka:orders-unmatched \\(${want.unmatched.size}\\), ` +
        `kafka:orders-with-customers \\(${outputs}\\), kafka:orders-with-customers-dead-letters \\(${want.deadLetters.length}\\)\\)`,
      'm',
    ),
  );
});

function coversAll(positions: Readonly<Record<string, ReadonlyArray<{ split: string; position: unknown }>>>, ends: Record<string, Record<string, number>>): boolean {
  return Object.entries(ends).every(([uid, splits]) => Object.entries(splits).every(([split, end]) => end === 0 || Number(positions[uid]?.find((p) => p.split === split)?.position) >= end));
}

function inLogOrder(records: readonly TopicRecord[]): TopicRecord[] {
  return [...records].sort((a, b) => a.partition - b.partition || a.offset - b.offset);
}


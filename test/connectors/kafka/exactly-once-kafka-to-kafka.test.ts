import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { enrichOrder, parseOrder, type OrderWithTotal } from '../../../jobs/orders-enrich.ts';
import { collectSink, CollectTarget } from '../../../connectors/dev/index.ts';
import { kafkaSource } from '../../../connectors/kafka/index.ts';
import { defineJob, JobParams } from '../../../runtime/api/index.ts';
import { CheckpointStore, type CheckpointManifest } from '../../../runtime/checkpoint/index.ts';
import { JobRunner } from '../../../runtime/runner/index.ts';
import { assertOnlyInjectedFailures, failedAttempts } from '../../support/injected-failures.ts';
import { kafkaCluster, type KafkaCluster } from '../../support/kafka-cluster.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { waitFor } from '../../support/wait-for.ts';
import { readCommitted, SENTINEL } from '../../support/kafka-committed.ts';
import { ORDERS_JOB_MODULE, ORDERS_JOB_NAME, ordersJob } from './fixtures/orders-job.ts';
import { firedFaults, storeFault } from './fixtures/seeded-faults.ts';
import { assertPerKeyOrder, endOffsets, orderMessage, produceOrders, runUntil, settled } from './fixtures/orders-input.ts';

const ROOT = join(import.meta.dirname, '..', '..', '..');
const CHILD_JOB = join(import.meta.dirname, 'fixtures', 'orders-job.ts');

const ORDERS = 100_000;
const PARTITIONS = 4;
/** Orders in the topic before the in-process phase with injected failures. */
const BEFORE_FAULTS = 60_000;
/** Orders produced, a send at a time, while the `sluice run` child runs; it is killed before the rest arrives. */
const WHILE_CHILD_RUNS = 15_000;

/** Records of `topic` the checkpoint's source positions are past (offsets start at 0; the input has no markers). */
function consumed(manifest: CheckpointManifest, topic: string): number {
  return (manifest.sourcePositions['orders'] ?? []).filter((p) => p.split.startsWith(`${topic}-`)).reduce((n, p) => n + Number(p.position), 0);
}

/** `sluice run` of the fixture job as a child process; tracks the checkpoints it completes from its log (at debug). */
function runChild(dataDir: string, params: JobParams, workers: number) {
  const sets = [...params.entries()].flatMap(([k, v]) => ['--set', `${k}=${v}`]);
  const args = ['run', CHILD_JOB, '--data-dir', dataDir, '--workers', String(workers), '--log-level', 'debug', ...sets];
  const child = spawn(process.execPath, ['--import', 'tsx', 'runtime/cli/main.ts', ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  let completed: number | undefined;
  let placement: string | undefined;
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    placement ??= /"msg":"(running in-process|running on \d+ worker threads)"/.exec(chunk.toString())?.[1];
    for (const m of chunk.toString().matchAll(/"msg":"checkpoint (\d+) complete"/g)) completed = Math.max(completed ?? 0, Number(m[1]));
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return { child, exited, completed: () => completed, placement: () => placement, stderr: () => stderr.slice(-4_000) };
}

/** What a failure-free run writes, computed from the input itself in partition order. */
async function expectedOutput(cluster: KafkaCluster, topic: string): Promise<{ perOrder: Map<string, OrderWithTotal>; totals: Map<string, { orders: number; cents: number }> }> {
  const byPartition = new Map<number, Buffer[]>();
  let read = 0;
  const consumer = await cluster.consumer();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachBatch: async ({ batch }) => {
      const values = byPartition.get(batch.partition) ?? [];
      byPartition.set(batch.partition, values);
      for (const m of batch.messages) values.push(m.value as Buffer);
      read += batch.messages.length;
    },
  });
  await waitFor(() => read >= ORDERS, { timeoutMs: 30_000, message: 'reading the input back' });
  await consumer.stop();
  const perOrder = new Map<string, OrderWithTotal>();
  const totals = new Map<string, { orders: number; cents: number }>();
  for (const values of byPartition.values()) {
    for (const value of values) {
      const order = enrichOrder(parseOrder(value));
      const total = totals.get(order.customer) ?? { orders: 0, cents: 0 };
      total.orders += 1;
      total.cents += order.amountEurCents;
      totals.set(order.customer, total);
      perOrder.set(order.orderId, { order, customerOrders: total.orders, customerTotalEurCents: total.cents });
    }
  }
  return { perOrder, totals };
}

/** Everything a Sluice job reading `topic` through kafkaSource (read_committed) gets, as `partition/key/value`. */
async function readWithKafkaSource(cluster: KafkaCluster, topic: string): Promise<string[]> {
  const target = new CollectTarget<string>();
  let sentinels = 0;
  const job = defineJob({ name: 'orders-eos-verify', parallelism: 2 }, (env) => {
    env
      .source(kafkaSource<string>({ brokers: cluster.brokers, topics: [topic], format: 'string', groupId: cluster.uniqueName('orders-eos-verify') }))
      .filter((r) => {
        if (r.value !== SENTINEL) return true;
        sentinels++;
        return false;
      })
      .map((r) => `${r.partition}/${r.key?.toString() ?? null}/${r.value}`)
      .sink(collectSink(target));
  });
  const runner = new JobRunner({ job, workers: 0 });
  await runUntil(runner, waitFor(() => sentinels === PARTITIONS, { timeoutMs: 60_000, message: 'kafkaSource to reach the sentinel of every partition' }));
  return [...target.records].sort();
}

for (const workers of [0, 2]) {
  test(
    `orders-enrich Kafka → Kafka exactly-once: 100k orders, injected failures, kill -9 of \`sluice run\`, rerun: committed output equals the failure-free run (workers ${workers})`,
    { timeout: 300_000 },
    async (t) => {
      const cluster = await kafkaCluster(t);
      const input = await cluster.createTopic({ partitions: PARTITIONS, prefix: 'orders' });
      const output = await cluster.createTopic({ partitions: PARTITIONS, prefix: 'orders-enriched' });
      const deadLetters = await cluster.createTopic({ partitions: 1, prefix: 'orders-dead-letters' });
      const params = new JobParams([
        ['brokers', cluster.brokers.join(',')],
        ['input', input],
        ['output', output],
        ['deadLetters', deadLetters],
        ['txnPrefix', cluster.uniqueName('orders-eos')],
        ['group', cluster.uniqueName('orders-eos-group')],
      ]);
      const dir = await tempDir(t);
      const dataDir = join(dir, 'data');
      const faultsDir = join(dir, 'faults');
      await mkdir(faultsDir);
      await produceOrders(cluster, input, 0, BEFORE_FAULTS);

      // Phase 1, in the test's process: seven seeded failures (three in the map, one between pre-commit and
      // acknowledgement, one while storing a checkpoint, two after a checkpoint is stored but before the sink's
      // commit). They are params of the job module, so they fire at the same points in worker threads.
      const faultParams = new JobParams([
        ...params.entries(),
        ['faults', faultsDir],
        ['failRecords', [8_123, 27_456, 51_789].map((i) => `o-${i}`).join(',')],
        ['preCommitAfter', '15000'],
        ['commitAfter', '20000,40000'],
      ]);
      const injected = (): string[] => firedFaults(faultsDir);
      let store = await CheckpointStore.open(dataDir);
      const first: JobRunner = new JobRunner({
        job: ordersJob,
        params: faultParams,
        store,
        workers,
        jobModule: ORDERS_JOB_MODULE,
        beforeCheckpointStore: storeFault(faultsDir, () => first.lastCheckpoint !== undefined && consumed(first.lastCheckpoint, input) >= 33_000),
      });
      const failures = failedAttempts(first);
      const beforeFaultsEnd = await endOffsets(cluster, input);
      await runUntil(first, settled(first, input, beforeFaultsEnd, () => injected().length === 7));
      assert.equal(first.workers, workers, 'ran on the workers asked for');
      await store.close();
      assert.equal(injected().length, 7, `every planned failure was injected: ${injected().join(', ')}`);
      assertOnlyInjectedFailures(first, failures, injected());

      // Phase 2: `sluice run` in a child process restores phase 1's checkpoint; orders arrive a send at a time, each
      // followed by completed checkpoints, then one more send and kill -9 while it is in flight.
      const child = runChild(dataDir, params, workers);
      t.after(() => child.child.kill('SIGKILL'));
      await waitFor(() => child.completed(), { timeoutMs: 60_000, message: 'the child to complete a checkpoint', describe: child.stderr });
      const producer = await cluster.producer();
      for (let start = BEFORE_FAULTS; start < BEFORE_FAULTS + WHILE_CHILD_RUNS; start += 1_000) {
        await producer.send({ topic: input, messages: Array.from({ length: 1_000 }, (_, j) => orderMessage(start + j)) });
        const seen = child.completed() as number;
        await waitFor(() => (child.completed() as number) >= seen + 2, { timeoutMs: 60_000, message: 'the child to complete two more checkpoints', describe: child.stderr });
      }
      const last = BEFORE_FAULTS + WHILE_CHILD_RUNS;
      await producer.send({ topic: input, messages: Array.from({ length: 1_000 }, (_, j) => orderMessage(last + j)) });
      child.child.kill('SIGKILL');
      assert.equal((await child.exited).signal, 'SIGKILL', 'the child was killed, it did not end by itself');
      assert.equal(child.placement(), workers === 0 ? 'running in-process' : `running on ${workers} worker threads`);
      store = await CheckpointStore.open(dataDir);
      const killedAt = (await store.latestValid(ORDERS_JOB_NAME))?.manifest;
      assert.ok(killedAt !== undefined, 'the killed run left a checkpoint');
      const consumedAtKill = consumed(killedAt, input);
      assert.ok(consumedAtKill > BEFORE_FAULTS && consumedAtKill < last + 1_000, `the child checkpointed its own input and was killed mid-job (${consumedAtKill} orders read)`);
      await produceOrders(cluster, input, last + 1_000, ORDERS);
      const allEnd = await endOffsets(cluster, input);

      // Phase 3: rerun on the same data directory, no faults, until every order is covered by a committed checkpoint.
      const rerun = new JobRunner({ job: ordersJob, params, store, workers, jobModule: ORDERS_JOB_MODULE });
      const restoredFrom: Array<number | undefined> = [];
      rerun.events.subscribe((e) => {
        if (e.type === 'attempt-started') restoredFrom.push(e.restoredFrom);
      });
      await runUntil(rerun, settled(rerun, input, allEnd));
      assert.equal(rerun.workers, workers, 'ran on the workers asked for');
      await store.close();
      assert.deepEqual(restoredFrom, [killedAt.id], 'the rerun restored the last checkpoint of the killed run');

      const { perOrder, totals } = await expectedOutput(cluster, input);
      const { committed, aborted } = await readCommitted(cluster, output, PARTITIONS);
      const seen = new Map<string, number>();
      const wrong: string[] = [];
      const finalTotals = new Map<string, { orders: number; cents: number }>();
      for (const record of committed) {
        const out = JSON.parse(record.value) as OrderWithTotal;
        const id = out.order.orderId;
        seen.set(id, (seen.get(id) ?? 0) + 1);
        if (record.key !== out.order.customer) wrong.push(`${id}: key ${record.key}`);
        const expected = perOrder.get(id);
        if (expected === undefined || JSON.stringify(out) !== JSON.stringify(expected)) wrong.push(`${id}: ${record.value} (expected ${JSON.stringify(expected)})`);
        const total = finalTotals.get(out.order.customer);
        if (total === undefined || total.orders < out.customerOrders) finalTotals.set(out.order.customer, { orders: out.customerOrders, cents: out.customerTotalEurCents });
      }
      const duplicates = [...seen].filter(([, n]) => n > 1);
      assert.equal(seen.size, ORDERS, `every order committed once (${seen.size} of ${ORDERS})`);
      assert.deepEqual(duplicates.slice(0, 5), [], `no order committed twice (${duplicates.length} duplicated)`);
      assert.equal(committed.length, ORDERS);
      assert.deepEqual(wrong.slice(0, 5), [], `every output record equals the failure-free one (${wrong.length} differ)`);
      assert.deepEqual(finalTotals, totals, 'final totals per customer equal the totals computed from the input');
      assertPerKeyOrder(committed);
      assert.ok(aborted.length > 0, 'failed attempts left aborted records behind (which only read_committed hides)');

      // The same committed view through Sluice's own read_committed source (it filters aborted records itself).
      const viaSource = await readWithKafkaSource(cluster, output);
      const fromMarkers = committed.map((r) => `${r.partition}/${r.key}/${r.value}`).sort();
      assert.equal(viaSource.length, fromMarkers.length, 'kafkaSource sees as many committed records as the markers say');
      assert.ok(viaSource.every((r, i) => r === fromMarkers[i]), 'kafkaSource sees exactly the committed records');
      t.diagnostic(`injected: ${injected().join(', ')}; killed after ${consumedAtKill} orders were checkpointed; ${aborted.length} aborted output records`);
    },
  );
}

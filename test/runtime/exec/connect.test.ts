/**
 * Connected streams end to end: a join of two keyed streams (keyed-join.ts), keyed records priced with broadcast
 * state (broadcast-rates.ts) and an interval join by event time (interval-join.ts) are exact through a seeded failure and restart (in-process and on worker threads), and
 * through a kill -9 of `sluice run` followed by a rerun at another parallelism (2 → 3), which restores keyed state by
 * key group and gives the broadcast state to every new subtask. Each output is checked against an oracle computed
 * here from the inputs alone: per key, exactly the expected records, counted 1..n, in order; for the interval join,
 * exactly the matching pairs, each once (the order of a key's pairs depends on how its two inputs interleave).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { readPartFiles } from '../../../connectors/dev/index.ts';
import { JobParams, type JobDefinition, type KeySelector } from '../../../runtime/api/index.ts';
import { CheckpointStore } from '../../../runtime/checkpoint/index.ts';
import { buildPhysicalPlan } from '../../../runtime/graph/index.ts';
import { JobRunner } from '../../../runtime/runner/index.ts';
import { assertCountedPerKey, indexesByKey } from '../../support/counted-per-key.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { waitFor } from '../../support/wait-for.ts';
import broadcastRates, { amountOf, currencyOf, keyOf, RATES, type Priced } from './fixtures/broadcast-rates.ts';
import intervalJoin, { expectedPairs, type Pair } from './fixtures/interval-join.ts';
import keyedJoin, { customerOf, nameOf, type Joined } from './fixtures/keyed-join.ts';

const ROOT = join(import.meta.dirname, '..', '..', '..');

interface Fixture {
  readonly name: string;
  readonly job: JobDefinition;
  readonly module: URL;
  /** Asserts `written` is exactly the failure-free output of `records` orders. */
  readonly assertExact: (written: readonly unknown[], records: number) => void;
}

/**
 * The join: every order once, with its customer's name. An order waits in keyed state for its profile when that
 * comes later, and the waiting ones leave in arrival order, so per customer each split's orders keep their order.
 */
function assertJoinedExactly(written: readonly unknown[], records: number): void {
  const joined = written as readonly Joined[];
  assert.equal(joined.length, records, 'one joined record per order: none lost, none duplicated');
  assert.deepEqual(joined.filter((j) => j.name !== nameOf(j.key)).slice(0, 5), [], 'each order joined with its own customer’s profile');
  const splitOf = (i: number): number => (i < records / 2 ? 0 : 1);
  assertCountedPerKey(joined.map((j) => ({ key: j.key, index: j.i, count: j.n })), indexesByKey(records, customerOf), splitOf);
}

/**
 * The pricing: every order once, priced at its currency's rate. Timers fire in event-time order, so each customer's
 * orders come out in index order whatever split they came from (one sequence per key, n = rank of the order).
 */
function assertPricedExactly(written: readonly unknown[], records: number): void {
  const priced = written as readonly Priced[];
  assert.equal(priced.length, records, 'one priced record per order: none lost, none duplicated');
  assertCountedPerKey(priced.map((p) => ({ key: p.key, index: p.i, count: p.n })), indexesByKey(records, keyOf), () => 0);
  const expectedEur = (i: number): number => amountOf(i) * (RATES[currencyOf(i)] as number);
  assert.deepEqual(
    priced.filter((p) => p.eur !== expectedEur(p.i)).slice(0, 5).map((p) => ({ ...p, expected: expectedEur(p.i) })),
    [],
    'each order priced at its currency’s rate, on every subtask',
  );
}

/** The interval join: every matching pair of an order and a shipment once, none other. */
function assertPairsExactly(written: readonly unknown[], records: number): void {
  const pairs = (written as readonly Pair[]).map((p) => JSON.stringify({ key: p.key, i: p.i, j: p.j })).sort();
  const expected = expectedPairs(records);
  assert.equal(pairs.length, expected.length, 'one output per matching pair: none lost, none duplicated');
  assert.deepEqual(pairs, expected);
}

const FIXTURES: readonly Fixture[] = [
  { name: 'keyed join', job: keyedJoin as JobDefinition, module: new URL('./fixtures/keyed-join.ts', import.meta.url), assertExact: assertJoinedExactly },
  { name: 'broadcast state', job: broadcastRates as JobDefinition, module: new URL('./fixtures/broadcast-rates.ts', import.meta.url), assertExact: assertPricedExactly },
  { name: 'interval join', job: intervalJoin as JobDefinition, module: new URL('./fixtures/interval-join.ts', import.meta.url), assertExact: assertPairsExactly },
];

/** The key a planned input's selector gives a record. */
const keyWith = (selector: KeySelector, record: unknown): string | number => (selector as (value: unknown) => string | number)(record);

test('a connected operator is a stage of its own reading both keyed inputs by hash, each with its own key', () => {
  const plan = buildPhysicalPlan(keyedJoin as JobDefinition, { params: new JobParams([['output', '/tmp/unused']]) });
  assert.deepEqual(plan.stages.map((s) => s.operators.map((o) => o.uid)), [['orders'], ['profiles'], ['join', 'out']]);
  assert.deepEqual(plan.stages.map((s) => s.parallelism), [2, 1, 2]);
  const join = plan.stages[2];
  assert.deepEqual(join?.inputs.map((i) => [i.stage, i.partitioning]), [[0, 'hash'], [1, 'hash']]);
  assert.deepEqual(plan.stages[0]?.outputs, [2]);
  assert.deepEqual(plan.stages[1]?.outputs, [2]);
  // Each input is routed by its own key selector, and the two agree on the key of one customer.
  const [orders, profiles] = join?.inputs ?? [];
  assert.ok(orders?.partitioning === 'hash' && profiles?.partitioning === 'hash');
  assert.equal(keyWith(orders.keySelector, { i: 7, customer: customerOf(7) }), customerOf(7));
  assert.equal(keyWith(profiles.keySelector, { customer: 'c3', name: nameOf('c3') }), 'c3');
  // A new parallelism changes the keyed stages, not the profiles source pinned to 1.
  const rescaled = buildPhysicalPlan(keyedJoin as JobDefinition, { parallelism: 3, params: new JobParams([['output', '/tmp/unused']]) });
  assert.deepEqual(rescaled.stages.map((s) => s.parallelism), [3, 1, 3]);
});

test('a keyed broadcast operator is a stage of its own reading the keyed input by hash and the broadcast one whole', () => {
  const plan = buildPhysicalPlan(broadcastRates as JobDefinition, { params: new JobParams([['output', '/tmp/unused']]) });
  assert.deepEqual(plan.stages.map((s) => s.operators.map((o) => o.uid)), [['orders'], ['rates'], ['price', 'out']]);
  assert.deepEqual(plan.stages.map((s) => s.parallelism), [2, 1, 2]);
  const price = plan.stages[2];
  assert.deepEqual(price?.inputs.map((i) => [i.stage, i.partitioning]), [[0, 'hash'], [1, 'broadcast']]);
  assert.deepEqual(plan.stages[0]?.outputs, [2]);
  assert.deepEqual(plan.stages[1]?.outputs, [2]);
  const orders = price?.inputs[0];
  assert.ok(orders?.partitioning === 'hash');
  assert.equal(keyWith(orders.keySelector, { i: 7, customer: keyOf(7), currency: currencyOf(7), amount: amountOf(7) }), keyOf(7));
  const rescaled = buildPhysicalPlan(broadcastRates as JobDefinition, { parallelism: 3, params: new JobParams([['output', '/tmp/unused']]) });
  assert.deepEqual(rescaled.stages.map((s) => s.parallelism), [3, 1, 3]);
});

const RESTART_RECORDS = 4_000;

for (const fixture of FIXTURES) {
  for (const workers of [0, 2]) {
    test(`${fixture.name}: exact output through a seeded failure and restart (workers ${workers})`, async (t) => {
      const dir = await tempDir(t);
      const store = await CheckpointStore.open(join(dir, 'data'));
      t.after(() => store.close());
      const runner = new JobRunner({
        job: fixture.job,
        params: new JobParams([['output', join(dir, 'out')], ['records', String(RESTART_RECORDS)], ['failAt', String(RESTART_RECORDS / 3)]]),
        store,
        workers,
        jobModule: fixture.module,
      });
      assert.equal(await runner.run(), 'finished');
      assert.equal(runner.attempts, 2, 'the seeded failure restarted the job once');
      fixture.assertExact(await readPartFiles(join(dir, 'out')), RESTART_RECORDS);
    });
  }
}

/** A `sluice run` of a fixture in a child process, with its log. */
interface Run {
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  readonly log: () => string;
}

function runJob(fixture: Fixture, args: readonly string[]): Run {
  const child = spawn(process.execPath, ['--import', 'tsx', 'runtime/cli/main.ts', 'run', fileURLToPath(fixture.module), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout?.on('data', (chunk: Buffer) => (log += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (log += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => {
    child.on('exit', (code) => resolve(code));
    child.on('error', () => resolve(null));
  });
  return { child, exited, log: () => log };
}

// Orders for the kill -9 runs: at 2,000/s the first run would last 10 s, far longer than it takes to commit its first
// 200 outputs (the rates arrive at once, the profiles trickle in over those 10 s), even on a loaded machine; it is
// killed then, and the rerun goes at full speed.
const CRASH_RECORDS = 20_000;

for (const fixture of FIXTURES) {
  for (const workers of [0, 2]) {
    test(`${fixture.name}: kill -9 of \`sluice run\` at p = 2, then a rerun at p = 3 restores the checkpoint and the output is exact (workers ${workers})`, async (t) => {
      const runs: Run[] = [];
      // Registered before the temporary directory's removal, so that runs left by a failed test die first.
      t.after(async () => {
        for (const run of runs) run.child.kill('SIGKILL');
        await Promise.all(runs.map((run) => run.exited));
      });
      const dir = await tempDir(t);
      const output = join(dir, 'out');
      const common = ['--data-dir', join(dir, 'data'), '--set', `output=${output}`, '--set', `records=${CRASH_RECORDS}`, '--workers', String(workers), '--log-level', 'info'];
      const placement = workers === 0 ? 'running in-process' : `running on ${workers} worker threads`;

      const first = runJob(fixture, [...common, '-p', '2', '--set', 'rate=2000']);
      runs.push(first);
      // Part files are committed only when a checkpoint completes: once some output is, crash hard. The checkpoint
      // the rerun restores then holds keyed state of many keys (waiting orders, their timers, counts). In the pricing
      // job it also holds the finished rates source (no output before every rate), so the rerun reads no rates: the
      // new third subtask prices its keys with the broadcast state restored from subtask 0's copy.
      await waitFor(async () => (await readPartFiles(output).catch(() => [])).length >= CRASH_RECORDS / 100, {
        timeoutMs: 30_000,
        intervalMs: 25,
        message: 'the first run to commit output',
        describe: () => first.log().slice(-2_000),
      });
      first.child.kill('SIGKILL');
      assert.equal(await first.exited, null, 'the first run was killed, not finished');
      assert.match(first.log(), /"parallelism":2[^\n]*"msg":"job starting"/, 'the first run started afresh at p = 2');
      assert.match(first.log(), new RegExp(`"msg":"${placement}"`), 'ran where asked');
      const committedBeforeCrash = (await readPartFiles(output)).length;
      assert.ok(committedBeforeCrash > 0 && committedBeforeCrash < CRASH_RECORDS, `crashed mid-job (${committedBeforeCrash} of ${CRASH_RECORDS} committed)`);

      const second = runJob(fixture, [...common, '--parallelism', '3', '--set', 'rate=1000000']);
      runs.push(second);
      assert.equal(await second.exited, 0, `the rerun finished: ${second.log().slice(-4_000)}`);
      assert.match(second.log(), /"parallelism":3[^\n]*job starting from checkpoint \d+/, 'restored the checkpoint at p = 3');
      assert.match(second.log(), new RegExp(`"msg":"${placement}"`), 'ran where asked');

      fixture.assertExact(await readPartFiles(output), CRASH_RECORDS);
      assert.deepEqual((await readdir(output)).filter((n) => !n.endsWith('.ndjson')), [], 'no in-progress or pending files left behind');
    });
  }
}

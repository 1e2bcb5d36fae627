/**
 * The interval join end to end: at several bounds, on two subtasks, on either state backend, it writes exactly the
 * pairs a brute-force join of the inputs gives, each output stamped with the later of its two records' times; and
 * bounds or calls that cannot work are refused when the job is built, saying what to do.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { collectSink, CollectTarget } from '../../../connectors/dev/index.ts';
import { defineJob, type IntervalBoundsOptions, type StreamEnvironment } from '../../../runtime/api/index.ts';
import { buildPhysicalPlan } from '../../../runtime/graph/index.ts';
import { runJob } from '../../../runtime/testing/index.ts';
import { LEFT, leftEvent, RIGHT, rightEvent, twoEventStreams } from './fixtures/two-event-streams.ts';

interface Pair {
  readonly l: number;
  readonly r: number;
  /** The output's event time, as the next operator sees it. */
  readonly at: number | undefined;
}

/** The pairs with equal keys and `l.ts + lower <= r.ts <= l.ts + upper`, each at the later time, as sorted lines. */
function bruteForce(lower: number, upper: number): string[] {
  const pairs: string[] = [];
  for (let i = 0; i < LEFT; i++) {
    const l = leftEvent(i);
    for (let j = 0; j < RIGHT; j++) {
      const r = rightEvent(j);
      if (l.key === r.key && r.ts >= l.ts + lower && r.ts <= l.ts + upper) pairs.push(JSON.stringify({ l: i, r: j, at: Math.max(l.ts, r.ts) }));
    }
  }
  return pairs.sort();
}

async function joinPairs(lower: number, upper: number, options: IntervalBoundsOptions, backend: 'heap' | 'leveldb' = 'heap'): Promise<string[]> {
  const target = new CollectTarget<Pair>();
  const job = defineJob({ name: 'interval-join-bounds', parallelism: 2, ...(backend === 'leveldb' ? { state: { backend: 'leveldb' as const } } : {}) }, (env) => {
    const { left, right } = twoEventStreams(env);
    left
      .keyBy((e) => e.key)
      .intervalJoin(right.keyBy((e) => e.key))
      .between(lower, upper, options)
      .process({ processElement: (l, r) => ({ l: l.n, r: r.n }) })
      // The next keyed operator sees each output's event time.
      .keyBy((p) => p.l)
      .process({ processElement: (p, ctx): Pair => ({ ...p, at: ctx.timestamp }) })
      .sink(collectSink(target));
  });
  assert.equal(await runJob(job), 'finished');
  return target.records.map((p) => JSON.stringify({ l: p.l, r: p.r, at: p.at })).sort();
}

const CASES: ReadonlyArray<{ lower: number; upper: number; options: IntervalBoundsOptions; expected: [number, number] }> = [
  { lower: 0, upper: 20, options: {}, expected: [0, 20] },
  { lower: -15, upper: 15, options: {}, expected: [-15, 15] },
  { lower: -15, upper: 15, options: { lowerExclusive: true, upperExclusive: true }, expected: [-14, 14] },
  { lower: -30, upper: -9, options: {}, expected: [-30, -9] },
  { lower: 12, upper: 12, options: {}, expected: [12, 12] },
];

for (const { lower, upper, options, expected } of CASES) {
  const label = `between(${lower}, ${upper}${Object.keys(options).length > 0 ? ', both exclusive' : ''})`;
  test(`${label} on two subtasks joins exactly the brute-force pairs, each at the later of its two times`, async () => {
    const want = bruteForce(...expected);
    assert.ok(want.length > 20, `the inputs have pairs at these bounds (${want.length})`);
    assert.deepEqual(await joinPairs(lower, upper, options), want);
  });
}

test('the LevelDB state backend joins the same pairs as the heap one', async () => {
  assert.deepEqual(await joinPairs(-15, 15, {}, 'leveldb'), bruteForce(-15, 15));
});

test('bounds and calls that cannot work are refused while the job is built, saying what to do', () => {
  const built = (build: (env: StreamEnvironment) => void): string => {
    try {
      buildPhysicalPlan(defineJob({ name: 'bad-join' }, build));
    } catch (err) {
      return (err as Error).message;
    }
    return 'accepted';
  };
  const join = (env: StreamEnvironment) => {
    const { left, right } = twoEventStreams(env);
    return left.keyBy((e) => e.key).intervalJoin(right.keyBy((e) => e.key));
  };
  assert.match(built((env) => void join(env).between(10, 5)), /between\(10, 5\) matches no pair: the lower bound must not be above the upper one/);
  assert.match(built((env) => void join(env).between(5, 5, { upperExclusive: true })), /between\(5, 5, exclusive\) matches no pair/);
  assert.match(built((env) => void join(env).between(0, 1.5)), /upperMs must be an integer number of ms, got 1.5/);
  assert.match(built((env) => void join(env).between(0, 10).process({} as never)), /needs a processElement\(left, right, ctx\) function/);
  assert.match(built((env) => void join(env).between(0, 10).process({ processElement: () => 1 }).lateRecords('middle' as never)), /say which side, 'left' or 'right'/);
  assert.match(
    built((env) => void join(env).between(0, 10).process({ processElement: () => 1 }).uid('j').lateRecords('left').sink(collectSink())),
    /the results of join "j" are not read, only its late records: send its results to a sink too/,
  );
});

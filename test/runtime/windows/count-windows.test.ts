/**
 * Count windows (`keyed.countWindow(size, slide?)`), Flink's semantics: tumbling windows of `size` records per key,
 * sliding ones of the key's last `size` records every `slide` records (fewer in the first firings), each window's
 * records in arrival order. Checked against a brute-force model of each key's records, under seeded crashes and two
 * rescales, on both state backends; and bad sizes are refused with an example.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { collection, collectSink, CollectTarget, datagen } from '../../../connectors/dev/index.ts';
import { defineJob, type StateBackendOptions } from '../../../runtime/api/index.ts';
import { buildPhysicalPlan } from '../../../runtime/graph/index.ts';
import { startJob } from '../../../runtime/testing/index.ts';
import { pacedByCheckpoints } from '../../support/paced-source.ts';
import { runThroughCrashesAndRescales } from './fixtures/crashes-and-rescales.ts';

const RECORDS = 6_000;
const KEYS = 7;
const keyOf = (i: number): string => `k${(i * 7919) % KEYS}`;

interface Row {
  readonly key: string;
  readonly start: number;
  readonly end: number;
  /** The records' numbers, in the order the window saw them. */
  readonly is: readonly number[];
}

/** Each window a key's records make, by a model of Flink's count trigger and count evictor. */
function expectedRows(size: number, slide: number): string[] {
  const byKey = new Map<string, number[]>();
  for (let i = 0; i < RECORDS; i++) byKey.set(keyOf(i), [...(byKey.get(keyOf(i)) ?? []), i]);
  const rows: string[] = [];
  for (const [key, is] of byKey) {
    for (let seen = slide; seen <= is.length; seen += slide) {
      const start = Math.max(0, seen - size);
      rows.push(JSON.stringify({ key, start, end: seen, is: is.slice(start, seen) }));
    }
  }
  return rows.sort();
}

/** The job; its sinks collect into `targets`, which outlive the builds a rescale makes. */
function countWindowJob(state: StateBackendOptions | undefined, targets: Map<string, CollectTarget<Row>>) {
  const into = (sink: string) => collectSink(targets.set(sink, targets.get(sink) ?? new CollectTarget<Row>()).get(sink)!);
  return defineJob({ name: 'count-windows', parallelism: 2, checkpoints: { intervalMs: 20, incremental: true }, ...(state === undefined ? {} : { state }) }, (env) => {
    // One split read by one subtask: each key's records arrive in the order of their numbers.
    const records = env
      .source(pacedByCheckpoints(datagen({ count: RECORDS, splits: 1, batchSize: 50, record: (i) => ({ key: keyOf(i), is: [i] }) }), 150))
      .uid('records')
      .parallelism(1);
    const keyed = records.keyBy((r) => r.key);
    keyed
      .countWindow(10)
      .aggregate({
        createAccumulator: () => [] as number[],
        add: (is, r) => {
          is.push(...r.is); // in place: the backend must keep the change
          return is;
        },
        result: (is, window, key): Row => ({ key: String(key), start: window.start, end: window.end, is }),
      })
      .uid('tumbling-aggregate')
      .sink(into('tumbling-aggregate'))
      .uid('tumbling-aggregate-out');
    keyed
      .countWindow(4)
      .process({ process: (rs, ctx): Row => ({ key: ctx.key, start: ctx.window.start, end: ctx.window.end, is: rs.flatMap((r) => r.is) }) })
      .uid('tumbling-process')
      .sink(into('tumbling-process'))
      .uid('tumbling-process-out');
    keyed
      .countWindow(10, 3)
      .reduce((a, b) => {
        a.is.push(...b.is); // in place: the window's first record must not be the one changed
        return a;
      })
      .map((r): Row => ({ key: r.key, start: -1, end: -1, is: r.is }))
      .uid('sliding-reduce')
      .sink(into('sliding-reduce'))
      .uid('sliding-reduce-out');
    keyed
      .countWindow(5, 7)
      .process<Row>({
        process(rs, ctx) {
          // Through emit, not a return: every window of 5 records, 2 records skipped between windows.
          ctx.emit({ key: ctx.key, start: ctx.window.start, end: ctx.window.end, is: rs.flatMap((r) => r.is) });
        },
      })
      .uid('sampling-process')
      .sink(into('sampling-process'))
      .uid('sampling-process-out');
  });
}

for (const [name, state, seed] of [['heap', undefined, 7], ['LevelDB', { backend: 'leveldb', cacheBytes: 8 * 1024 } as StateBackendOptions, 11]] as const) {
  test(`count windows fire exactly Flink's windows per key, in order, through seeded crashes and rescales 2 → 3 → 1 (${name})`, async (t) => {
    const targets = new Map<string, CollectTarget<Row>>();
    // The source hands out 150 records per checkpoint: the rescales come with most of the input ahead.
    await runThroughCrashesAndRescales(t, countWindowJob(state, targets), seed);

    const outputs = (sink: string): Row[] => [...(targets.get(sink)?.records ?? [])];
    const rows = (sink: string): string[] => outputs(sink).map((r) => JSON.stringify(r)).sort();
    assert.deepEqual(rows('tumbling-aggregate'), expectedRows(10, 10));
    assert.deepEqual(rows('tumbling-process'), expectedRows(4, 4));
    const sliding = outputs('sliding-reduce').map((r) => JSON.stringify({ key: r.key, is: r.is })).sort();
    assert.deepEqual(sliding, expectedRows(10, 3).map((row) => JSON.parse(row) as Row).map((r) => JSON.stringify({ key: r.key, is: r.is })).sort());
    assert.deepEqual(rows('sampling-process'), expectedRows(5, 7));
  });
}

test('a count window size or slide that is not a whole number ≥ 1 is refused, with an example', () => {
  for (const [size, slide] of [[0, undefined], [2.5, undefined], [10, 0], [10, Number.NaN]] as const) {
    assert.throws(
      () => buildPhysicalPlan(defineJob({ name: 'bad' }, (env) => void env.source(datagen({ count: 1, record: (i) => i })).keyBy((i) => i).countWindow(size, slide).reduce((a, b) => a + b).sink(collectSink()))),
      (err: Error & { code?: string }) => err.code === 'SLUICE_INVALID_JOB' && /countWindow (size|slide) must be a whole number ≥ 1, got .*: e\.g\. keyed\.countWindow\(100\)/.test(err.message),
    );
  }
});

test("a record the window's function threw on and onError('skip') dropped takes no place in a count window", async (t) => {
  const target = new CollectTarget<number[]>();
  const job = defineJob({ name: 'count-window-skip' }, (env) => {
    env
      .source(collection([1, 2, -1, 3, 4, 5, -2, 6]))
      .keyBy(() => 'k')
      .countWindow(3)
      .aggregate({
        createAccumulator: () => [] as number[],
        add: (ns, n) => {
          if (n < 0) throw new Error(`bad reading ${n}`);
          return [...ns, n];
        },
        result: (ns) => ns,
      })
      .onError('skip')
      .sink(collectSink(target));
  });
  const run = await startJob(job);
  t.after(() => run.close());
  assert.equal(await run.finished, 'finished');
  assert.deepEqual(target.records, [[1, 2, 3], [4, 5, 6]]);
});

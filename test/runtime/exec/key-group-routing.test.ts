import assert from 'node:assert/strict';
import { test } from 'node:test';
import { datagen } from '../../../connectors/dev/index.ts';
import { defineJob, type Sink } from '../../../runtime/api/index.ts';
import { buildPhysicalPlan } from '../../../runtime/graph/index.ts';
import { JobRunner } from '../../../runtime/runner/index.ts';
import { keyGroupOf, ownerOfKeyGroup } from '../../../runtime/state/index.ts';

const MAX_PARALLELISM = 128;
const RECORDS = 20_000;
const KEYS = 2_000;

interface Event {
  /** Numbers and strings both: a key is hashed as String(key). */
  key: string | number;
  n: number;
}

interface Seen {
  key: string | number;
  n: number;
  subtask: number;
}

const event = (i: number): Event => {
  const k = i % KEYS;
  return { key: k % 2 === 0 ? k : `user-${k}`, n: 1 };
};

/** A sink that records which subtask wrote each record: chained after the reduce, it runs in the reduce's subtask. */
function subtaskRecorder(seen: Seen[]): Sink<Event> {
  return {
    name: 'subtask-recorder',
    createWriter: (context) => ({
      start: async () => {},
      write: (records) => {
        for (const r of records) seen.push({ key: r.key, n: r.n, subtask: context.subtask });
      },
      preCommit: async () => undefined,
      commit: async () => {},
      finish: async () => {},
      close: async () => {},
    }),
  };
}

for (let p = 1; p <= 8; p++) {
  test(`p=${p}: every key is processed only on the subtask that owns its key group`, async () => {
    const seen: Seen[] = [];
    const job = defineJob({ name: `routing-p${p}`, parallelism: p, maxParallelism: MAX_PARALLELISM }, (env) => {
      env
        .source(datagen({ count: RECORDS, splits: 8, batchSize: 500, record: event }))
        .keyBy((e) => e.key)
        .reduce((a, b) => ({ key: a.key, n: a.n + b.n }))
        .sink(subtaskRecorder(seen));
    });
    const runner = new JobRunner({ job });
    // The premise of the test: the sink runs chained in the reduce's subtask.
    const keyedStage = runner.plan.stages.find((s) => s.operators.some((o) => o.node.kind === 'reduce'));
    assert.deepEqual(keyedStage?.operators.map((o) => o.node.kind).slice(-2), ['reduce', 'sink']);
    assert.equal(keyedStage?.parallelism, p);

    assert.equal(await runner.run(), 'finished');

    assert.equal(seen.length, RECORDS, 'one output per input record');
    const subtasksOf = new Map<string | number, Set<number>>();
    const finalCount = new Map<string | number, number>();
    for (const s of seen) {
      const set = subtasksOf.get(s.key) ?? new Set<number>();
      set.add(s.subtask);
      subtasksOf.set(s.key, set);
      finalCount.set(s.key, Math.max(finalCount.get(s.key) ?? 0, s.n));
    }
    assert.equal(subtasksOf.size, KEYS);
    const misrouted: string[] = [];
    for (const [key, subtasks] of subtasksOf) {
      const owner = ownerOfKeyGroup(keyGroupOf(key, MAX_PARALLELISM), p, MAX_PARALLELISM);
      if (subtasks.size !== 1 || !subtasks.has(owner)) {
        misrouted.push(`${JSON.stringify(key)} on [${[...subtasks].join(',')}], owner ${owner}`);
      }
    }
    assert.deepEqual(misrouted.slice(0, 10), [], `${misrouted.length} keys misrouted`);
    // One subtask saw all of a key's records, so its state holds the whole count.
    for (const [key, count] of finalCount) assert.equal(count, RECORDS / KEYS, `final count of ${JSON.stringify(key)}`);
    // Every subtask got work (2,000 keys spread over at most 8 subtasks).
    assert.equal(new Set(seen.map((s) => s.subtask)).size, p);
  });
}

test('numbers and their string form share a key group but stay different keys', async () => {
  const seen: Seen[] = [];
  const job = defineJob({ name: 'routing-mixed', parallelism: 4 }, (env) => {
    env
      .source(datagen({ count: 400, splits: 2, record: (i): Event => ({ key: i % 2 === 0 ? 42 : '42', n: 1 }) }))
      .keyBy((e) => e.key)
      .reduce((a, b) => ({ key: a.key, n: a.n + b.n }))
      .sink(subtaskRecorder(seen));
  });
  assert.equal(buildPhysicalPlan(job).stages.length, 2);
  await new JobRunner({ job }).run();
  const owner = ownerOfKeyGroup(keyGroupOf(42, MAX_PARALLELISM), 4, MAX_PARALLELISM);
  assert.deepEqual(new Set(seen.map((s) => s.subtask)), new Set([owner]));
  const last = (key: string | number): number => Math.max(...seen.filter((s) => s.key === key).map((s) => s.n));
  assert.equal(last(42), 200);
  assert.equal(last('42'), 200);
});

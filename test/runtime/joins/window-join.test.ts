/**
 * The window join end to end, on two subtasks: tumbling and sliding windows give exactly the pairs (join) and the
 * per-window lists (coGroup) a brute-force pass over the inputs gives, each output at its window's last millisecond,
 * on either state backend; and windows or calls that cannot work are refused when the job is built.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { collectSink, CollectTarget } from '../../../connectors/dev/index.ts';
import { assignWindows, defineJob, sessionWindows, slidingWindows, tumblingWindows, type StreamEnvironment, type WindowAssigner } from '../../../runtime/api/index.ts';
import { buildPhysicalPlan } from '../../../runtime/graph/index.ts';
import { runJob, startJob } from '../../../runtime/testing/index.ts';
import { LEFT, leftEvent, RIGHT, rightEvent, twoEventStreams, type Event } from './fixtures/two-event-streams.ts';

/** An output as the next keyed operator sees it, with its event time. */
interface Seen {
  readonly line: string;
  readonly at: number | undefined;
}

/** Per window (by start) and key: the left and right event numbers in it. */
function windowContents(assigner: WindowAssigner): Map<string, { start: number; end: number; key: string; lefts: number[]; rights: number[] }> {
  const windows = new Map<string, { start: number; end: number; key: string; lefts: number[]; rights: number[] }>();
  const add = (e: Event, isLeft: boolean): void => {
    for (const w of assignWindows(assigner, e.ts)) {
      const id = `${e.key}@${w.start}`;
      const entry = windows.get(id) ?? { ...w, key: e.key, lefts: [], rights: [] };
      (isLeft ? entry.lefts : entry.rights).push(e.n);
      windows.set(id, entry);
    }
  };
  for (let i = 0; i < LEFT; i++) add(leftEvent(i), true);
  for (let j = 0; j < RIGHT; j++) add(rightEvent(j), false);
  return windows;
}

function expectedPairs(assigner: WindowAssigner): string[] {
  const lines: string[] = [];
  for (const w of windowContents(assigner).values()) for (const l of w.lefts) for (const r of w.rights) lines.push(JSON.stringify({ line: `${l}+${r}@${w.start}`, at: w.end - 1 }));
  return lines.sort();
}

/** coGroup's output per window: the sorted numbers of each side (arrival order varies between runs). */
function expectedGroups(assigner: WindowAssigner): string[] {
  const sorted = (ns: number[]): string => [...ns].sort((a, b) => a - b).join(',');
  return [...windowContents(assigner).values()].map((w) => JSON.stringify({ line: `${w.key}@${w.start}:${sorted(w.lefts)}|${sorted(w.rights)}`, at: w.end - 1 })).sort();
}

async function run(assigner: WindowAssigner, kind: 'join' | 'coGroup', backend: 'heap' | 'leveldb' = 'heap'): Promise<string[]> {
  const target = new CollectTarget<Seen>();
  const job = defineJob({ name: 'window-join', parallelism: 2, ...(backend === 'leveldb' ? { state: { backend: 'leveldb' as const } } : {}) }, (env) => {
    const { left, right } = twoEventStreams(env);
    const windowed = left.keyBy((e) => e.key).windowJoin(right.keyBy((e) => e.key), assigner);
    const sorted = (es: readonly Event[]): string => es.map((e) => e.n).sort((a, b) => a - b).join(',');
    const joined =
      kind === 'join'
        ? windowed.process({ processElement: (l, r, ctx): string => `${l.n}+${r.n}@${ctx.window.start}` })
        : windowed.coGroup({ process: (ls, rs, ctx): string => `${ctx.key}@${ctx.window.start}:${sorted(ls)}|${sorted(rs)}` });
    joined
      .keyBy((line) => line)
      .process({ processElement: (line, ctx): Seen => ({ line, at: ctx.timestamp }) })
      .sink(collectSink(target));
  });
  assert.equal(await runJob(job), 'finished');
  return target.records.map((s) => JSON.stringify({ line: s.line, at: s.at })).sort();
}

const ASSIGNERS: ReadonlyArray<[string, WindowAssigner]> = [
  ['tumbling 50 ms', tumblingWindows({ sizeMs: 50 })],
  ['sliding 40 ms every 15 ms', slidingWindows({ sizeMs: 40, slideMs: 15 })],
];

for (const [label, assigner] of ASSIGNERS) {
  test(`${label}: the join writes exactly the brute-force pairs of each window, at the window's last millisecond`, async () => {
    const want = expectedPairs(assigner);
    assert.ok(want.length > 100, `the inputs have pairs (${want.length})`);
    assert.deepEqual(await run(assigner, 'join'), want);
  });
  test(`${label}: coGroup gets every window of every key with both sides' records`, async () => {
    assert.deepEqual(await run(assigner, 'coGroup'), expectedGroups(assigner));
  });
}

test('the LevelDB state backend joins the same pairs as the heap one', async () => {
  const assigner = slidingWindows({ sizeMs: 40, slideMs: 15 });
  assert.deepEqual(await run(assigner, 'join', 'leveldb'), expectedPairs(assigner));
});

test('under seeded crashes the window join still writes each window’s pairs once', async (t) => {
  const assigner = slidingWindows({ sizeMs: 40, slideMs: 15 });
  const job = defineJob({ name: 'window-join-crashes', parallelism: 2, checkpoints: { intervalMs: 20 } }, (env) => {
    const { left, right } = twoEventStreams(env);
    left
      .keyBy((e) => e.key)
      .windowJoin(right.keyBy((e) => e.key), assigner)
      .process({ processElement: (l, r, ctx): string => `${l.n}+${r.n}@${ctx.window.start}` })
      .uid('join')
      .sink(collectSink())
      .uid('out');
  });
  const run = await startJob(job, { faults: { crashes: 3, seed: 9 } });
  t.after(() => run.close());
  assert.equal(await run.finished, 'finished');
  assert.ok(run.faults.fired.length > 0, 'some seeded crashes fired');
  const want = expectedPairs(assigner).map((l) => (JSON.parse(l) as Seen).line).sort();
  assert.deepEqual(run.outputs<string>('out').sort(), want);
});

test('windows and calls a window join cannot take are refused while the job is built, saying what to do', () => {
  const built = (build: (env: StreamEnvironment) => void): string => {
    try {
      buildPhysicalPlan(defineJob({ name: 'bad-window-join' }, build));
    } catch (err) {
      return (err as Error).message;
    }
    return 'accepted';
  };
  const keyed = (env: StreamEnvironment) => {
    const { left, right } = twoEventStreams(env);
    return { left: left.keyBy((e) => e.key), right: right.keyBy((e) => e.key) };
  };
  assert.match(built((env) => void keyed(env).left.windowJoin(keyed(env).right, sessionWindows({ gapMs: 10 }))), /tumbling or sliding windows .* got session windows, which merge/);
  assert.match(built((env) => void keyed(env).left.windowJoin(keyed(env).right, tumblingWindows({ sizeMs: 10, time: 'processing' }))), /windowJoin\(\) joins by event time/);
  assert.match(built((env) => void keyed(env).left.windowJoin(keyed(env).right, tumblingWindows({ sizeMs: 10 })).coGroup({} as never)), /coGroup\(\) needs a process\(lefts, rights, ctx\) function/);
});

/**
 * The window join's semantics, driven record by record and watermark by watermark through the connected operator it
 * runs as: which pairs (or lists) each window makes and when, with which time, what is late, and that a fired window's
 * records go.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LATE_LEFT_OUTPUT, LATE_RIGHT_OUTPUT, slidingWindows, tumblingWindows, type WindowAssigner } from '../../../runtime/api/index.ts';
import type { LateOutputs } from '../../../runtime/api/join-support.ts';
import { windowJoinFunction, type WindowJoinSpec } from '../../../runtime/api/window-join-function.ts';
import { joinHarness, type Rec } from './fixtures/join-harness.ts';

const pairs: WindowJoinSpec = { kind: 'join', fn: { processElement: (l, r, ctx) => `${(l as Rec).id}+${(r as Rec).id}@${ctx.window.start}` } };
const lists: WindowJoinSpec = {
  kind: 'coGroup',
  fn: { process: (ls, rs, ctx) => `[${(ls as Rec[]).map((l) => l.id).join(',')}|${(rs as Rec[]).map((r) => r.id).join(',')}]@${ctx.window.start}` },
};

async function harness(assigner: WindowAssigner, spec: WindowJoinSpec, late: LateOutputs = { left: true, right: true }) {
  const h = await joinHarness<string>(windowJoinFunction(assigner, spec, late));
  return { ...h, outputs: () => h.out.map((o) => [o.value, o.at]) };
}

test('a tumbling window joins its pairs once the watermark reaches its end, each at the window’s last millisecond', async (t) => {
  const h = await harness(tumblingWindows({ sizeMs: 10 }), pairs);
  t.after(() => h.close());
  h.left('a', 3);
  h.right('x', 5);
  h.right('y', 12);
  h.left('b', 15);
  h.left('c', 9, 'other-key');
  assert.deepEqual(h.outputs(), [], 'nothing before a window ends');
  await h.watermark(8);
  assert.deepEqual(h.outputs(), []);
  await h.watermark(9);
  assert.deepEqual(h.outputs(), [['a+x@0', 9]], 'c has no right record in its window: no pair');
  await h.watermark(19);
  assert.deepEqual(h.outputs(), [['a+x@0', 9], ['b+y@10', 19]]);
  assert.deepEqual([h.buffered('left'), h.buffered('right')], [[], []], 'fired windows are forgotten');
});

test('a sliding window joins the pairs of each window it holds', async (t) => {
  const h = await harness(slidingWindows({ sizeMs: 10, slideMs: 5 }), pairs);
  t.after(() => h.close());
  h.left('a', 7); // in [0, 10) and [5, 15)
  h.right('x', 8); // the same two
  h.right('y', 11); // [5, 15) and [10, 20)
  await h.watermark(Infinity);
  assert.deepEqual(h.outputs(), [['a+x@0', 9], ['a+x@5', 14], ['a+y@5', 14]]);
});

test('coGroup gets each window’s records of both sides in arrival order, one side possibly empty', async (t) => {
  const h = await harness(tumblingWindows({ sizeMs: 10 }), lists);
  t.after(() => h.close());
  h.right('x2', 6);
  h.left('a', 3);
  h.right('x1', 1);
  h.left('b', 4);
  h.left('c', 13); // alone in [10, 20)
  h.right('z', 25); // alone in [20, 30)
  await h.watermark(Infinity);
  assert.deepEqual(h.outputs(), [['[a,b|x2,x1]@0', 9], ['[c|]@10', 19], ['[|z]@20', 29]]);
});

test('a record whose windows all fired is late: not joined, sent to its side’s late records', async (t) => {
  const h = await harness(slidingWindows({ sizeMs: 10, slideMs: 5 }), pairs);
  t.after(() => h.close());
  h.left('a', 12);
  await h.watermark(10);
  h.right('x', 9); // [0, 10) fired; [5, 15) has not: joins a there
  h.right('late', 4); // [0, 10) and [-5, 5) both fired
  h.left('late-l', 3);
  await h.watermark(Infinity);
  assert.deepEqual(h.outputs(), [['a+x@5', 14]]);
  assert.deepEqual(h.sides, [
    { output: LATE_RIGHT_OUTPUT, id: 'late', at: 4 },
    { output: LATE_LEFT_OUTPUT, id: 'late-l', at: 3 },
  ]);
  const dropping = await harness(tumblingWindows({ sizeMs: 10 }), pairs, { left: false, right: false });
  t.after(() => dropping.close());
  await dropping.watermark(50);
  dropping.left('late', 3);
  assert.deepEqual([dropping.outputs(), dropping.sides], [[], []], 'unread late records are dropped');
  assert.equal(dropping.lateDropped(), 1, 'and counted, as a window counts its late records');
  assert.match(dropping.logged.join(''), /dropped a record 47 ms behind the watermark, after every window it belongs to fired \(read such records with \.lateRecords\('left'\)\)/);
  assert.equal(h.lateDropped(), 0, 'late records read downstream are not dropped');
});

test('a record without event time fails the job, saying what to add', async (t) => {
  const h = await harness(tumblingWindows({ sizeMs: 10 }), pairs);
  t.after(() => h.close());
  assert.throws(
    () => h.leftWithoutTime('a'),
    (err: Error & { code?: string; retriable?: boolean }) => err.code === 'SLUICE_OPERATOR_FAILED' && err.retriable === false && /a window join joins by event time.*watermark strategy/.test(err.message),
  );
});

/**
 * The interval join's semantics, driven record by record and watermark by watermark through the connected operator
 * it runs as (so arrival order and the watermark are exactly as written here): which pairs join, with which times,
 * what is late, and when buffered records go.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LATE_LEFT_OUTPUT, LATE_RIGHT_OUTPUT, type OutputDeclarations } from '../../../runtime/api/index.ts';
import { intervalJoinFunction, type IntervalJoinFunction, type JoinBounds } from '../../../runtime/api/interval-join-function.ts';
import type { LateOutputs } from '../../../runtime/api/join-support.ts';
import { joinHarness, type Rec } from './fixtures/join-harness.ts';

interface Joined {
  readonly pair: string;
  readonly left: number;
  readonly right: number;
  /** The event time the output carries downstream. */
  readonly at: number | undefined;
}

/** The interval join with `bounds` in a harness; each output is `left+right@leftTime/rightTime/pairTime`. */
async function harness(bounds: JoinBounds, late: LateOutputs = { left: true, right: true }, fn?: IntervalJoinFunction<Rec, Rec, string, string, OutputDeclarations>) {
  const join: IntervalJoinFunction<Rec, Rec, string, string, OutputDeclarations> = fn ?? { processElement: (l, r, ctx) => `${l.id}+${r.id}@${ctx.leftTimestamp}/${ctx.rightTimestamp}/${ctx.timestamp}` };
  const h = await joinHarness<string>(intervalJoinFunction(bounds, join, late));
  const out: Joined[] = [];
  const pairs = () => {
    for (const { value, at } of h.out.splice(0)) {
      const [pair, times] = value.split('@') as [string, string];
      const [left, right] = times.split('/').map(Number) as [number, number];
      out.push({ pair, left, right, at });
    }
    return out;
  };
  return { ...h, get out() { return pairs(); }, lateRecords: h.sides };
}

test('a pair joins once, when its second record arrives, and carries the later of its two times', async (t) => {
  const h = await harness({ lower: -5, upper: 10 });
  t.after(() => h.close());
  h.left('a', 100);
  h.right('x', 104); // in [95, 110]: joins a at once
  h.right('y', 111); // past a + 10
  h.right('z', 95); // a − 5: the lower bound is inclusive
  h.left('b', 101); // [96, 111]: x and y, not z
  h.left('c', 200, 'other-key'); // another key: none
  assert.deepEqual(
    h.out.map((o) => [o.pair, o.left, o.right, o.at]),
    [
      ['a+x', 100, 104, 104],
      ['a+z', 100, 95, 100],
      ['b+x', 101, 104, 104],
      ['b+y', 101, 111, 111],
    ],
  );
});

test('exclusive and one-sided bounds match only the pairs inside them', async (t) => {
  // Right records strictly after their left one, up to 3 later (between(0, 3, { lowerExclusive: true })).
  const h = await harness({ lower: 1, upper: 3 });
  t.after(() => h.close());
  for (const ts of [99, 100, 101, 103, 104]) h.right(`r${ts}`, ts);
  h.left('l', 100);
  assert.deepEqual(h.out.map((o) => o.pair), ['l+r101', 'l+r103']);
  // Bounds wholly below: right records 2 to 8 before the left one.
  const below = await harness({ lower: -8, upper: -2 });
  t.after(() => below.close());
  below.left('l', 100);
  for (const ts of [91, 92, 98, 99, 100]) below.right(`r${ts}`, ts);
  assert.deepEqual(below.out.map((o) => o.pair), ['l+r92', 'l+r98']);
});

test('a record behind the watermark is late: not joined nor kept, and sent to its side’s late records', async (t) => {
  const h = await harness({ lower: 0, upper: 50 });
  t.after(() => h.close());
  h.right('x', 130);
  await h.watermark(120);
  h.left('late', 100); // 100 < 120: late, though x (130) is within its bounds
  h.left('on-time', 120); // at the watermark: not late (Flink's rule is strictly behind)
  h.right('late-r', 110);
  assert.deepEqual(h.out.map((o) => o.pair), ['on-time+x']);
  assert.deepEqual(h.lateRecords, [
    { output: LATE_LEFT_OUTPUT, id: 'late', at: 100 },
    { output: LATE_RIGHT_OUTPUT, id: 'late-r', at: 110 },
  ]);
  // Unread late outputs: dropped, not an error.
  const dropping = await harness({ lower: 0, upper: 50 }, { left: false, right: false });
  t.after(() => dropping.close());
  await dropping.watermark(120);
  dropping.left('late', 100);
  assert.deepEqual([dropping.out, dropping.lateRecords], [[], []]);
  assert.equal(dropping.lateDropped(), 1, 'counted as dropped, as a window counts its late records');
  assert.equal(dropping.logged.length, 1, 'and logged');
  assert.match(dropping.logged[0] as string, /dropped a record 20 ms behind the watermark, too late for the interval join to keep or join it \(read such records with \.lateRecords\('left'\)\)/);
  assert.match(dropping.logged[0] as string, /"lateRecordsDropped":1/);
  assert.equal(h.lateDropped(), 0, 'late records read downstream are not dropped');
});

test('buffered records go once the watermark shows nothing of the other side can match them', async (t) => {
  const h = await harness({ lower: -10, upper: 20 });
  t.after(() => h.close());
  h.left('l', 100); // can match right records up to 120: kept until the watermark passes 120
  h.right('r', 200); // can match left records from 180 on... and down to 180: kept until the watermark passes 210
  await h.watermark(119);
  assert.deepEqual([h.buffered('left'), h.buffered('right')], [['k'], ['k']]);
  h.right('r2', 119); // still joins l (119 ≤ 120)
  await h.watermark(120);
  assert.deepEqual(h.buffered('left'), [], 'l is gone at 100 + 20');
  h.right('r3', 120); // at the watermark: on time, but l is gone, as in Flink
  await h.watermark(209);
  assert.deepEqual(h.buffered('right'), ['k'], 'r (200) is kept until 200 + 10');
  h.left('l2', 209); // [199, 229]: joins r
  await h.watermark(Infinity);
  assert.deepEqual([h.buffered('left'), h.buffered('right')], [[], []], 'nothing is left once the input ends');
  assert.deepEqual(h.out.map((o) => o.pair), ['l+r2', 'l2+r']);
});

test('with wide bounds a record stays up to a sixteenth of their width longer, which joins nothing outside them', async (t) => {
  const h = await harness({ lower: 0, upper: 160 }); // cleanup times rounded up to multiples of 10
  t.after(() => h.close());
  h.left('l', 103); // can match right records up to 263; its timer is at 270
  await h.watermark(263);
  h.right('r263', 263); // on time and within the bounds: joins
  h.right('r264', 264); // l is still kept, but 264 is past 103 + 160
  await h.watermark(269);
  assert.deepEqual(h.buffered('left'), ['k'], 'kept until the rounded time');
  await h.watermark(270);
  assert.deepEqual(h.buffered('left'), [], 'gone at it');
  assert.deepEqual(h.out.map((o) => o.pair), ['l+r263']);
});

test('ctx.emit and ctx.output carry the pair’s time; a record without event time fails the job, saying what to add', async (t) => {
  const h = await harness({ lower: -100, upper: 100 }, { left: false, right: false }, {
    processElement: (l, r, ctx) => {
      ctx.emit(`${l.id}+${r.id}@${ctx.leftTimestamp}/${ctx.rightTimestamp}/${ctx.timestamp}`);
      ctx.emit(`${l.id}+${r.id}-again@${ctx.leftTimestamp}/${ctx.rightTimestamp}/${ctx.timestamp}`);
      ctx.output('audit', r);
    },
  });
  t.after(() => h.close());
  h.left('a', 10);
  h.right('x', 30);
  assert.deepEqual(h.out.map((o) => [o.pair, o.at]), [['a+x', 30], ['a+x-again', 30]]);
  assert.deepEqual(h.lateRecords, [{ output: 'audit', id: 'x', at: 30 }], 'the side output at the pair’s time');
  const untimed = await harness({ lower: 0, upper: 1 });
  t.after(() => untimed.close());
  assert.throws(
    () => untimed.leftWithoutTime('a'),
    (err: Error & { code?: string; retriable?: boolean }) =>
      err.code === 'SLUICE_OPERATOR_FAILED' && err.retriable === false && /interval join joins by event time.*watermark strategy/.test(err.message),
  );
});

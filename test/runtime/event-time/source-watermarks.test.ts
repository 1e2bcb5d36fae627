import assert from 'node:assert/strict';
import { test } from 'node:test';
import { boundedOutOfOrderness, type SourceReader, type SplitPosition } from '../../../runtime/api/index.ts';
import { isSluiceError } from '../../../runtime/errors/index.ts';
import { SourceWatermarks } from '../../../runtime/event-time/source-watermarks.ts';
import { ManualClock } from '../../../runtime/time/index.ts';

interface Event {
  ts: unknown;
}

/** A reader whose split set and polled split the test sets by hand; only what SourceWatermarks asks is real. */
function fakeReader(splits: string[]): SourceReader<Event> & { splits: string[]; polled: string } {
  return {
    splits,
    polled: splits[0] ?? '',
    start: async () => {},
    poll: () => null,
    available: () => Promise.resolve(),
    positions(): SplitPosition[] {
      return this.splits.map((split) => ({ split, position: 0 }));
    },
    polledSplit() {
      return this.polled;
    },
    close: async () => {},
  };
}

const strategy = boundedOutOfOrderness<Event>({ maxOutOfOrdernessMs: 10, timestamp: (e) => e.ts as number, idleAfterMs: 1_000 });

test('one watermark per split, the subtask watermark their minimum: a split with no data yet holds it back', () => {
  const clock = new ManualClock(0);
  const reader = fakeReader(['p0', 'p1']);
  const events = new SourceWatermarks(strategy, reader, clock, 'clicks');
  assert.deepEqual(events.poll(), []);
  reader.polled = 'p0';
  assert.deepEqual(events.assign([{ ts: 100 }, { ts: 130 }, { ts: 120 }]), [100, 130, 120]);
  assert.deepEqual(events.poll(), [], 'p1 has said nothing: no watermark yet');
  reader.polled = 'p1';
  events.assign([{ ts: 50 }]);
  assert.deepEqual(events.poll(), [{ kind: 'watermark', watermark: 39 }], 'min(130, 50) − 10 − 1');
});

test('a split silent for idleAfterMs stops holding the watermark back and rejoins with its next record', () => {
  const clock = new ManualClock(0);
  const reader = fakeReader(['p0', 'p1']);
  const events = new SourceWatermarks(strategy, reader, clock, 'clicks');
  events.poll();
  reader.polled = 'p0';
  events.assign([{ ts: 5_000 }]);
  assert.deepEqual(events.poll(), []);
  // p1 has been quiet since it was first seen; p0 had a batch since the last check, so it is quiet from the next one,
  // which a waiting subtask makes at once.
  assert.equal(events.nextIdleCheck(), 0);
  clock.advance(600);
  events.assign([{ ts: 6_000 }]); // p0 stays active
  clock.advance(400);
  assert.deepEqual(events.poll(), [{ kind: 'watermark', watermark: 5_989 }], 'p1 went idle at 1 s');
  assert.deepEqual(events.poll(), [], 'p0 is quiet from this check on (the first with no batch since the one before)');
  clock.advance(999);
  assert.deepEqual(events.poll(), []);
  clock.advance(1);
  assert.deepEqual(events.poll(), [{ kind: 'idle', idle: true }], 'both idle: the subtask is idle');
  reader.polled = 'p1';
  events.assign([{ ts: 7_000 }]);
  assert.deepEqual(events.poll(), [{ kind: 'idle', idle: false }, { kind: 'watermark', watermark: 6_989 }]);
});

test('a subtask that owns no split is idle from the start, so it holds nothing back downstream', () => {
  const events = new SourceWatermarks(strategy, fakeReader([]), new ManualClock(0), 'clicks');
  assert.deepEqual(events.poll(), [{ kind: 'idle', idle: true }]);
});

test('a timestamp that is not a finite number fails at once, naming the source, the split and the record', () => {
  const events = new SourceWatermarks(strategy, fakeReader(['orders-3']), new ManualClock(0), 'orders');
  for (const ts of [Number.NaN, undefined, '2026-12-03', Number.POSITIVE_INFINITY]) {
    assert.throws(
      () => events.assign([{ ts }]),
      (err: unknown) =>
        isSluiceError(err, 'SLUICE_BAD_TIMESTAMP') && err.retriable === false && /source "orders"/.test(err.message) && /split orders-3/.test(err.message) && /Record: \{/.test(err.message),
    );
  }
});

test('restored splits start from their own watermarks, and the subtask from the lowest of them, not from the first to join', () => {
  const clock = new ManualClock(0);
  const reader = fakeReader(['p0', 'p1', 'p2']);
  const events = new SourceWatermarks(strategy, reader, clock, 'clicks', new Map([['p0', 2_599], ['p1', 899]]));
  assert.deepEqual(events.poll(), [], 'p2 has no restored watermark and has said nothing: it holds the subtask back');
  assert.deepEqual(events.splitWatermarks(), [['p0', 2_599], ['p1', 899]], 'a checkpoint now stores them again');
  reader.polled = 'p2';
  events.assign([{ ts: 5_000 }]);
  assert.deepEqual(events.poll(), [{ kind: 'watermark', watermark: 899 }], 'the lowest restored one, p1');
  reader.polled = 'p0';
  events.assign([{ ts: 100 }]);
  assert.deepEqual(events.splitWatermarks(), [['p0', 2_599], ['p1', 899], ['p2', 4_989]], 'a record behind its split\'s restored watermark does not take it back');
});

/**
 * The same jobs on the heap and the LevelDB state backend give the same output, record for record: windows whose
 * accumulators are changed in place (session windows that merge, sliding windows over a list of records) and
 * keyed processing with event-time timers, under seeded crashes, with a cache small enough that most state is read
 * back from LevelDB.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { collectSink, datagen } from '../../../connectors/dev/index.ts';
import { boundedOutOfOrderness, defineJob, valueState, type StateBackendOptions } from '../../../runtime/api/index.ts';
import { startJob } from '../../../runtime/testing/index.ts';
import { assignerOf, eventOf, expectedWindows, OUT_OF_ORDERNESS_MS, type Event } from '../event-time/fixtures/window-kinds.ts';

const RECORDS = 6_000;
const LEVELDB: StateBackendOptions = { backend: 'leveldb', cacheBytes: 16 * 1024 };

interface Row {
  out: string;
  row: string;
}

function jobOn(state: StateBackendOptions | undefined) {
  return defineJob({ name: 'backend-agreement', parallelism: 2, checkpoints: { intervalMs: 20, incremental: true }, ...(state === undefined ? {} : { state }) }, (env) => {
    const events = env
      .source(datagen({ count: RECORDS, splits: 4, batchSize: 50, ratePerSecond: 10_000, record: eventOf }), {
        watermarks: boundedOutOfOrderness({ maxOutOfOrdernessMs: OUT_OF_ORDERNESS_MS, timestamp: (e: Event) => e.ts }),
      })
      .uid('events');
    events
      .keyBy((e) => e.key)
      .window(assignerOf('session'))
      .aggregate({
        createAccumulator: () => ({ count: 0, first: Number.POSITIVE_INFINITY }),
        add: (acc, e) => {
          acc.count++; // in place: the backend must write it back
          acc.first = Math.min(acc.first, e.ts);
          return acc;
        },
        merge: (a, b) => ({ count: a.count + b.count, first: Math.min(a.first, b.first) }),
        result: (acc, window, key): Row => ({ out: 'session', row: JSON.stringify([key, window.start, window.end, acc.count, acc.first]) }),
      })
      .uid('sessions')
      .sink(collectSink())
      .uid('sessions-out');
    events
      .keyBy((e) => e.key)
      .window(assignerOf('sliding'))
      .process({ process: (records, ctx): Row => ({ out: 'sliding', row: JSON.stringify([ctx.key, ctx.window.start, records.length, records.map((e) => e.ts).sort((a, b) => a - b)[0]]) }) })
      .uid('sliding')
      .sink(collectSink())
      .uid('sliding-out');
    events
      .keyBy((e) => e.key)
      .process({
        state: { seen: valueState<{ n: number; last: number }>() },
        // Rows that do not depend on the order records of one key arrive in from four splits: the n-th record of a
        // key emits n (so n counts exactly only if the in-place increments survive eviction and restores), and each
        // timer emits its key and timestamp once.
        processElement(e, ctx) {
          const seen = ctx.state.seen.value();
          if (seen === undefined) ctx.state.seen.update({ n: 1, last: e.ts });
          else {
            seen.n++; // in place
            seen.last = Math.max(seen.last, e.ts);
          }
          ctx.timers.registerEventTimeTimer(Math.floor(e.ts / 1000) * 1000 + 999);
          return { out: 'counts', row: JSON.stringify([e.key, ctx.state.seen.value()!.n]) };
        },
        onTimer(timestamp, ctx) {
          ctx.emit({ out: 'timers', row: JSON.stringify([ctx.key, timestamp]) });
        },
      })
      .uid('timers')
      .sink(collectSink())
      .uid('timers-out');
  });
}

async function rowsOf(state: StateBackendOptions | undefined, seed: number, t: test.TestContext): Promise<Map<string, string[]>> {
  const run = await startJob(jobOn(state), { faults: { crashes: 12, seed } });
  t.after(() => run.close());
  assert.equal(await run.finished, 'finished');
  assert.ok(run.faults.fired.length > 0, 'some seeded crashes fired');
  const out = new Map<string, string[]>();
  for (const sink of ['sessions-out', 'sliding-out', 'timers-out']) out.set(sink, run.outputs<Row>(sink).map((r) => r.row).sort());
  await run.close();
  return out;
}

test('heap and LevelDB backends give the same windows and timer output under seeded crashes, record for record', async (t) => {
  const heap = await rowsOf(undefined, 3, t);
  const leveldb = await rowsOf(LEVELDB, 5, t);
  for (const [sink, rows] of heap) {
    assert.ok(rows.length > 100, `${sink} has output (${rows.length})`);
    assert.deepEqual(leveldb.get(sink), rows, `${sink}: same rows on both backends`);
  }
  // And both are right, not merely alike: session counts against the brute-force oracle.
  const sessions = heap.get('sessions-out')!.map((row) => {
    const [key, start, end, count] = JSON.parse(row) as [string, number, number, number];
    return JSON.stringify({ key, start, end, count });
  });
  assert.deepEqual(sessions.sort(), expectedWindows('session', RECORDS));
});

/**
 * Window join by event time: clicks and impressions, 1M each from two datagen sources with event time, 10k keys,
 * joined per key in tumbling windows of 10 s, into a counting sink. Against a hand-written loop doing the same join
 * over the same records in the same run: per key and window, each side's records, every pair emitted once the other
 * records' time has passed the window's end. Reported at p = 1, in-process (one thread each); rates count input
 * records of both sides.
 *
 *   npx tsx bench/window-join.ts [records per side] [runs]
 */
import { datagen } from '../connectors/dev/index.ts';
import { boundedOutOfOrderness, defineJob, tumblingWindows } from '../runtime/api/index.ts';
import { discardSink } from './support/discard-sink.ts';
import { joinAgainstLoop, type JoinRun } from './support/join-against-loop.ts';

const RECORDS = Number(process.argv[2] ?? 1_000_000);
const RUNS = Number(process.argv[3] ?? 3);
const KEYS = 10_000;
const WINDOW_MS = 10_000;

interface Event {
  readonly id: number;
  readonly key: string;
  readonly ts: number;
}
// A record per ms on each side; a key comes back every 10 s, so each window of a key holds about one record of each
// side. Fresh key strings, as decoded.
const click = (i: number): Event => ({ id: i, key: `key-${i % KEYS}`, ts: i });
const impression = (i: number): Event => ({ id: i, key: `key-${(i + 3_000) % KEYS}`, ts: i });

function loopBaseline(): JoinRun {
  const started = performance.now();
  // Per window start, per key: both sides' records. Windows end in time order, so the oldest is fired first.
  const windows = new Map<number, Map<string, { lefts: Event[]; rights: Event[] }>>();
  let pairs = 0;
  const add = (e: Event, isLeft: boolean): void => {
    const start = e.ts - (e.ts % WINDOW_MS);
    let keys = windows.get(start);
    if (keys === undefined) windows.set(start, (keys = new Map()));
    let both = keys.get(e.key);
    if (both === undefined) keys.set(e.key, (both = { lefts: [], rights: [] }));
    (isLeft ? both.lefts : both.rights).push(e);
  };
  const fireUpTo = (time: number): void => {
    for (const [start, keys] of windows) {
      if (start + WINDOW_MS - 1 > time) break;
      let out: Array<[Event, Event]> = [];
      for (const { lefts, rights } of keys.values()) for (const l of lefts) for (const r of rights) out.push([l, r]);
      pairs += out.length;
      out = [];
      windows.delete(start);
    }
  };
  for (let i = 0; i < RECORDS; i++) {
    add(click(i), true);
    add(impression(i), false);
    if (i % 500 === 499) fireUpTo(i - 1);
  }
  fireUpTo(Infinity);
  return { perSecond: (2 * RECORDS) / ((performance.now() - started) / 1000), pairs };
}

await joinAgainstLoop({
  name: 'join/window join p=1',
  records: RECORDS,
  runs: RUNS,
  loop: loopBaseline,
  job: (counter) =>
    defineJob({ name: 'bench-window-join', parallelism: 1, workers: 0 }, (env) => {
      const strategy = boundedOutOfOrderness({ maxOutOfOrdernessMs: 0, timestamp: (e: Event) => e.ts });
      const clicks = env.source(datagen({ count: RECORDS, batchSize: 500, record: click }), { watermarks: strategy });
      const impressions = env.source(datagen({ count: RECORDS, batchSize: 500, record: impression }), { watermarks: strategy });
      clicks
        .keyBy((c) => c.key)
        .windowJoin(impressions.keyBy((i) => i.key), tumblingWindows({ sizeMs: WINDOW_MS }))
        .process({ processElement: (c, i) => [c, i] as const })
        .sink(discardSink(counter));
    }),
  workload: `${KEYS} keys, tumbling windows of ${WINDOW_MS} ms`,
});

/**
 * datagen → map → keyBy → reduce → discard, against the same keyed count written as a plain loop over the same
 * records, in the same process run (issue 2's figure; bar ≥ 0.3× the loop at p = 1). Also the cost of checkpoints
 * every second against none (issue 3's figure; bar ≥ 0.9).
 *
 *   npx tsx bench/pipeline-keyed-count.ts [records]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { datagen } from '../connectors/dev/index.ts';
import { defineJob } from '../runtime/api/index.ts';
import { CheckpointStore } from '../runtime/checkpoint/index.ts';
import { JobRunner } from '../runtime/runner/index.ts';
import { discardSink } from './support/discard-sink.ts';
import { emitFigure, median } from './support/figure.ts';

const RECORDS = Number(process.argv[2] ?? 10_000_000);
const KEYS = 10_000;
const RUNS = 3;

interface Event {
  key: string;
  amount: number;
}

// Keys are built per record, like keys decoded from Kafka: fresh strings that the first Map lookup must hash.
const makeRecord = (i: number): Event => ({ key: `user-${i % KEYS}`, amount: i & 7 });

function loopBaseline(): number {
  const started = performance.now();
  const totals = new Map<string, Event>();
  let emitted = 0;
  for (let i = 0; i < RECORDS; i++) {
    const record = makeRecord(i);
    const mapped = { key: record.key, amount: record.amount * 2 };
    const previous = totals.get(mapped.key);
    const next = previous === undefined ? mapped : { key: previous.key, amount: previous.amount + mapped.amount };
    totals.set(mapped.key, next);
    emitted++;
  }
  if (emitted !== RECORDS || totals.size !== KEYS) throw new Error('baseline miscounted');
  return RECORDS / ((performance.now() - started) / 1000);
}

async function pipeline(parallelism: number, checkpointDir?: string): Promise<number> {
  const counter = { count: 0 };
  const job = defineJob(
    { name: 'bench-keyed-count', parallelism, ...(checkpointDir === undefined ? {} : { checkpoints: { intervalMs: 1000 } }) },
    (env) => {
      env
        .source(datagen({ count: RECORDS, splits: parallelism, record: makeRecord }))
        .map((r) => ({ key: r.key, amount: r.amount * 2 }))
        .keyBy((r) => r.key)
        .reduce((a, b) => ({ key: a.key, amount: a.amount + b.amount }))
        .sink(discardSink(counter));
    },
  );
  const store = checkpointDir === undefined ? undefined : await CheckpointStore.open(checkpointDir);
  try {
    const started = performance.now();
    await new JobRunner({ job, ...(store === undefined ? {} : { store, restore: { from: 'none' } }) }).run();
    if (counter.count !== RECORDS) throw new Error(`pipeline emitted ${counter.count} of ${RECORDS}`);
    return RECORDS / ((performance.now() - started) / 1000);
  } finally {
    await store?.close();
  }
}

const loop: number[] = [];
const p1: number[] = [];
const p2: number[] = [];
const p1Checkpointed: number[] = [];
const dir = await mkdtemp(join(tmpdir(), 'sluice-bench-'));
try {
  for (let run = 0; run < RUNS; run++) {
    loop.push(loopBaseline());
    p1.push(await pipeline(1));
    p2.push(await pipeline(2));
    p1Checkpointed.push(await pipeline(1, join(dir, `run-${run}`)));
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
const baseline = median(loop);
emitFigure({ name: 'pipeline/keyed-count p=1', value: median(p1), unit: 'records/s', baseline, note: 'baseline: the same keyed count as a plain loop; bar ≥ 0.3' });
emitFigure({ name: 'pipeline/keyed-count p=2', value: median(p2), unit: 'records/s', baseline, note: 'baseline: plain loop (one thread either way)' });
emitFigure({ name: 'pipeline/keyed-count p=1, checkpoints every 1 s', value: median(p1Checkpointed), unit: 'records/s', baseline: median(p1), note: 'baseline: the same pipeline without checkpoints; bar ≥ 0.9' });

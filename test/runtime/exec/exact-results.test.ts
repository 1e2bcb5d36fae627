/**
 * Results a user checks by hand: word counts, keyed sums. Every parallelism gives exactly what a plain loop gives,
 * with one output per input record (reduce emits every update). And a failing operator fails the job with a message
 * that says which operator and which subtask.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { collectSink, CollectTarget, datagen, readPartFiles } from '../../../connectors/dev/index.ts';
import { defineJob, JobParams, type Sink } from '../../../runtime/api/index.ts';
import { isSluiceError, SluiceError } from '../../../runtime/errors/index.ts';
import { JobRunner } from '../../../runtime/runner/index.ts';
import { keyGroupOf, ownerOfKeyGroup } from '../../../runtime/state/index.ts';
import wordcount, { type WordCount } from '../../../jobs/wordcount.ts';

async function tempDir(t: test.TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-exact-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Final count per word: the last update of each word in the part files. */
function lastCountPerWord(records: readonly WordCount[]): Map<string, number> {
  const last = new Map<string, number>();
  for (const r of records) last.set(r.word, r.count);
  return last;
}

async function runWordcount(t: test.TestContext, parallelism: number, params: Record<string, string> = {}): Promise<WordCount[]> {
  const output = join(await tempDir(t), 'out');
  const runner = new JobRunner({
    job: wordcount,
    params: new JobParams(Object.entries({ ...params, output })),
    parallelism,
  });
  assert.equal(await runner.run(), 'finished');
  return readPartFiles<WordCount>(output);
}

/** Deterministic text with mixed case, punctuation, an apostrophe and non-ASCII letters. */
function sampleText(): string {
  const words = ['The', 'river', 'sluice', 'gate', 'opens', "don't", 'café', 'NAÏVE', 'flows', 'the', 'water', 'key'];
  const separators = [' ', ', ', '. ', '; ', '  '];
  let seed = 7;
  const next = (n: number): number => {
    seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
    return seed % n;
  };
  const lines: string[] = [];
  for (let l = 0; l < 300; l++) {
    let line = '';
    const count = 1 + next(12);
    for (let w = 0; w < count; w++) line += (w === 0 ? '' : (separators[next(separators.length)] as string)) + words[next(words.length)];
    lines.push(line);
  }
  return lines.join('\n');
}

for (const p of [1, 2, 3]) {
  test(`wordcount at p=${p}: the last count of each word equals a plain count`, async (t) => {
    const text = sampleText();
    const input = join(await tempDir(t), 'input.txt');
    await writeFile(input, text);
    const expected = new Map<string, number>();
    let total = 0;
    for (const word of text.toLowerCase().split(/[\s.,;]+/)) {
      if (word === '') continue;
      expected.set(word, (expected.get(word) ?? 0) + 1);
      total++;
    }

    const records = await runWordcount(t, p, { input });
    assert.deepEqual(Object.fromEntries([...lastCountPerWord(records)].sort()), Object.fromEntries([...expected].sort()));
    assert.equal(records.length, total, 'one running count per word occurrence');
  });
}

test('wordcount on its built-in sample counts the words of the sample', async (t) => {
  const records = await runWordcount(t, 2);
  const counts = lastCountPerWord(records);
  assert.equal(counts.get('it'), 10);
  assert.equal(counts.get('was'), 10);
  assert.equal(counts.get('of'), 10);
  assert.equal(counts.get('the'), 11);
  assert.equal(counts.get('we'), 4);
  assert.equal(counts.get('times'), 2);
  assert.equal(counts.get('heaven'), 1);
  assert.equal(counts.has('It'), false, 'words are lower-cased');
  let total = 0;
  for (const n of counts.values()) total += n;
  assert.equal(records.length, total);
});

interface Amount {
  key: string;
  sum: number;
  count: number;
}

const RECORDS = 100_000;
const KEYS = 1_000;
const amount = (i: number): Amount => ({ key: `k${(i * 7) % KEYS}`, sum: (i * 7919) % 101, count: 1 });

const reduceRuns: Array<{ p: number; channelCapacityBytes?: number }> = [
  { p: 1 },
  { p: 2 },
  { p: 3 },
  { p: 7 },
  // Channels too small for any batch: every hand-over waits, so the backpressure paths carry all the data.
  { p: 3, channelCapacityBytes: 256 },
];

for (const { p, channelCapacityBytes } of reduceRuns) {
  const label = channelCapacityBytes === undefined ? '' : ` with ${channelCapacityBytes}-byte channels`;
  test(`keyed reduce at p=${p}${label}: final per-key values equal a plain loop, one output per input`, async () => {
    const expected = new Map<string, { sum: number; count: number }>();
    for (let i = 0; i < RECORDS; i++) {
      const a = amount(i);
      const e = expected.get(a.key) ?? { sum: 0, count: 0 };
      e.sum += a.sum;
      e.count += a.count;
      expected.set(a.key, e);
    }

    const target = new CollectTarget<Amount>();
    const job = defineJob(
      { name: `exact-reduce-p${p}`, parallelism: p, ...(channelCapacityBytes === undefined ? {} : { channelCapacityBytes }) },
      (env) => {
        env
          .source(datagen({ count: RECORDS, splits: 4, record: amount }))
          .keyBy((a) => a.key)
          .reduce((a, b) => ({ key: a.key, sum: a.sum + b.sum, count: a.count + b.count }))
          .sink(collectSink(target));
      },
    );
    assert.equal(await new JobRunner({ job }).run(), 'finished');

    assert.equal(target.records.length, RECORDS);
    const final = new Map<string, { sum: number; count: number }>();
    const gaps: string[] = [];
    for (const r of target.records) {
      // Each key's updates arrive in order: its count goes 1, 2, 3, ... with no gap or repeat.
      const previous = final.get(r.key)?.count ?? 0;
      if (r.count !== previous + 1) gaps.push(`${r.key}: ${previous} -> ${r.count}`);
      final.set(r.key, { sum: r.sum, count: r.count });
    }
    assert.deepEqual(gaps.slice(0, 5), []);
    assert.equal(final.size, KEYS);
    assert.deepEqual(Object.fromEntries([...final].sort()), Object.fromEntries([...expected].sort()));
  });
}

/** A sink that remembers how each of its writers was closed. */
function outcomeSink(outcomes: string[]): Sink<unknown> {
  return {
    name: 'outcomes',
    createWriter: () => ({
      start: async () => {},
      write: () => {},
      preCommit: async () => undefined,
      commit: async () => {},
      finish: async () => {},
      close: async (outcome) => {
        outcomes.push(outcome);
      },
    }),
  };
}

test('an operator that throws fails the job with SLUICE_OPERATOR_FAILED naming the operator and subtask', async () => {
  const outcomes: string[] = [];
  const job = defineJob({ name: 'exploding', parallelism: 2 }, (env) => {
    env
      // Two splits of 500 records: record 750 is read by subtask 2 of 2.
      .source(datagen({ count: 1000, splits: 2, batchSize: 50, record: (i) => i }))
      .map((i) => {
        if (i === 750) throw new Error('record 750 is malformed');
        return i;
      })
      .uid('exploder')
      .sink(outcomeSink(outcomes));
  });
  const runner = new JobRunner({ job, restartStrategy: { type: 'none' } });
  await assert.rejects(runner.run(), (err: unknown) => {
    assert.ok(err instanceof SluiceError, `expected a SluiceError, got ${String(err)}`);
    assert.equal(err.code, 'SLUICE_OPERATOR_FAILED');
    assert.match(err.message, /operator "exploder" \(subtask 2\/2\) of job "exploding"/);
    assert.match(err.message, /record 750 is malformed/);
    assert.equal((err.cause as Error | undefined)?.message, 'record 750 is malformed');
    return true;
  });
  assert.equal(runner.state, 'failed');
  assert.equal(runner.attempts, 1, 'restart strategy none: no second attempt');
  // Every sink subtask was told the attempt failed (so a transactional sink aborts what is open).
  assert.deepEqual(outcomes, ['failed', 'failed']);
});

test('a keyed function that throws names the subtask that owns the key', async () => {
  const p = 3;
  const owner = ownerOfKeyGroup(keyGroupOf('poison', 128), p, 128);
  const job = defineJob({ name: 'exploding-keyed', parallelism: p }, (env) => {
    env
      .source(datagen({ count: 300, splits: 3, record: (i) => (i === 123 ? 'poison' : `ok-${i % 17}`) }))
      .keyBy((k) => k)
      .process({
        processElement: (k) => {
          if (k === 'poison') throw new TypeError('cannot digest poison');
          return k;
        },
      })
      .uid('digest')
      .sink(collectSink());
  });
  await assert.rejects(new JobRunner({ job, restartStrategy: { type: 'none' } }).run(), (err: unknown) => {
    assert.ok(isSluiceError(err, 'SLUICE_OPERATOR_FAILED'), String(err));
    assert.match(err.message, new RegExp(`operator "digest" \\(subtask ${owner + 1}/${p}\\)`));
    assert.match(err.message, /cannot digest poison/);
    return true;
  });
});

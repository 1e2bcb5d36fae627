import assert from 'node:assert/strict';
import { test } from 'node:test';
import { collection, collectSink, CollectTarget } from '../../../connectors/dev/index.ts';
import { defineJob } from '../../../runtime/api/index.ts';
import { JobRunner } from '../../../runtime/runner/index.ts';

test('collection() refuses what is not a collection of records, naming what it got', () => {
  const expected = (got: RegExp) => ({ code: 'SLUICE_INVALID_OPTION', message: got });
  assert.throws(() => collection('to be or not to be' as never), expected(/takes an array of records.*got the string "to be or not to be"/));
  assert.throws(() => collection(undefined as never), expected(/got undefined/));
  assert.throws(() => collection({ user: 'ann' } as never), expected(/got an object with keys user/));
  assert.throws(() => collection(42 as never), expected(/got number 42/));
  assert.throws(() => collection([1], 3 as never), expected(/options must be an object/));
  assert.throws(() => collection([1], { splits: 0 }), { code: 'SLUICE_INVALID_OPTION' });
});

test('collection() takes arrays and other iterables, and is bounded: the job ends with every record once', async () => {
  for (const items of [[1, 2, 3, 4, 5], new Set([1, 2, 3, 4, 5])]) {
    const target = new CollectTarget<number>();
    const job = defineJob({ name: 'collection-bounded', parallelism: 2 }, (env) => {
      env.source(collection(items, { splits: 3 })).map((n) => n * 10).sink(collectSink(target));
    });
    assert.equal(await new JobRunner({ job }).run(), 'finished');
    assert.deepEqual([...target.records].sort((a, b) => a - b), [10, 20, 30, 40, 50]);
  }
});

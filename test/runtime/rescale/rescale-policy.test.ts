import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chooseParallelism, evenParallelisms, validateRescaleOptions } from '../../../runtime/rescale/index.ts';

test('each policy picks the parallelism its definition says, for 1..24 splits and caps 1..16', () => {
  for (let splits = 1; splits <= 24; splits++) {
    for (let cap = 1; cap <= 16; cap++) {
      for (const current of [1, 3, 7]) {
        assert.equal(chooseParallelism('fixed', { splits, current, cap }), current, `fixed ${splits}/${cap}`);
        assert.equal(chooseParallelism('match', { splits, current, cap }), Math.min(splits, cap), `match ${splits}/${cap}`);
        const divisor = chooseParallelism('divisor', { splits, current, cap });
        // Independent definition: the biggest d ≤ cap that divides splits.
        const candidates = Array.from({ length: cap }, (_, i) => i + 1).filter((d) => splits % d === 0);
        assert.equal(divisor, Math.max(...candidates), `divisor ${splits}/${cap}`);
        assert.equal(splits % divisor, 0, 'every subtask gets the same number of splits');
        assert.ok(divisor <= cap);
      }
    }
  }
  // Spot checks a reader can verify by hand.
  assert.equal(chooseParallelism('divisor', { splits: 12, current: 4, cap: 8 }), 6);
  assert.equal(chooseParallelism('divisor', { splits: 13, current: 4, cap: 8 }), 1, 'a prime above the cap leaves only 1');
  assert.equal(chooseParallelism('match', { splits: 24, current: 4, cap: 16 }), 16);
});

test('no splits keeps the current parallelism; a bad cap is refused', () => {
  assert.equal(chooseParallelism('match', { splits: 0, current: 3, cap: 8 }), 3);
  assert.throws(() => chooseParallelism('match', { splits: 4, current: 3, cap: 0 }), { code: 'SLUICE_INVALID_OPTION' });
});

test('even parallelisms are suggested nearest to the current one first', () => {
  assert.deepEqual(evenParallelisms(10, 4, 16), [5, 2, 10]);
  assert.deepEqual(evenParallelisms(6, 4, 16), [3, 6, 2]);
  assert.deepEqual(evenParallelisms(12, 5, 4), [4, 3, 2], 'capped');
  assert.deepEqual(evenParallelisms(7, 4, 6), [1], 'a prime above the cap');
});

test('the rescale option is validated with messages that name the fix', () => {
  assert.deepEqual(validateRescaleOptions(undefined, 128), []);
  assert.deepEqual(validateRescaleOptions({ policy: 'divisor', maxParallelism: 8 }, 128), []);
  assert.match(validateRescaleOptions({ policy: 'even' }, 128)[0] ?? '', /"fixed", "match" or "divisor"/);
  assert.match(validateRescaleOptions({ policy: 'match', maxParallelism: 200 }, 128)[0] ?? '', /from 1 to the job's maxParallelism \(128\)/);
});

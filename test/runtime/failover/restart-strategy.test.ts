import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isSluiceError } from '../../../runtime/errors/index.ts';
import {
  createRestartStrategy,
  defaultRestartStrategy,
  validateRestartStrategy,
  type RestartDecision,
} from '../../../runtime/failover/index.ts';

const delays = (ds: RestartDecision[]): Array<number | false> => ds.map((d) => (d.restart ? d.delayMs : false));

test('none never restarts', () => {
  const s = createRestartStrategy({ type: 'none' });
  const d = s.onFailure(0);
  assert.equal(d.restart, false);
  assert.match(s.describe(), /none/);
});

test('fixed-delay restarts `attempts` times, then gives up for good', () => {
  const s = createRestartStrategy({ type: 'fixed-delay', attempts: 3, delayMs: 500 });
  const ds: RestartDecision[] = [];
  for (let t = 0; t < 5; t++) {
    ds.push(s.onFailure(t * 1_000_000));
    s.onRestarted(t * 1_000_000 + 500);
  }
  assert.deepEqual(delays(ds), [500, 500, 500, false, false]);
  assert.deepEqual(ds.slice(0, 3).map((d) => d.restart && d.attempt), [1, 2, 3]);
  assert.match((ds[3] as { reason: string }).reason, /3 restart attempts/);
});

test('exponential-delay grows ×multiplier up to the max, jitter stays within ± fraction', () => {
  const cfg = { type: 'exponential-delay', initialDelayMs: 100, maxDelayMs: 1000, multiplier: 2, jitter: 0, resetAfterMs: 60_000 } as const;
  const s = createRestartStrategy(cfg);
  const ds: RestartDecision[] = [];
  let now = 0;
  for (let i = 0; i < 7; i++) {
    ds.push(s.onFailure(now));
    now += 10;
    s.onRestarted(now);
    now += 10; // fails again quickly
  }
  assert.deepEqual(delays(ds), [100, 200, 400, 800, 1000, 1000, 1000]);
  assert.deepEqual(ds.map((d) => d.restart && d.attempt), [1, 2, 3, 4, 5, 6, 7]);

  const low = createRestartStrategy({ ...cfg, jitter: 0.1 }, { random: () => 0 });
  const high = createRestartStrategy({ ...cfg, jitter: 0.1 }, { random: () => 0.999999 });
  assert.deepEqual(delays([low.onFailure(0), low.onFailure(1), low.onFailure(2)]), [90, 180, 360]);
  assert.deepEqual(delays([high.onFailure(0), high.onFailure(1), high.onFailure(2)]), [110, 220, 440]);
  const capped = createRestartStrategy({ ...cfg, jitter: 0.5 }, { random: () => 0.999999 });
  for (let i = 0; i < 10; i++) {
    const d = capped.onFailure(i);
    assert.ok(d.restart && d.delayMs <= 1000, 'never above maxDelayMs');
  }
});

test('exponential-delay resets to the initial delay after running resetAfterMs without failing', () => {
  const s = createRestartStrategy({ type: 'exponential-delay', initialDelayMs: 100, maxDelayMs: 10_000, multiplier: 3, jitter: 0, resetAfterMs: 5_000 });
  assert.deepEqual(delays([s.onFailure(0)]), [100]);
  s.onRestarted(100);
  assert.deepEqual(delays([s.onFailure(200)]), [300]);
  s.onRestarted(500);
  assert.deepEqual(delays([s.onFailure(5_499)]), [900], 'ran 4,999 ms: not yet reset');
  s.onRestarted(6_400);
  assert.deepEqual(delays([s.onFailure(11_400)]), [100], 'ran 5,000 ms: reset');
  s.onRestarted(11_500);
  assert.deepEqual(delays([s.onFailure(11_600)]), [300]);
});

test('failure-rate gives up when more than maxFailures fall within the sliding interval', () => {
  const s = createRestartStrategy({ type: 'failure-rate', maxFailures: 2, intervalMs: 1000, delayMs: 50 });
  assert.deepEqual(delays([s.onFailure(0), s.onFailure(500)]), [50, 50]);
  // 0 leaves the window once 1,001 ms have passed; failures at 500 and 1001 are 2 within the window
  assert.deepEqual(delays([s.onFailure(1001)]), [50]);
  // 500, 1001, 1500: three failures within 1,000 ms (inclusive)
  const d = s.onFailure(1500);
  assert.equal(d.restart, false);
  assert.match((d as { reason: string }).reason, /more than 2 failures within 1000 ms/);
  assert.equal(s.onFailure(100_000).restart, false, 'giving up is final');

  const slow = createRestartStrategy({ type: 'failure-rate', maxFailures: 1, intervalMs: 1000, delayMs: 0 });
  const ds = [0, 1001, 2002, 3003, 4004].map((t) => slow.onFailure(t));
  assert.deepEqual(delays(ds), [0, 0, 0, 0, 0], 'one failure per interval is fine forever');
  assert.deepEqual(ds.map((x) => x.restart && x.attempt), [1, 2, 3, 4, 5]);
  assert.equal(slow.onFailure(4500).restart, false);
});

test('validateRestartStrategy names the option and the allowed values', () => {
  const cases: Array<[unknown, RegExp]> = [
    [null, /must be an object/],
    [{ type: 'sometimes' }, /'none', 'fixed-delay', 'exponential-delay', 'failure-rate'/],
    [{ type: 'fixed-delay', attempts: -1, delayMs: 0 }, /attempts must be an integer >= 0; got -1/],
    [{ type: 'fixed-delay', attemps: 3, attempts: 3, delayMs: 0 }, /no option 'attemps'; its options are attempts, delayMs/],
    [{ type: 'fixed-delay', attempts: 3 }, /delayMs must be a finite number >= 0; got nothing/],
    [{ ...defaultRestartStrategy, jitter: 2 }, /jitter must be a number from 0 to 1/],
    [{ ...defaultRestartStrategy, multiplier: 0.5 }, /multiplier must be a finite number >= 1/],
    [{ ...defaultRestartStrategy, maxDelayMs: 10 }, /maxDelayMs \(10\) must be >= initialDelayMs/],
    [{ type: 'failure-rate', maxFailures: 1.5, intervalMs: 1, delayMs: 1 }, /maxFailures must be an integer/],
    [{ type: 'none', delayMs: 1 }, /takes no options/],
  ];
  for (const [config, message] of cases) {
    assert.throws(() => validateRestartStrategy(config), (e: unknown) => {
      assert.ok(isSluiceError(e, 'SLUICE_INVALID_RESTART_STRATEGY'), String(e));
      assert.match(e.message, message);
      return true;
    });
  }
  assert.deepEqual(validateRestartStrategy(defaultRestartStrategy), defaultRestartStrategy);
  assert.throws(() => createRestartStrategy({ type: 'fixed-delay', attempts: Number.NaN, delayMs: 0 }), /attempts/);
});

test('the default is exponential: 1 s, ×2, 60 s max, 10 % jitter, reset after 10 min', () => {
  assert.deepEqual(defaultRestartStrategy, { type: 'exponential-delay', initialDelayMs: 1000, maxDelayMs: 60000, multiplier: 2, jitter: 0.1, resetAfterMs: 600000 });
  const s = createRestartStrategy(defaultRestartStrategy, { random: () => 0.5 });
  assert.deepEqual(delays([s.onFailure(0), s.onFailure(1)]), [1000, 2000]);
  assert.match(s.describe(), /exponential-delay: 1000 ms ×2 up to 60000 ms/);
});

import assert from 'node:assert/strict';
import type { JobRunner } from '../../runtime/runner/index.ts';

/** Collects the message of every failed attempt of `runner`; call before `run()`. */
export function failedAttempts(runner: JobRunner): string[] {
  const failures: string[] = [];
  runner.events.subscribe((e) => {
    if (e.type === 'attempt-failed') failures.push(String((e.error as Error)?.message ?? e.error));
  });
  return failures;
}

/**
 * Checks that a run with seeded failures failed at least `min` times, only ever because of an injected failure
 * (message contains `injected failure`), and restarted once per failure. Two injections can land in one attempt (two
 * sink subtasks failing the same barrier, a commit failing while the attempt already fails, two map failures in
 * subtasks running in parallel on worker threads), so the count of failed attempts may be well below the count of
 * injections, never above: a loaded CI run saw 7 injections in 4 attempts. `min` (default 2) only checks that the run
 * really failed and restarted repeatedly; exactness is the caller's assertion on the output.
 */
export function assertOnlyInjectedFailures(runner: JobRunner, failures: readonly string[], injected: readonly string[], min = 2): void {
  const detail = `injected: ${injected.join(', ')}; failed attempts: ${failures.join(' | ')}`;
  assert.ok(failures.length >= min, `at least ${min} failed attempts (${detail})`);
  assert.ok(failures.length <= injected.length, `no more failed attempts than injected failures (${detail})`);
  assert.ok(failures.every((m) => m.includes('injected failure')), `every failure was an injected one (${detail})`);
  assert.equal(runner.attempts, failures.length + 1, 'every failure restarted the job once');
}

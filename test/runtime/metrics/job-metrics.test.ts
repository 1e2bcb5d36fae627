import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { JobParams, type JobDefinition } from '../../../runtime/api/index.ts';
import { CheckpointStore } from '../../../runtime/checkpoint/index.ts';
import { SluiceMetrics } from '../../../runtime/metrics/index.ts';
import { JobRunner } from '../../../runtime/runner/index.ts';
import { documentedMetrics, parsePrometheusText, sumOf, type Sample } from '../../support/prometheus-text.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { waitFor } from '../../support/wait-for.ts';
import windowedCounts, { BASE_MS } from '../event-time/fixtures/windowed-counts.ts';
import keyedCount from '../workers/fixtures/keyed-count.ts';

const RECORDS = 6_000;

/** A checkpointed keyed count at p = 2 (the workers fixture), tracked by `metrics`, not yet running. */
async function countingJob(t: import('node:test').TestContext, metrics: SluiceMetrics, workers: number): Promise<JobRunner> {
  const dir = await tempDir(t);
  const store = await CheckpointStore.open(join(dir, 'data'));
  t.after(() => store.close());
  const runner = new JobRunner({
    job: keyedCount as JobDefinition,
    params: new JobParams([['output', join(dir, 'out')], ['records', String(RECORDS)], ['rate', '6000']]),
    store,
    workers,
    jobModule: new URL('../workers/fixtures/keyed-count.ts', import.meta.url),
  });
  t.after(metrics.jobs.track('workers-keyed-count', runner));
  return runner;
}

const scrape = async (metrics: SluiceMetrics): Promise<Sample[]> => parsePrometheusText(await metrics.text());

for (const workers of [0, 2]) {
  test(`a running job's metrics: every documented name with its labels, counters that move, checkpoints counted (workers ${workers})`, async (t) => {
    const metrics = new SluiceMetrics();
    const runner = await countingJob(t, metrics, workers);
    const run = runner.run();
    const source = runner.plan.stages[0]?.operators[0]?.uid as string;

    // Records flow: the source's counter grows between two scrapes, and a checkpoint completes.
    const first = await waitFor(async () => sumOf(await scrape(metrics), 'sluice_records_in_total', { operator: source }) || undefined, { timeoutMs: 30_000, message: 'records counted' });
    const running = await waitFor(
      async () => {
        const samples = await scrape(metrics);
        return sumOf(samples, 'sluice_records_in_total', { operator: source }) > first && sumOf(samples, 'sluice_checkpoints_total', { outcome: 'completed' }) >= 1 && samples;
      },
      { timeoutMs: 30_000, message: 'the count to grow and a checkpoint to complete' },
    );

    // Every documented metric is there, with exactly the documented labels (but those this job has no use for).
    for (const doc of await documentedMetrics()) {
      if (doc.onlyWith !== undefined) continue;
      const samples = running.filter((s) => s.name === doc.name || (doc.type === 'histogram' && s.name.startsWith(`${doc.name}_`)));
      assert.ok(samples.length > 0, `${doc.name} is reported`);
      for (const sample of samples) {
        assert.deepEqual(Object.keys(sample.labels).filter((l) => l !== 'le').sort(), [...doc.labels].sort(), `labels of ${sample.name}`);
      }
    }
    // …and everything reported is documented, but for prom-client's process metrics.
    const documented = new Set((await documentedMetrics()).map((d) => d.name));
    const undocumented = [...new Set(running.map((s) => s.name.replace(/_(bucket|sum|count)$/, '')))].filter((n) => !documented.has(n) && !/^sluice_(process|nodejs)_/.test(n));
    assert.deepEqual(undocumented, []);
    assert.ok(running.some((s) => s.name === 'sluice_process_resident_memory_bytes' && s.value > 0), 'process metrics have the sluice_ prefix');

    assert.equal(sumOf(running, 'sluice_job_running', { job: 'workers-keyed-count' }), 1);
    assert.equal(sumOf(running, 'sluice_job_parallelism'), 2);
    assert.equal(running.filter((s) => s.name === 'sluice_records_in_total' && s.labels['operator'] === source).length, 2, 'one series per source subtask');
    // The fixture's reader reports lag 7 at position 100 + subtask for split "subtask-<i>" (no Kafka partition).
    const positions = running.filter((s) => s.name === 'sluice_source_position').map((s) => [s.labels['topic'], s.labels['partition'], s.value]);
    assert.deepEqual(positions.sort(), [['subtask', '0', 100], ['subtask', '1', 101]]);

    assert.equal(await run, 'finished');
    const done = await scrape(metrics);
    assert.equal(sumOf(done, 'sluice_records_in_total', { operator: source }), RECORDS, 'every record counted once, whatever thread counted it');
    assert.equal(sumOf(done, 'sluice_job_running'), 0);
    const completed = sumOf(done, 'sluice_checkpoints_total', { outcome: 'completed' });
    assert.equal(sumOf(done, 'sluice_checkpoint_duration_seconds_count'), completed, 'one duration per completed checkpoint');
    assert.equal(sumOf(done, 'sluice_checkpoints_total', { outcome: 'failed' }), 0);
    assert.ok(sumOf(done, 'sluice_last_checkpoint_size_bytes') > 0);
    // The rate-limited source waits for its next records most of the time, and works some of it.
    assert.ok(sumOf(done, 'sluice_idle_seconds_total', { operator: source }) > 0, 'source idle time');
    assert.ok(sumOf(done, 'sluice_busy_seconds_total', { operator: source }) > 0, 'source busy time');
    // The count's stage aligns barriers over 2 channels; sources never wait for alignment and queue nothing.
    const count = runner.plan.stages[1]?.operators[0]?.uid as string;
    assert.equal(done.filter((s) => s.name === 'sluice_checkpoint_alignment_seconds_total' && s.labels['operator'] === count).length, 2);
    assert.equal(sumOf(done, 'sluice_checkpoint_alignment_seconds_total', { operator: source }), 0);
    assert.equal(sumOf(done, 'sluice_input_queued_bytes', { operator: source }), 0);
    assert.equal(done.filter((s) => s.name === 'sluice_watermark_seconds').length, 0, 'no event time, no watermark');
  });
}

for (const workers of [0, 2]) {
  test(`an event-time job's watermark and its lag behind the wall clock, per subtask (workers ${workers})`, async (t) => {
    const metrics = new SluiceMetrics();
    const dir = await tempDir(t);
    const store = await CheckpointStore.open(join(dir, 'data'));
    t.after(() => store.close());
    const runner = new JobRunner({
      job: windowedCounts as JobDefinition,
      params: new JobParams([['output', join(dir, 'out')], ['records', '8000'], ['rate', '4000']]),
      store,
      workers,
      jobModule: new URL('../event-time/fixtures/windowed-counts.ts', import.meta.url),
    });
    t.after(metrics.jobs.track('event-time-windows', runner));
    const run = runner.run();
    const windows = runner.plan.stages[1]?.operators[0]?.uid as string;
    const watermarks = async (): Promise<Sample[]> => (await scrape(metrics)).filter((s) => s.name === 'sluice_watermark_seconds' && s.labels['operator'] === windows);
    const first = await waitFor(async () => {
      const w = await watermarks();
      return w.length === 2 && Math.min(...w.map((s) => s.value));
    }, { timeoutMs: 30_000, message: 'both window subtasks report a watermark' });
    // Event time moves on as the job runs; the events are of 2026-12-03, so their watermark lags the clock.
    await waitFor(async () => Math.min(...(await watermarks()).map((s) => s.value)) > first, { timeoutMs: 30_000, message: 'the watermark to advance' });
    const samples = await scrape(metrics);
    const now = Date.now() / 1000;
    for (const w of samples.filter((s) => s.name === 'sluice_watermark_seconds' && s.labels['operator'] === windows)) {
      assert.ok(w.value >= BASE_MS / 1000 - 1 && w.value < now, `watermark ${w.value} is event time`);
      const lag = sumOf(samples, 'sluice_watermark_lag_seconds', { operator: windows, subtask: w.labels['subtask'] as string });
      assert.ok(Math.abs(lag - (now - w.value)) < 60, `lag ${lag} is the clock minus the watermark`);
    }
    assert.equal(await run, 'finished');
    assert.equal((await scrape(metrics)).filter((s) => s.name === 'sluice_watermark_seconds' && s.labels['operator'] === windows).length, 0, 'the end of input is not reported as event time');
  });
}

test('a restart is counted, and an untracked job is no longer reported', async (t) => {
  const metrics = new SluiceMetrics();
  const dir = await tempDir(t);
  const store = await CheckpointStore.open(join(dir, 'data'));
  t.after(() => store.close());
  const runner = new JobRunner({
    job: keyedCount as JobDefinition,
    params: new JobParams([['output', join(dir, 'out')], ['records', '4000'], ['rate', '8000'], ['failAfter', '2000']]),
    store,
    workers: 0,
  });
  const untrack = metrics.jobs.track('workers-keyed-count', runner);
  assert.equal(await runner.run(), 'finished');
  const samples = await scrape(metrics);
  assert.equal(sumOf(samples, 'sluice_job_restarts_total'), 1);
  assert.equal(sumOf(samples, 'sluice_checkpoints_total', { outcome: 'failed' }), 0, 'the failure was the map, not a checkpoint');
  untrack();
  const after = await scrape(metrics);
  assert.equal(after.filter((s) => s.labels['job'] === 'workers-keyed-count').length, 0);
});

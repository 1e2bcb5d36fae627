/**
 * Keyed state in Prometheus (`sluice_state_*`, `sluice_last_checkpoint_written_bytes`): per keyed operator subtask,
 * whichever thread runs it, on the heap and the LevelDB backend.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { readPartFiles } from '../../../connectors/dev/index.ts';
import { JobParams, type JobDefinition } from '../../../runtime/api/index.ts';
import { CheckpointStore } from '../../../runtime/checkpoint/index.ts';
import { SluiceMetrics } from '../../../runtime/metrics/index.ts';
import { JobRunner } from '../../../runtime/runner/index.ts';
import { parsePrometheusText, sumOf, type Sample } from '../../support/prometheus-text.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { KEYS, keyOf, RECORDS } from './fixtures/state-metrics-job.ts';
import { CACHE_BYTES } from './fixtures/state-metrics-leveldb.ts';

for (const backend of ['heap', 'leveldb'] as const) {
  for (const workers of [0, 2]) {
    test(`keyed state metrics of a ${backend} backend, per subtask (workers ${workers})`, async (t) => {
      const dir = await tempDir(t);
      const store = await CheckpointStore.open(join(dir, 'data'));
      t.after(() => store.close());
      const metrics = new SluiceMetrics();
      const module = new URL(`./fixtures/state-metrics-${backend}.ts`, import.meta.url);
      const { default: job } = (await import(module.href)) as { default: JobDefinition };
      const output = join(dir, 'out');
      const runner = new JobRunner({ job, params: new JobParams([['output', output]]), store, workers, jobModule: module });
      t.after(metrics.jobs.track('state-metrics', runner));
      assert.equal(await runner.run(), 'finished');

      const samples: Sample[] = parsePrometheusText(await metrics.text());
      const counts = (name: string): Sample[] => samples.filter((s) => s.name === name && s.labels['operator'] === 'counts');
      // Every key has state in exactly one subtask: the subtasks' entries add up to the keys, none is empty.
      const entries = counts('sluice_state_entries');
      assert.deepEqual(entries.map((s) => s.labels['subtask']).sort(), ['0', '1']);
      assert.equal(sumOf(samples, 'sluice_state_entries', { operator: 'counts' }), KEYS);
      assert.ok(entries.every((s) => s.value > 0));
      assert.equal(sumOf(samples, 'sluice_state_timers', { operator: 'counts' }), 0);
      assert.equal(samples.filter((s) => s.name === 'sluice_state_entries' && s.labels['operator'] !== 'counts').length, 0, 'only the keyed operator has state');
      // `sluice status` and REST show the same count per stage (JobRunner.metrics()).
      const stages = runner.metrics();
      assert.equal(stages.find((s) => s.operators.includes('counts'))?.stateEntries, KEYS);
      assert.equal(stages.find((s) => s.operators.includes('numbers'))?.stateEntries, undefined, 'the source stage has no keyed state');

      if (backend === 'heap') {
        assert.equal(samples.filter((s) => s.name.startsWith('sluice_state_cache')).length, 0, 'the heap backend has no cache');
        assert.ok(stages.every((s) => s.stateCache === undefined), 'nor a cache figure for sluice status');
      } else {
        assert.equal(sumOf(samples, 'sluice_state_cache_limit_bytes', { operator: 'counts' }), 2 * CACHE_BYTES);
        // Each record reads its key's count once at least; each key's first read misses. The cache holds fewer keys
        // than there are, so keys are evicted and read back.
        const hits = sumOf(samples, 'sluice_state_cache_hits_total', { operator: 'counts' });
        const misses = sumOf(samples, 'sluice_state_cache_misses_total', { operator: 'counts' });
        assert.ok(hits + misses >= RECORDS, `${hits} hits and ${misses} misses for ${RECORDS} records`);
        assert.ok(misses > KEYS, `${misses} misses: more than the ${KEYS} first reads`);
        // `sluice status` shows their ratio per stage, from the same counters.
        assert.deepEqual(stages.find((s) => s.operators.includes('counts'))?.stateCache, { hits, misses });
        assert.equal(stages.find((s) => s.operators.includes('numbers'))?.stateCache, undefined);
        assert.ok(sumOf(samples, 'sluice_state_cache_evictions_total', { operator: 'counts' }) > 0);
        for (const s of counts('sluice_state_cache_bytes')) assert.ok(s.value > 0 && s.value <= CACHE_BYTES * 1.1, `cache bytes ${s.value}`);
        assert.equal(counts('sluice_state_writes_queued').length, 2);
      }
      // Incremental checkpoints write their changes only: the last one wrote less than the state it stands for.
      const written = sumOf(samples, 'sluice_last_checkpoint_written_bytes');
      const size = sumOf(samples, 'sluice_last_checkpoint_size_bytes');
      assert.ok(written > 0 && written < size, `last checkpoint wrote ${written} of ${size} bytes`);
      // The output is exact: a reduce emits each key's running count, so its largest is the key's record count.
      const expected = new Map<string, number>();
      for (let i = 0; i < RECORDS; i++) expected.set(keyOf(i), (expected.get(keyOf(i)) ?? 0) + 1);
      const finals = new Map<string, number>();
      for (const r of await readPartFiles<{ key: string; n: number }>(output)) finals.set(r.key, Math.max(finals.get(r.key) ?? 0, r.n));
      assert.deepEqual(finals, expected);
    });
  }
}

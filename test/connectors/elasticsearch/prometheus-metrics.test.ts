/**
 * The Elasticsearch sink's counters reach Prometheus from every writer, in-process and on worker threads (where the
 * sink object of the main thread reads zeros): one series per sink subtask, labelled as the docs say, adding up to
 * what the job wrote.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { JobParams } from '../../../runtime/api/index.ts';
import { CheckpointStore } from '../../../runtime/checkpoint/index.ts';
import { SluiceMetrics } from '../../../runtime/metrics/index.ts';
import { JobRunner } from '../../../runtime/runner/index.ts';
import { elasticsearchNode } from '../../support/elasticsearch-node.ts';
import { documentedMetrics, parsePrometheusText, sumOf } from '../../support/prometheus-text.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { COUNT_TO_ES_MODULE, countToEs, readCounts } from './fixtures/count-to-es.ts';

const RECORDS = 6_000;

for (const workers of [0, 2]) {
  test(`every sink writer's bulk counters and latency are exported per subtask (workers ${workers})`, async (t) => {
    const es = await elasticsearchNode(t);
    const index = es.uniqueIndex(`prom-w${workers}`);
    const dir = await tempDir(t);
    const store = await CheckpointStore.open(join(dir, 'data'));
    t.after(() => store.close());
    const metrics = new SluiceMetrics();
    const runner = new JobRunner({
      job: countToEs,
      params: new JobParams([['node', es.node], ['index', index], ['shape', 'updates'], ['records', String(RECORDS)], ['keys', '50'], ['rate', '12000']]),
      store,
      workers,
      jobModule: COUNT_TO_ES_MODULE,
    });
    t.after(metrics.jobs.track('count-to-es', runner));
    assert.equal(await runner.run(), 'finished');
    assert.equal((await readCounts(es.client(), index)).length, RECORDS);

    const samples = parsePrometheusText(await metrics.text());
    const esDocs = (await documentedMetrics()).filter((d) => d.onlyWith === 'an Elasticsearch sink');
    assert.ok(esDocs.length >= 10, 'the Elasticsearch metrics are documented');
    for (const doc of esDocs) {
      const series = samples.filter((s) => s.name === (doc.type === 'histogram' ? `${doc.name}_count` : doc.name));
      assert.deepEqual(series.map((s) => s.labels['subtask']).sort(), ['0', '1'], `${doc.name}: one series per sink subtask`);
      for (const s of series) {
        assert.deepEqual(Object.keys(s.labels).sort(), [...doc.labels].sort(), `labels of ${doc.name}`);
        assert.equal(s.labels['operator'], 'out');
      }
    }
    // One update document per record, acknowledged once: no failure, so no replay and no retry.
    assert.equal(sumOf(samples, 'sluice_elasticsearch_records_total'), RECORDS);
    assert.equal(sumOf(samples, 'sluice_elasticsearch_actions_acknowledged_total'), RECORDS);
    assert.equal(sumOf(samples, 'sluice_elasticsearch_too_many_requests_total'), 0);
    assert.equal(sumOf(samples, 'sluice_elasticsearch_dead_letters_total'), 0);
    const requests = sumOf(samples, 'sluice_elasticsearch_bulk_requests_total');
    assert.ok(requests > 0);
    assert.equal(sumOf(samples, 'sluice_elasticsearch_bulk_duration_seconds_count'), requests, 'one latency per bulk request');
    assert.equal(sumOf(samples, 'sluice_elasticsearch_bulk_duration_seconds_bucket', { le: '+Inf' }), requests);
    assert.ok(sumOf(samples, 'sluice_elasticsearch_bulk_duration_seconds_sum') > 0);
    assert.equal(sumOf(samples, 'sluice_elasticsearch_buffered_bytes'), 0, 'nothing left buffered at the end');
  });
}

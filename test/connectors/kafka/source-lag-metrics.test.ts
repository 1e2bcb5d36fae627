/**
 * Consumer lag in Prometheus (docs/observability.md): `sluice_source_lag_records` per topic and partition reports a
 * backlog and falls to 0 once the job has caught up, in-process and on worker threads.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { JobParams } from '../../../runtime/api/index.ts';
import { SluiceMetrics } from '../../../runtime/metrics/index.ts';
import { kafkaCluster } from '../../support/kafka-cluster.ts';
import { parsePrometheusText, type Sample } from '../../support/prometheus-text.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { waitFor } from '../../support/wait-for.ts';
import sourceToFiles, { SOURCE_TO_FILES_MODULE } from './fixtures/source-to-files.ts';
import { produceNumbered, runUntil } from './source-test-support.ts';

const PARTITIONS = 3;
const RECORDS = 3_000;

for (const workers of [0, 2]) {
  test(`sluice_source_lag_records: one series per partition, at 0 once the job caught up (workers ${workers})`, async (t) => {
    const cluster = await kafkaCluster(t);
    const topic = await cluster.createTopic({ partitions: PARTITIONS, prefix: 'lag-metrics' });
    await produceNumbered(await cluster.producer(), topic, PARTITIONS, 0, RECORDS);
    const dir = await tempDir(t);
    const metrics = new SluiceMetrics();
    const lagSamples = async (): Promise<Sample[]> => parsePrometheusText(await metrics.text()).filter((s) => s.name === 'sluice_source_lag_records');
    const params = new JobParams([['brokers', cluster.brokers.join(',')], ['topic', topic], ['group', cluster.uniqueName('lag')], ['output', join(dir, 'out')]]);
    await runUntil({ job: sourceToFiles, params, workers, jobModule: SOURCE_TO_FILES_MODULE, dataDir: join(dir, 'data') }, async (runner) => {
      const untrack = metrics.jobs.track('kafka-source-to-files', runner);
      try {
        const caughtUp = await waitFor(
          async () => {
            const samples = await lagSamples();
            return samples.length === PARTITIONS && samples.every((s) => s.value === 0) && samples;
          },
          { timeoutMs: 40_000, message: 'every partition at lag 0', describe: lagSamples },
        );
        assert.deepEqual(caughtUp.map((s) => s.labels['partition']).sort(), ['0', '1', '2']);
        for (const s of caughtUp) assert.deepEqual({ job: s.labels['job'], topic: s.labels['topic'] }, { job: 'kafka-source-to-files', topic });
        // A second backlog: once it is read, every partition is back at 0.
        await produceNumbered(await cluster.producer(), topic, PARTITIONS, RECORDS, 2 * RECORDS);
        await waitFor(async () => (await lagSamples()).every((s) => s.value === 0) && runner.metrics()[0]?.recordsIn === 2 * RECORDS, { timeoutMs: 40_000, message: 'the second backlog read', describe: lagSamples });
        // Positions are next offsets: every partition holds 2 × RECORDS / PARTITIONS records from offset 0.
        const positions = parsePrometheusText(await metrics.text()).filter((s) => s.name === 'sluice_source_position');
        assert.deepEqual(positions.map((s) => [s.labels['partition'], s.value]).sort(), [['0', 2_000], ['1', 2_000], ['2', 2_000]]);
      } finally {
        untrack();
      }
    });
  });
}

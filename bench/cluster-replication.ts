/**
 * Replication overhead of cluster mode: the same job (support/cluster-count-job.ts: Kafka source → keyed count over
 * KEYS keys (default 100,000) → probe sink, p = 1, in-process, incremental checkpoints every 1 s) on the same
 * pre-filled topic (RECORDS records, default 3,000,000; 4 partitions; devstack broker in a child process), run
 *   standalone: a JobRunner with a local CheckpointStore, no cluster;
 *   cluster:    submitted to a one-member cluster (startClusterMember, in this process): every checkpoint is also
 *               written to the cluster's checkpoints topic before the sink commits, and each one's status too.
 * Runs alternate (standalone, cluster, standalone, …; RUNS each, default 5). Each run is timed at steady state: from
 * the sink's WARMUP-th record (default 20 % of RECORDS: start-up, restore lookup, the first fetches are left out) to
 * its last; records/s over that window. Reported: ratio of the medians (bar ≥ 0.85×).
 *
 *   npx tsx bench/cluster-replication.ts            (KEYS=1000000 RECORDS=1500000 for a large-state variant)
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel } from 'kafkajs';
import { JobParams } from '../runtime/api/index.ts';
import { CheckpointStore } from '../runtime/checkpoint/index.ts';
import { startClusterMember } from '../runtime/cluster/cluster-member.ts';
import { silentLogger } from '../runtime/logging/index.ts';
import { JobRunner } from '../runtime/runner/index.ts';
import { emitFigure, median } from './support/figure.ts';
import { spawnBrokerProcess } from './support/spawn-broker.ts';
import job, { clusterProbe } from './support/cluster-count-job.ts';
import { callApi, fillClusterTopic, secs } from './support/cluster-bench.ts';

const KEYS = Number(process.env['KEYS'] ?? 100_000);
const RECORDS = Number(process.env['RECORDS'] ?? 3_000_000);
const WARMUP = Number(process.env['WARMUP'] ?? Math.round(RECORDS * 0.2));
const RUNS = Number(process.env['RUNS'] ?? 5);
const PARTITIONS = 4;
const JOB_FILE = fileURLToPath(new URL('./support/cluster-count-job.ts', import.meta.url));
const BAR = 0.85;

const log = (text: string): void => void process.stderr.write(`[cluster-replication] ${text}\n`);

interface Measured {
  readonly rate: number;
  /** Checkpoints completed (sink commits) inside the timed window. */
  readonly checkpoints: number;
  readonly windowMs: number;
  /** Submit/start → the sink's first record. */
  readonly startMs: number;
}

/** Resets the probe and resolves with the steady-state window once the sink has seen RECORDS records. */
function timeWindow(startedAt: number): { done: Promise<Measured> } {
  const probe = clusterProbe();
  probe.records = 0;
  probe.commits = 0;
  let firstAt = 0;
  let fromAt = 0;
  let fromCommits = 0;
  let finished!: (m: Measured) => void;
  const done = new Promise<Measured>((resolve) => (finished = resolve));
  probe.onWrite = () => {
    const now = performance.now();
    if (firstAt === 0) firstAt = now;
    if (fromAt === 0 && probe.records >= WARMUP) {
      fromAt = now;
      fromCommits = probe.commits;
      return;
    }
    if (probe.records >= RECORDS) {
      probe.onWrite = undefined;
      finished({ rate: (probe.records - WARMUP) / ((now - fromAt) / 1000), checkpoints: probe.commits - fromCommits, windowMs: now - fromAt, startMs: firstAt - startedAt });
    }
  };
  return { done };
}

async function standalone(brokers: string[], input: string): Promise<Measured> {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-bench-replication-standalone-'));
  const store = await CheckpointStore.open(dir);
  const runner = new JobRunner({ job, params: new JobParams(Object.entries({ brokers: brokers.join(','), input })), store, workers: 0 });
  const window = timeWindow(performance.now());
  const run = runner.run();
  try {
    return await Promise.race([window.done, run.then(() => Promise.reject(new Error('the standalone job ended early')))]);
  } finally {
    runner.cancel('benchmark done');
    await run.catch(() => undefined);
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
}

async function cluster(brokers: string[], input: string): Promise<Measured> {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-bench-replication-cluster-'));
  const member = await startClusterMember({ cluster: `bench-${randomUUID().slice(0, 8)}`, brokers, dataDir: dir, port: 0, workers: 0, logger: silentLogger() });
  const window = timeWindow(performance.now());
  try {
    await callApi(member.url, 'POST', '/v1/jobs', { file: JOB_FILE, params: { brokers: brokers.join(','), input } });
    const timeout = setTimeout(() => log('the cluster run is taking over 5 minutes'), 300_000);
    try {
      return await window.done;
    } finally {
      clearTimeout(timeout);
    }
  } finally {
    // Closing hands the job over with a savepoint (no other member: it just stops); not timed.
    await member.close();
    await rm(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const broker = await spawnBrokerProcess({ partitions: PARTITIONS });
  const kafka = new Kafka({ clientId: 'sluice-bench-replication', brokers: broker.brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const input = `bench-replication-in-${randomUUID().slice(0, 8)}`;
  try {
    await admin.createTopics({ topics: [{ topic: input, numPartitions: PARTITIONS, replicationFactor: 1 }], waitForLeaders: true });
    const began = performance.now();
    await fillClusterTopic(kafka, input, RECORDS, (i) => i % KEYS);
    log(`${RECORDS} records over ${KEYS} keys in ${input} in ${secs(performance.now() - began)}`);
    const results = { standalone: [] as Measured[], cluster: [] as Measured[] };
    for (let run = 1; run <= RUNS; run++) {
      for (const mode of ['standalone', 'cluster'] as const) {
        const m = mode === 'standalone' ? await standalone(broker.brokers, input) : await cluster(broker.brokers, input);
        results[mode].push(m);
        log(`run ${run} ${mode.padEnd(10)} ${Math.round(m.rate)} records/s over ${secs(m.windowMs)} (${m.checkpoints} checkpoints in the window; first record ${secs(m.startMs)} after start)`);
      }
    }
    const s = median(results.standalone.map((m) => m.rate));
    const c = median(results.cluster.map((m) => m.rate));
    const k = (n: number): string => `${Math.round(n / 1000)}k`;
    // Replication lengthens each checkpoint (one is in flight at a time), so fewer complete in a window: shown
    // beside the rate, since fewer checkpoints also mean less checkpoint work (and more to replay on a failover).
    const spacing = (ms: readonly Measured[]): string => secs(median(ms.map((m) => m.windowMs / Math.max(1, m.checkpoints))));
    process.stdout.write(
      `replication overhead: cluster ${k(c)} rec/s vs standalone ${k(s)} rec/s = ${(c / s).toFixed(3)}× (median of ${RUNS}; bar ≥ ${BAR}×; ` +
        `${KEYS} keys, incremental checkpoints every 1 s, one completed every ${spacing(results.cluster)} in cluster runs vs ${spacing(results.standalone)} standalone (medians); cluster runs ${results.cluster.map((m) => k(m.rate)).join(', ')}, standalone ${results.standalone.map((m) => k(m.rate)).join(', ')})\n`,
    );
    const keysLabel = KEYS === 1_000_000 ? '1M' : KEYS % 1000 === 0 ? `${KEYS / 1000}k` : String(KEYS);
    emitFigure({
      name: `cluster/replication-overhead-${keysLabel}-keys`,
      value: c,
      unit: 'records/s',
      baseline: s,
      note: `one-member cluster (checkpoints replicated to Kafka before the sink commits) vs the same job in a standalone JobRunner; Kafka source → keyed count over ${KEYS} keys → discard, p = 1 in-process, incremental checkpoints every 1 s; ${RECORDS} records, steady state from record ${WARMUP}; alternating, median of ${RUNS}; a checkpoint completed every ${spacing(results.cluster)} (cluster) vs ${spacing(results.standalone)} (standalone); bar ≥ ${BAR}×`,
    });
  } finally {
    await admin.deleteTopics({ topics: [input] }).catch(() => undefined);
    await admin.disconnect();
    await broker.stop();
  }
}

await main();

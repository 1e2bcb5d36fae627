/**
 * What a cluster member's local copy saves when a job starts again on the member that ran it (a rescale, new params,
 * a pause and resume, a restore: every new spec version restarts the job on its owner): the time to prepare the
 * start point (runtime/cluster/checkpoints/start-point.ts) of a job with STATE_MIB (default 64, about 1M keys of a
 * keyed count) of checkpoint state, replicated to a devstack broker in a child process.
 *
 *   local        the member's store holds the newest replicated checkpoint: verified blob by blob, kept
 *   replicated   a fresh store (another member): the checkpoint is assembled from its chunks and adopted
 *
 * Both read the job's partition of the checkpoints topic first (that part is the same). Alternating runs, median of
 * ROUNDS (default 5) each; ratio = replicated / local (how many times faster the local copy is).
 *
 *   npx tsx bench/cluster-local-restore.ts      (STATE_MIB=8 for a quick run)
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { CheckpointStore, type CheckpointBlobs } from '../runtime/checkpoint/index.ts';
import { CheckpointPublisher } from '../runtime/cluster/checkpoints/checkpoint-publisher.ts';
import { ClusterCheckpointTools } from '../runtime/cluster/checkpoints/checkpoint-tools.ts';
import { prepareStartPoint } from '../runtime/cluster/checkpoints/start-point.ts';
import { silentLogger } from '../runtime/logging/index.ts';
import { emitFigure, median } from './support/figure.ts';
import { spawnBrokerProcess } from './support/spawn-broker.ts';

const STATE_MIB = Number(process.env['STATE_MIB'] ?? 64);
const ROUNDS = Number(process.env['ROUNDS'] ?? 5);
const JOB = 'local-restore';
const KEY_GROUPS = 128;
const logger = silentLogger();

const broker = await spawnBrokerProcess({ partitions: 1 });
const dir = await mkdtemp(join(tmpdir(), 'sluice-bench-local-restore-'));
const kafka = new Kafka({ clientId: 'bench', brokers: broker.brokers, logLevel: logLevel.NOTHING });
const admin = kafka.admin();
const stores: CheckpointStore[] = [];
try {
  await admin.connect();
  const topic = 'sluice.bench.checkpoints';
  await admin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 1, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] }] });
  const open = async (name: string): Promise<CheckpointStore> => {
    const store = await CheckpointStore.open(join(dir, name), { logger });
    stores.push(store);
    return store;
  };
  const tools = new ClusterCheckpointTools({ kafka, topic, partitions: 1, dataDir: join(dir, 'tools'), member: () => 'bench', logger });

  // The owner writes one checkpoint of STATE_MIB over KEY_GROUPS key groups and replicates it.
  const home = await open('home');
  const perGroup = Math.ceil((STATE_MIB * 1024 * 1024) / KEY_GROUPS);
  const blobs: CheckpointBlobs = Array.from({ length: KEY_GROUPS }, (_, keyGroup) => ({ operatorUid: 'count', keyGroup, bytes: randomBytes(perGroup) }));
  const manifest = await home.write({ job: JOB, id: 1, kind: 'checkpoint', timestamp: Date.now(), durationMs: 1, parallelism: 1, maxParallelism: KEY_GROUPS, operators: [{ uid: 'count', name: 'count', parallelism: 1, stateful: true }], sourcePositions: {} }, blobs);
  const publisher = await CheckpointPublisher.open({ kafka, topic, partitions: 1, job: JOB, epoch: 1, member: 'home', store: home, retain: 3, override: 0, view: await tools.view(JOB), logger });
  await publisher.claim(null);
  await publisher.publish(manifest);
  await publisher.close();

  const local: number[] = [];
  const replicated: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    let started = performance.now();
    const back = await prepareStartPoint({ job: JOB, epoch: 2, override: undefined, store: home, tools, logger });
    local.push(performance.now() - started);
    if (!back.localCopy) throw new Error('the home store should have kept its local copy');

    const elsewhere = await open(`other-${round}`);
    started = performance.now();
    const moved = await prepareStartPoint({ job: JOB, epoch: 2, override: undefined, store: elsewhere, tools, logger });
    replicated.push(performance.now() - started);
    if (moved.localCopy) throw new Error('a fresh store cannot hold a local copy');
  }
  const l = median(local);
  const r = median(replicated);
  emitFigure({
    name: `cluster/start point, ${STATE_MIB} MiB of state: replicated copy vs local copy`,
    value: r,
    unit: 'ms',
    baseline: l,
    note: `local copy ${Math.round(l)} ms (verified, kept), replicated copy ${Math.round(r)} ms (assembled and adopted); both read the topic; median of ${ROUNDS} alternating runs; ratio = times faster locally`,
  });
} finally {
  for (const store of stores) await store.close().catch(() => undefined);
  await admin.disconnect().catch(() => undefined);
  await broker.stop();
  await rm(dir, { recursive: true, force: true });
}

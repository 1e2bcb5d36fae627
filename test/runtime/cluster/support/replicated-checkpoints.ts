/**
 * What the checkpoint replication tests share: a broker with a 3-partition checkpoints topic, local stores, and
 * checkpoints written as an incremental job writes them (one key group's chain larger than a chunk, with deltas).
 */
import { randomBytes } from 'node:crypto';
import type { TestContext } from 'node:test';
import { CheckpointStore, type CheckpointBlobs, type CheckpointManifest, type ManifestHeader } from '../../../../runtime/checkpoint/index.ts';
import { CheckpointPublisher } from '../../../../runtime/cluster/checkpoints/checkpoint-publisher.ts';
import type { ClusterCheckpointTools } from '../../../../runtime/cluster/checkpoints/checkpoint-tools.ts';
import { CHUNK_BYTES, partitionOf } from '../../../../runtime/cluster/checkpoints/replicated-records.ts';
import { scanPartition } from '../../../../runtime/cluster/kafka/partition-scan.ts';
import { ReplicatedJobView } from '../../../../runtime/cluster/checkpoints/replicated-view.ts';
import { silentLogger } from '../../../../runtime/logging/index.ts';
import { kafkaCluster, type KafkaCluster } from '../../../support/kafka-cluster.ts';
import { tempDir } from '../../../support/temp-dir.ts';

export const JOB = 'orders!eu';
export const PARTITIONS = 3;
const M = 4;
export const logger = silentLogger();

/** The manifest header of checkpoint (or savepoint) `id` of {@link JOB}. */
export function checkpointHeader(id: number, kind: 'checkpoint' | 'savepoint' = 'checkpoint'): ManifestHeader {
  return { job: JOB, id, kind, timestamp: id, durationMs: 1, parallelism: 1, maxParallelism: M, operators: [{ uid: 'count', name: 'count', parallelism: 1, stateful: true }], sourcePositions: { source: [{ split: 'orders-0', position: id * 10 }] } };
}

/**
 * Writes checkpoint `id` to `store` as an incremental job would: key group 0 keeps a chain (a full blob larger than a
 * chunk, then deltas), key group 1 a new full blob each time, operator state a new blob each time.
 */
export async function writeCheckpoint(store: CheckpointStore, id: number, parent: CheckpointManifest | undefined): Promise<CheckpointManifest> {
  const blobs: Array<CheckpointBlobs[number]> = [];
  const chain = parent?.blobs.filter((ref) => ref.keyGroup === 0) ?? [];
  if (chain.length === 0 || chain.length >= 3) blobs.push({ operatorUid: 'count', keyGroup: 0, bytes: randomBytes(CHUNK_BYTES * 2 + 1000) });
  else blobs.push(...chain.map((ref) => ({ shared: ref })), { operatorUid: 'count', keyGroup: 0, delta: true as const, bytes: randomBytes(3000) });
  blobs.push({ operatorUid: 'count', keyGroup: 1, bytes: randomBytes(100) }, { operatorUid: 'source', subtask: 0, bytes: randomBytes(40) });
  return store.write(checkpointHeader(id), blobs, { retain: 3 });
}

export interface ReplicationSetup {
  readonly cluster: KafkaCluster;
  readonly topic: string;
  /** A new local store (closed when the test ends). */
  open(): Promise<CheckpointStore>;
}

export async function replicationSetup(t: TestContext): Promise<ReplicationSetup> {
  const cluster = await kafkaCluster(t);
  const topic = await cluster.createTopic({ partitions: PARTITIONS });
  const open = async (): Promise<CheckpointStore> => {
    const store = await CheckpointStore.open(await tempDir(t));
    cluster.defer(() => store.close());
    return store;
  };
  return { cluster, topic, open };
}

/** The publisher of owner epoch `epoch` (member `m<epoch>`), closed when the test ends. */
export async function publisher(cluster: KafkaCluster, topic: string, store: CheckpointStore, epoch: number, view: ReplicatedJobView, options: { retain?: number; override?: number } = {}): Promise<CheckpointPublisher> {
  const p = await CheckpointPublisher.open({ kafka: cluster.kafka(), topic, partitions: PARTITIONS, job: JOB, epoch, member: `m${epoch}`, store, retain: options.retain ?? 3, override: options.override ?? 0, view, logger });
  cluster.defer(() => p.close());
  return p;
}

export const readView = (cluster: KafkaCluster, topic: string): Promise<ReplicatedJobView> => ReplicatedJobView.read({ kafka: cluster.kafka(), topic, partitions: PARTITIONS, job: JOB, logger });

/** Every blob of a checkpoint as its store returns them. */
export async function blobsOf(store: CheckpointStore, id: number): Promise<string[]> {
  const loaded = await store.load(JOB, id);
  return [...loaded.keyedState('count').values(), ...loaded.operatorState('source').values()].map((b) => Buffer.from(b).toString('hex'));
}

/**
 * Every record of the job's partition written again, and the old copies deleted (DeleteRecords), as retention or the
 * log cleaner removes records a member's scan may have seen.
 */
export async function moveRecords(cluster: KafkaCluster, topic: string): Promise<void> {
  const partition = partitionOf(JOB, PARTITIONS);
  const records: Array<{ key: string; value: Buffer | null }> = [];
  await scanPartition(cluster.kafka(), topic, partition, (r) => records.push({ key: r.key, value: r.value === null ? null : Buffer.from(r.value) }));
  const admin = await cluster.admin();
  const high = Number((await admin.fetchTopicOffsets(topic)).find((o) => o.partition === partition)!.high);
  const producer = await cluster.producer();
  for (const record of records) await producer.send({ topic, messages: [{ ...record, partition }] });
  await admin.fetchTopicMetadata({ topics: [topic] }); // kafkajs looks up the leader before it loads the metadata
  await admin.deleteTopicRecords({ topic, partitions: [{ partition, offset: String(high) }] });
}

/**
 * Makes `tools.view` move every record of the job's partition ({@link moveRecords}) right after each scan while
 * `moves` lasts, so that what the scan found is gone when the blobs are read; `scans` counts the scans.
 */
export function movingAfterScans(tools: ClusterCheckpointTools, cluster: KafkaCluster, topic: string): { scans: number; moves: number } {
  const state = { scans: 0, moves: 0 };
  const scan = tools.view.bind(tools);
  tools.view = async (job) => {
    const view = await scan(job);
    state.scans++;
    if (state.moves-- > 0) await moveRecords(cluster, topic);
    return view;
  };
  return state;
}

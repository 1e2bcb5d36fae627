import type { Admin, ITopicMetadata } from 'kafkajs';
import { SluiceError } from '../../errors/index.ts';

/** The compacted topics that hold a cluster's central state. */
export interface ClusterTopics {
  /** Submitted jobs: spec, code bundle, parallelism, params, desired state; key = job name. */
  readonly jobs: string;
  /** Per job: state, attempts, owner, last checkpoint, last error; key = job name. */
  readonly status: string;
  /** Replicated checkpoints (runtime/cluster/checkpoints). */
  readonly checkpoints: string;
}

export interface ClusterTopicOptions {
  /** Partitions of the checkpoints topic (the others have one: they are small and read whole). Default 1. */
  readonly checkpointPartitions?: number;
  /**
   * Replicas of each topic the cluster creates. Default: 3, or as many as the Kafka cluster has brokers when it has
   * fewer (1 on the devstack) — the cluster's jobs and checkpoints live in these topics, so one replica would lose them
   * with a broker.
   */
  readonly replicationFactor?: number;
}

/** What {@link ensureClusterTopics} found: partitions per topic, and what the member should warn about. */
export interface ClusterTopicsFound {
  readonly partitions: Record<keyof ClusterTopics, number>;
  /** Topics with a single replica on a Kafka cluster of several brokers. */
  readonly warnings: string[];
}

/** The replication factor topics get by default: Kafka's own default for its internal topics, capped by the brokers. */
export const DEFAULT_REPLICATION_FACTOR = 3;

/** The topic names of cluster `name`: `sluice.<name>.jobs`, `.status`, `.checkpoints`. */
export function clusterTopics(name: string): ClusterTopics {
  return { jobs: `sluice.${name}.jobs`, status: `sluice.${name}.status`, checkpoints: `sluice.${name}.checkpoints` };
}

/**
 * Creates the cluster's topics that are missing (compacted: the latest record per key is the state) and answers the
 * partition count of each. Several members may start at once: a topic another member created meanwhile is fine.
 *
 * @example
 * ```ts
 * const { partitions, warnings } = await ensureClusterTopics(admin, clusterTopics('prod'));
 * ```
 */
export async function ensureClusterTopics(admin: Admin, topics: ClusterTopics, options: ClusterTopicOptions = {}): Promise<ClusterTopicsFound> {
  const brokers = (await admin.describeCluster()).brokers.length;
  const replicationFactor = options.replicationFactor ?? Math.max(1, Math.min(DEFAULT_REPLICATION_FACTOR, brokers));
  // With three replicas or more, a write acknowledged by "all in-sync replicas" is on at least two of them.
  const durability = replicationFactor >= 3 ? [{ name: 'min.insync.replicas', value: '2' }] : [];
  const wanted: Array<{ key: keyof ClusterTopics; partitions: number; configs: Array<{ name: string; value: string }> }> = [
    { key: 'jobs', partitions: 1, configs: [] },
    { key: 'status', partitions: 1, configs: [] },
    // Chunks are at most 512 KiB plus their key: the default max.message.bytes (1 MiB) is enough. Kafka compacts
    // only closed segments, and a member taking a job over reads the job's partition from its start: small segments
    // and an eager cleaner keep what it reads close to the live checkpoints rather than everything ever written.
    {
      key: 'checkpoints',
      partitions: options.checkpointPartitions ?? 1,
      configs: [
        { name: 'segment.bytes', value: String(64 * 1024 * 1024) },
        { name: 'min.cleanable.dirty.ratio', value: '0.1' },
      ],
    },
  ];
  const existing = new Set(await admin.listTopics());
  const missing = wanted.filter((w) => !existing.has(topics[w.key]));
  if (missing.length > 0) {
    try {
      await admin.createTopics({
        waitForLeaders: true,
        topics: missing.map((w) => ({
          topic: topics[w.key],
          numPartitions: w.partitions,
          replicationFactor,
          configEntries: [{ name: 'cleanup.policy', value: 'compact' }, ...durability, ...w.configs],
        })),
      });
    } catch (err) {
      const raced = (err as { type?: string; errors?: Array<{ type?: string }> }).errors?.every((e) => e.type === 'TOPIC_ALREADY_EXISTS');
      if (raced !== true) {
        throw new SluiceError('SLUICE_CLUSTER_TOPICS_FAILED', `cannot create the cluster's topics (${missing.map((w) => topics[w.key]).join(', ')}): ${(err as Error).message}; create them as compacted topics or give the member a user that may create topics`, { cause: err, retriable: true });
      }
    }
  }
  const metadata = await admin.fetchTopicMetadata({ topics: wanted.map((w) => topics[w.key]) });
  const topic = (name: string): ITopicMetadata | undefined => metadata.topics.find((t: ITopicMetadata) => t.name === name);
  const count = (name: string): number => topic(name)?.partitions.length ?? 0;
  const warnings: string[] = [];
  for (const w of wanted) {
    const name = topics[w.key];
    const replicas = Math.min(...(topic(name)?.partitions ?? []).map((p) => p.replicas.length));
    // One replica where there could be more: that broker's loss would take the topic with it.
    if (replicas === 1 && brokers > 1) {
      warnings.push(
        `the cluster topic ${name} has 1 replica on a Kafka cluster of ${brokers} brokers: losing that broker can lose ` +
          `the cluster's ${w.key}; raise its replication factor (kafka-reassign-partitions), or create the cluster anew with --replication-factor ${Math.min(DEFAULT_REPLICATION_FACTOR, brokers)}`,
      );
    }
  }
  return { partitions: { jobs: count(topics.jobs), status: count(topics.status), checkpoints: count(topics.checkpoints) }, warnings };
}

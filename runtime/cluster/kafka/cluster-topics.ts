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
  /** Default 1 (the devstack); 3 on a production cluster. */
  readonly replicationFactor?: number;
}

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
 * const { partitions } = await ensureClusterTopics(admin, clusterTopics('prod'), { replicationFactor: 3 });
 * ```
 */
export async function ensureClusterTopics(admin: Admin, topics: ClusterTopics, options: ClusterTopicOptions = {}): Promise<{ partitions: Record<keyof ClusterTopics, number> }> {
  const replicationFactor = options.replicationFactor ?? 1;
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
          configEntries: [{ name: 'cleanup.policy', value: 'compact' }, ...w.configs],
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
  const count = (name: string): number => metadata.topics.find((t: ITopicMetadata) => t.name === name)?.partitions.length ?? 0;
  return { partitions: { jobs: count(topics.jobs), status: count(topics.status), checkpoints: count(topics.checkpoints) } };
}

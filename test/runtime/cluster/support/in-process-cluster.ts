/**
 * A cluster of in-process members on one broker for the cluster tests: members join by name, and the counting job
 * (`fixtures/counts-to-kafka.ts`) is submitted under any name with its own output topic.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';
import { startClusterMember, type RunningClusterMember } from '../../../../runtime/cluster/cluster-member.ts';
import { silentLogger } from '../../../../runtime/logging/index.ts';
import { kafkaCluster, type KafkaCluster } from '../../../support/kafka-cluster.ts';
import { tempDir } from '../../../support/temp-dir.ts';
import { waitFor } from '../../../support/wait-for.ts';
import { clusterView, owners, submitJob } from './cluster-checks.ts';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const FIXTURE = fileURLToPath(new URL('../fixtures/counts-to-kafka.ts', import.meta.url));
/** Keys of the input records: `k<i mod KEYS>`. */
export const KEYS = 7;

export interface Setup {
  kafka: KafkaCluster;
  cluster: string;
  input: string;
  dir: string;
  members: RunningClusterMember[];
  join(name: string): Promise<RunningClusterMember>;
  /** Writes a copy of the counting job named `job` (answers its file and params, with its own output topic). */
  jobFile(job: string): Promise<{ file: string; params: Record<string, string>; output: string }>;
  /** Submits a copy of the counting job named `job`, writing to its own output topic. */
  submit(job: string): Promise<string>;
}

/** A broker, an input topic (2 partitions) holding `records` counted records, and no member yet. */
export async function setup(t: TestContext, records: number): Promise<Setup> {
  const kafka = await kafkaCluster(t, { numPartitions: 2 });
  const dir = await tempDir(t, 'sluice-cluster-');
  const input = await kafka.createTopic({ partitions: 2 });
  const cluster = kafka.uniqueName('c');
  const producer = await kafka.producer();
  const messages = Array.from({ length: records }, (_, i) => ({ key: `k${i % KEYS}`, value: JSON.stringify({ key: `k${i % KEYS}`, i }) }));
  for (let n = 0; n < messages.length; n += 500) await producer.send({ topic: input, messages: messages.slice(n, n + 500) });
  const members: RunningClusterMember[] = [];
  const text = await readFile(FIXTURE, 'utf8');
  const s: Setup = {
    kafka,
    cluster,
    input,
    dir,
    members,
    async join(name) {
      const member = await startClusterMember({ cluster, brokers: kafka.brokers, dataDir: join(dir, name), name, port: 0, workers: 0, sessionTimeoutMs: 6_000, logger: silentLogger() });
      kafka.defer(() => member.close());
      members.push(member);
      return member;
    },
    async jobFile(job) {
      const file = join(dir, `${job}.ts`);
      await writeFile(file, text.replaceAll("'cluster-counts-kafka'", `'${job}'`).replaceAll("'../../../../", `'${ROOT}`));
      const output = await kafka.createTopic({ partitions: 2 });
      return { file, params: { brokers: kafka.brokers.join(','), input, output, txnPrefix: kafka.uniqueName('txn') }, output };
    },
    async submit(job) {
      const { file, params, output } = await s.jobFile(job);
      await submitJob(members[0]!.url, { file, params });
      return output;
    },
  };
  return s;
}

/** Every job running with a replicated checkpoint, each on one member; answers the owners. */
export function settled(s: Setup, jobs: number): Promise<Map<string, string>> {
  return waitFor(
    async () => {
      const v = await clusterView(s.members[s.members.length - 1]!.url);
      const running = v.jobs.length === jobs && v.jobs.every((j) => j.state === 'running' && j.lastCheckpoint !== null);
      return running && owners(v).size === jobs ? owners(v) : undefined;
    },
    { timeoutMs: 90_000, intervalMs: 200, message: `${jobs} job(s) running, each on one member` },
  );
}

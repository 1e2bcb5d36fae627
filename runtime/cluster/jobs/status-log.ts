import type { Kafka, Producer } from 'kafkajs';
import type { Logger } from '../../logging/index.ts';
import { scanPartition } from '../kafka/partition-scan.ts';
import { clusterProducer } from '../kafka/cluster-producer.ts';

/** Where a job stands, as its owner last reported it to the status topic (JSON, key = job name). */
export interface ClusterJobStatus {
  readonly job: string;
  /** `failed` and `finished` at the current spec version keep the leader from assigning the job again. */
  readonly state: 'running' | 'failed' | 'finished' | 'stopped';
  /** The spec version this is about: a new submit (a higher version) runs the job again. */
  readonly version: number;
  readonly owner: string;
  readonly epoch: number;
  readonly error?: string;
  readonly lastCheckpoint?: { readonly id: number; readonly kind: string; readonly at: number; readonly bytes: number; readonly durationMs?: number };
  readonly at: number;
}

/**
 * The cluster's status topic: each job's owner writes where the job stands (started, each replicated checkpoint,
 * failed for good, finished); the leader reads it at every rebalance so a job that failed for good — its bundle
 * cannot be imported, its restarts are exhausted — is not started again on member after member, and `sluice cluster
 * status` reads it to show every job's last checkpoint.
 *
 * @example
 * ```ts
 * const status = await StatusLog.open({ kafka, topic: 'sluice.prod.status', logger });
 * await status.write({ job: 'orders', state: 'failed', version: 3, owner: 'm1', epoch: 7, error: 'SyntaxError …', at: Date.now() });
 * ```
 */
export class StatusLog {
  readonly #kafka: Kafka;
  readonly #topic: string;
  readonly #logger: Logger;
  readonly #producer: Producer;

  private constructor(kafka: Kafka, topic: string, logger: Logger, producer: Producer) {
    this.#kafka = kafka;
    this.#topic = topic;
    this.#logger = logger;
    this.#producer = producer;
  }

  static async open(options: { kafka: Kafka; topic: string; logger: Logger }): Promise<StatusLog> {
    const producer = clusterProducer(options.kafka);
    await producer.connect();
    return new StatusLog(options.kafka, options.topic, options.logger, producer);
  }

  /** The latest status of every job (the topic has one partition). */
  async readAll(): Promise<Map<string, ClusterJobStatus>> {
    const out = new Map<string, ClusterJobStatus>();
    await scanPartition(this.#kafka, this.#topic, 0, (record) => {
      if (record.value === null) {
        out.delete(record.key);
        return;
      }
      try {
        const status = JSON.parse(record.value.toString('utf8')) as ClusterJobStatus;
        if (status.job === record.key && Number.isInteger(status.version)) out.set(record.key, status);
      } catch {
        this.#logger.warn({ job: record.key }, 'unreadable job status skipped');
      }
    });
    return out;
  }

  /** Writes a status; failures are logged, not thrown: status is for people, the jobs and checkpoints topics are the truth. */
  async write(status: ClusterJobStatus): Promise<void> {
    try {
      await this.#producer.send({ topic: this.#topic, acks: -1, messages: [{ key: status.job, value: JSON.stringify(status) }] });
    } catch (err) {
      this.#logger.warn({ err, job: status.job, state: status.state }, 'could not write the job status to the cluster');
    }
  }

  async close(): Promise<void> {
    await this.#producer.disconnect();
  }
}

import type { Kafka, Producer } from 'kafkajs';
import { SluiceError } from '../../errors/index.ts';
import type { Logger } from '../../logging/index.ts';
import { scanPartition } from '../kafka/partition-scan.ts';
import { decodeJobSpec, encodeJobSpec, type ClusterJobSpec } from './cluster-job-spec.ts';
import { clusterProducer } from '../kafka/cluster-producer.ts';

/**
 * The cluster's jobs topic: every member reads it whole when the group rebalances (it is small: one record per job,
 * compacted), and whoever is asked to change a job writes the new spec, then asks the group to rebalance so the
 * leader assigns it and its owner acts on it.
 *
 * @example
 * ```ts
 * const jobs = await JobsLog.open({ kafka, topic: 'sluice.prod.jobs', partitions: 1, logger });
 * await jobs.write({ ...spec, version: spec.version + 1, parallelism: 4 });
 * const all = await jobs.readAll();
 * ```
 */
export class JobsLog {
  readonly #kafka: Kafka;
  readonly #topic: string;
  readonly #partitions: number;
  readonly #logger: Logger;
  readonly #producer: Producer;

  private constructor(kafka: Kafka, topic: string, partitions: number, logger: Logger, producer: Producer) {
    this.#kafka = kafka;
    this.#topic = topic;
    this.#partitions = partitions;
    this.#logger = logger;
    this.#producer = producer;
  }

  static async open(options: { kafka: Kafka; topic: string; partitions: number; logger: Logger }): Promise<JobsLog> {
    const producer = clusterProducer(options.kafka);
    await producer.connect();
    return new JobsLog(options.kafka, options.topic, options.partitions, options.logger, producer);
  }

  /** Every job's latest spec, by name. A record that cannot be read is logged and left out. */
  async readAll(): Promise<Map<string, ClusterJobSpec>> {
    const jobs = new Map<string, ClusterJobSpec>();
    for (let partition = 0; partition < this.#partitions; partition++) {
      await scanPartition(this.#kafka, this.#topic, partition, (record) => {
        if (record.value === null) {
          jobs.delete(record.key);
          return;
        }
        try {
          jobs.set(record.key, decodeJobSpec(record.key, record.value));
        } catch (err) {
          jobs.delete(record.key);
          this.#logger.warn({ err, job: record.key }, 'unreadable job record skipped');
        }
      });
    }
    return jobs;
  }

  /** Writes a job's spec; resolves once every in-sync replica has it. */
  async write(spec: ClusterJobSpec): Promise<void> {
    try {
      await this.#producer.send({ topic: this.#topic, acks: -1, messages: [{ key: spec.name, value: encodeJobSpec(spec) }] });
    } catch (err) {
      throw new SluiceError('SLUICE_CLUSTER_UNAVAILABLE', `cannot write job "${spec.name}" to topic "${this.#topic}": ${(err as Error).message}; check that the brokers are up`, { cause: err, retriable: true });
    }
  }

  /** Removes a job from the cluster (a tombstone: compaction drops its spec). */
  async delete(name: string): Promise<void> {
    try {
      await this.#producer.send({ topic: this.#topic, acks: -1, messages: [{ key: name, value: null }] });
    } catch (err) {
      throw new SluiceError('SLUICE_CLUSTER_UNAVAILABLE', `cannot delete job "${name}" from topic "${this.#topic}": ${(err as Error).message}; check that the brokers are up`, { cause: err, retriable: true });
    }
  }

  async close(): Promise<void> {
    await this.#producer.disconnect();
  }
}

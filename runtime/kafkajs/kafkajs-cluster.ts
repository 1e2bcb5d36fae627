import type { Kafka } from 'kafkajs';
import { SluiceError } from '../errors/index.ts';

/**
 * Options of kafkajs 2.2.4's private cluster factory (`private:Kafka:createCluster`); brokers, ssl, sasl, timeouts and
 * retry come from the client itself.
 */
export interface KafkajsClusterOptions {
  readonly metadataMaxAge: number;
  readonly allowAutoTopicCreation: boolean;
  readonly maxInFlightRequests: number | null;
  readonly instrumentationEmitter: null;
  /** kafkajs's ISOLATION_LEVEL (0 read_uncommitted, 1 read_committed); used by its ListOffsets requests. */
  readonly isolationLevel?: number;
}

/**
 * A kafkajs cluster (metadata, leaders and broker connections) made by `kafka`'s own factory, so every setting is the
 * client's. kafkajs has no public API for this; both the exactly-once sink (transaction markers of a restored
 * producer id) and the source (fetches decoded by Sluice) need it. kafkajs 2.2.4 is pinned: a client without the
 * factory fails here, loudly, rather than later.
 */
export function createKafkajsCluster<Cluster>(kafka: Kafka, options: KafkajsClusterOptions, usedBy: string): Cluster {
  const factory = Object.getOwnPropertySymbols(kafka).find((s) => s.description === 'private:Kafka:createCluster');
  const create = factory === undefined ? undefined : (kafka as unknown as Record<symbol, unknown>)[factory];
  if (typeof create !== 'function') {
    throw new SluiceError('SLUICE_INTERNAL', `${usedBy} needs kafkajs 2.2.4's internals, but the kafkajs client has no cluster factory; install kafkajs@2.2.4`, { retriable: false });
  }
  return (create as (o: KafkajsClusterOptions) => Cluster).call(kafka, options);
}

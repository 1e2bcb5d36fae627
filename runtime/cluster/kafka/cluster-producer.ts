import { Partitioners, type Kafka, type Producer } from 'kafkajs';

/**
 * The producer every cluster log writes with: idempotent with one request in flight, so a partition's records land
 * in the order they were sent, without gaps or duplicates on retries; it never creates topics (the cluster creates
 * its own, compacted). Records either name their partition or go to single-partition topics, so the partitioner is
 * never consulted; naming kafkajs's default one keeps kafkajs from logging its v2 migration warning at every start.
 *
 * @example
 * const producer = clusterProducer(kafka);
 * await producer.connect();
 */
export function clusterProducer(kafka: Kafka): Producer {
  return kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner });
}

import assert from 'node:assert/strict'
import type { KafkaCluster } from '../../../support/kafka-cluster.ts'
import { waitFor } from '../../../support/wait-for.ts'

/**
 * What any client of a broker must be able to do once connected: create a topic, produce to it and consume what it
 * produced (admin, producer and a consumer group, so every kind of connection is opened).
 *
 * @example
 * await roundTrip(await kafkaCluster(t, { tls: true }))
 */
export async function roundTrip(cluster: KafkaCluster): Promise<void> {
  const topic = await cluster.createTopic({ partitions: 2 })
  const producer = await cluster.producer()
  await producer.send({ topic, messages: [{ key: 'a', value: '1' }, { key: 'b', value: '2' }] })
  const { records } = await cluster.collect(topic)
  await waitFor(() => records.length === 2, { message: 'both records consumed' })
  assert.deepEqual(records.map((r) => r.value).sort(), ['1', '2'])
}

// AlterConfigs on topics as kafkajs's admin.alterConfigs users see it: not incremental (the entries given become the
// topic's whole set of overrides), validate_only changes nothing, bad entries are refused with INVALID_CONFIG, and the
// partitions follow the new configs.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { Admin, ConfigResourceTypes } from 'kafkajs'
import { kafkaCluster } from '../../support/kafka-cluster.ts'
import { waitFor } from '../../support/wait-for.ts'

// kafkajs's ConfigResourceTypes.TOPIC; its CommonJS enum is not a named export Node can import.
const TOPIC = 2 as ConfigResourceTypes

async function alter(admin: Admin, topic: string, entries: Record<string, string>, validateOnly = false): Promise<void> {
  await admin.alterConfigs({ validateOnly, resources: [{ type: TOPIC, name: topic, configEntries: Object.entries(entries).map(([name, value]) => ({ name, value })) }] })
}

/** The topic's value of each config named, and whether it is the default. */
async function described(admin: Admin, topic: string, names: string[]): Promise<Record<string, [string, boolean]>> {
  const { resources } = await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: TOPIC, name: topic, configNames: names }] })
  return Object.fromEntries(resources[0]!.configEntries.map((e) => [e.configName, [e.configValue, e.isDefault]]))
}

test('AlterConfigs replaces a topic\'s overrides as a whole; validate_only changes nothing', async (t) => {
  const cluster = await kafkaCluster(t)
  const topic = await cluster.createTopic({ configs: { 'retention.ms': '86400000' } })
  const admin = await cluster.admin()
  const names = ['retention.ms', 'segment.ms']
  await alter(admin, topic, { 'segment.ms': '3600000' }, true)
  assert.deepEqual(await described(admin, topic, names), { 'retention.ms': ['86400000', false], 'segment.ms': ['604800000', true] })

  await alter(admin, topic, { 'segment.ms': '3600000' })
  // Real brokers apply config changes asynchronously (through ZooKeeper): the description follows within moments.
  await waitFor(async () => (await described(admin, topic, names))['segment.ms']?.[0] === '3600000', { message: 'the new override described' })
  assert.deepEqual(await described(admin, topic, names), { 'retention.ms': ['604800000', true], 'segment.ms': ['3600000', false] })
})

test('AlterConfigs refuses an unknown config or a bad value with INVALID_CONFIG and keeps the old set', async (t) => {
  const cluster = await kafkaCluster(t)
  const topic = await cluster.createTopic({ configs: { 'retention.ms': '86400000' } })
  const admin = await cluster.admin()
  for (const entries of [{ 'no.such.config': '1' }, { 'cleanup.policy': 'shred' }]) {
    await assert.rejects(alter(admin, topic, entries), (err: { type?: string; cause?: { type?: string } }) => {
      assert.equal(err.type ?? err.cause?.type, 'INVALID_CONFIG', JSON.stringify(entries))
      return true
    })
  }
  assert.deepEqual(await described(admin, topic, ['retention.ms']), { 'retention.ms': ['86400000', false] })
})

test('a topic altered to cleanup.policy=compact refuses keyless records from then on', async (t) => {
  const cluster = await kafkaCluster(t)
  const topic = await cluster.createTopic()
  const producer = await cluster.producer({ retry: { retries: 0 } })
  await producer.send({ topic, messages: [{ value: 'keyless before' }] })
  await alter(await cluster.admin(), topic, { 'cleanup.policy': 'compact' })
  await waitFor(
    () => producer.send({ topic, messages: [{ value: 'keyless after' }] }).then(
      () => false,
      (err: { type?: string; cause?: { type?: string } }) => ['CORRUPT_MESSAGE', 'INVALID_RECORD'].includes(err.type ?? err.cause?.type ?? ''),
    ),
    { intervalMs: 200, message: 'keyless records refused once the topic is compacted' },
  )
  await producer.send({ topic, messages: [{ key: 'k', value: 'keyed' }] })
})

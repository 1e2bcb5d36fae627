// SASL on the devstack broker (a SASL_PLAINTEXT listener with PLAIN and SCRAM), as kafkajs users configure it for
// secured clusters: the right user gets in with each mechanism, a wrong password, a client without SASL and a
// mechanism the listener does not offer are turned away with the errors a real broker gives. Devstack only: a real
// cluster's listeners are what they are.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Kafka, logLevel, type SASLOptions } from 'kafkajs'
import { devstackOnly, kafkaCluster } from '../../support/kafka-cluster.ts'
import { roundTrip } from './support/round-trip.ts'

const needs = devstackOnly('starts a broker whose listener requires SASL/PLAIN')
const USER = { username: 'alice', password: 'alice-secret' }

for (const mechanism of ['plain', 'scram-sha-256', 'scram-sha-512'] as const) {
  test(`a client with the right ${mechanism} credentials creates, produces and consumes as usual`, { skip: needs }, async (t) => {
    await roundTrip(await kafkaCluster(t, { sasl: { ...USER, mechanism } }))
  })

  test(`a wrong ${mechanism} password is refused with SASL_AUTHENTICATION_FAILED and Kafka's message`, { skip: needs }, async (t) => {
    const cluster = await kafkaCluster(t, { sasl: USER })
    const admin = cluster.kafka({ sasl: { mechanism, username: 'alice', password: 'wrong' } as SASLOptions, retry: { retries: 0 } }).admin()
    t.after(() => admin.disconnect())
    await assert.rejects(admin.connect(), (err: Error) => {
      assert.equal(err.name, 'KafkaJSSASLAuthenticationError')
      assert.match(err.message, mechanism === 'plain' ? /Authentication failed: Invalid username or password/ : /Authentication failed: Invalid user credentials/)
      return true
    })
  })
}

test('a client that does not authenticate is disconnected, and a mechanism the listener does not offer is refused', { skip: needs }, async (t) => {
  const cluster = await kafkaCluster(t, { sasl: USER })
  // Made directly: the cluster's own clients all authenticate.
  const plain = new Kafka({ brokers: cluster.brokers, logLevel: logLevel.NOTHING, retry: { retries: 0 } }).admin()
  t.after(() => plain.disconnect())
  await plain.connect() // ApiVersions only: allowed before authentication
  await assert.rejects(plain.listTopics(), { name: 'KafkaJSConnectionClosedError' })

  const scram = cluster.kafka({ sasl: { mechanism: 'aws', authorizationIdentity: 'a', accessKeyId: 'k', secretAccessKey: 's' }, retry: { retries: 0 } }).admin()
  t.after(() => scram.disconnect())
  await assert.rejects(scram.connect(), (err: { type?: string; cause?: { type?: string } }) => {
    assert.equal(err.type ?? err.cause?.type, 'UNSUPPORTED_SASL_MECHANISM')
    return true
  })
})

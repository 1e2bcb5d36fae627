// TLS on the devstack broker (Kafka's SSL listener, and SASL_SSL with SASL), as kafkajs users configure `ssl`: a
// client that trusts the certificate works, one that speaks plain TCP or does not trust it is turned away. Devstack
// only: a real cluster's listeners are what they are.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Kafka, logLevel } from 'kafkajs'
import { devstackOnly, kafkaCluster } from '../../support/kafka-cluster.ts'
import { roundTrip } from './support/round-trip.ts'

const needs = devstackOnly('starts a broker whose listener requires TLS')

for (const sasl of [undefined, { username: 'alice', password: 'alice-secret', mechanism: 'scram-sha-512' as const }]) {
  test(`a client that trusts the broker's certificate creates, produces and consumes over TLS${sasl === undefined ? '' : ' with SCRAM (SASL_SSL)'}`, { skip: needs }, async (t) => {
    await roundTrip(await kafkaCluster(t, { tls: true, ...(sasl === undefined ? {} : { sasl }) }))
  })
}

test('a client speaking plain TCP, or not trusting the certificate, cannot connect to a TLS listener', { skip: needs }, async (t) => {
  const cluster = await kafkaCluster(t, { tls: true })
  for (const ssl of [undefined, true]) {
    // Made directly: the cluster's own clients all trust the test certificate.
    const admin = new Kafka({ brokers: cluster.brokers, logLevel: logLevel.NOTHING, retry: { retries: 0 }, connectionTimeout: 2_000, requestTimeout: 2_000, ...(ssl === undefined ? {} : { ssl }) }).admin()
    t.after(() => admin.disconnect())
    await assert.rejects(
      admin.connect().then(() => admin.listTopics()),
      ssl === undefined ? /Closed connection|Connection error|timed out|ECONNRESET/i : /self[- ]signed certificate/i,
      ssl === undefined ? 'plain TCP' : 'system CAs only',
    )
  }
})

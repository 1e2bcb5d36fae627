import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Kafka, type Batch } from 'kafkajs';
import { FetchTap } from '../../../connectors/kafka/source/fetch-tap.ts';

test('a client without kafkajs 2.2.4 internals: a clear SLUICE_INTERNAL error that names the way out', () => {
  assert.throws(
    () => FetchTap.install({} as Kafka),
    (err: Error & { code?: string }) => err.code === 'SLUICE_INTERNAL' && /kafkajs@2\.2\.4/.test(err.message) && /readUncommitted: true/.test(err.message),
  );
});

test('a batch that did not pass through the tap is refused rather than filtered without its aborted list', () => {
  const tap = FetchTap.install(new Kafka({ brokers: ['127.0.0.1:1'] }));
  const batch = { topic: 'orders', partition: 3, rawMessages: [] } as unknown as Batch;
  assert.throws(
    () => tap.abortedTransactionsOf(batch),
    (err: Error & { code?: string }) => err.code === 'SLUICE_INTERNAL' && /orders\/3/.test(err.message),
  );
});

test('consumers of the tapped client fetch through the tap; admins and producers are left alone', async () => {
  const kafka = new Kafka({ brokers: ['127.0.0.1:1'] });
  const factory = Object.getOwnPropertySymbols(kafka).find((s) => s.description === 'private:Kafka:createCluster') as symbol;
  const original = (kafka as unknown as Record<symbol, unknown>)[factory];
  FetchTap.install(kafka);
  const wrapped = (kafka as unknown as Record<symbol, (o: object) => { findBroker: unknown }>)[factory] as (o: object) => { findBroker: unknown };
  assert.notEqual(wrapped, original);
  const plain = (original as (o: object) => { findBroker: unknown })({});
  assert.equal(wrapped({}).findBroker, plain.findBroker, 'no isolation level (admin, producer): kafkajs cluster as is');
  assert.notEqual(wrapped({ isolationLevel: 1 }).findBroker, plain.findBroker, 'read_committed consumer: fetches tapped');
  assert.equal(wrapped({ isolationLevel: 0 }).findBroker, plain.findBroker, 'read_uncommitted: nothing to take away');
});

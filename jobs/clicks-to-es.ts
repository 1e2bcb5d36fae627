/**
 * Clicks per user, from Kafka to Elasticsearch: reads JSON clicks `{ user, url, ts }` from the `clicks` topic, counts
 * them per user with the last url, and keeps one document per user in the `user-clicks` index (id = user).
 * Checkpoints every second: after a crash or restart the counts in the index are exactly those of a failure-free run.
 *
 *   sluice run jobs/clicks-to-es.ts                      # KAFKA_BROKERS / ES_NODE, or 127.0.0.1:9092 / :9200
 *   sluice run jobs/clicks-to-es.ts --set topic=clicks --set index=user-clicks --set brokers=host:9092 --set node=http://host:9200
 *
 * `npm start` runs it against the devstack with a sample click stream (jobs/quickstart.ts).
 */
import { elasticsearchSink } from '../connectors/elasticsearch/index.ts';
import { kafkaSource } from '../connectors/kafka/index.ts';
import { defineJob } from '../runtime/api/index.ts';

export interface Click {
  user: string;
  url: string;
  /** Click time, ms since the epoch. */
  ts: number;
}

export interface UserClicks {
  user: string;
  clicks: number;
  lastUrl: string;
  /** Time of the latest click counted. */
  lastTs: number;
}

export const USER_CLICKS_MAPPINGS = {
  properties: { user: { type: 'keyword' }, clicks: { type: 'long' }, lastUrl: { type: 'keyword' }, lastTs: { type: 'date' } },
};

export default defineJob({ name: 'clicks-to-es', parallelism: 2, checkpoints: { intervalMs: 1_000 } }, (env, params) => {
  const brokers = params.string('brokers', process.env['KAFKA_BROKERS'] || '127.0.0.1:9092').split(',');
  const node = params.string('node', process.env['ES_NODE'] || 'http://127.0.0.1:9200');
  env
    .source(kafkaSource<Click>({ brokers, topics: [params.string('topic', 'clicks')], format: 'json', startFrom: 'earliest' }))
    .uid('clicks')
    .map((record): UserClicks => ({ user: record.value.user, clicks: 1, lastUrl: record.value.url, lastTs: record.value.ts }))
    .keyBy((c) => c.user)
    // The latest click by time wins the url: clicks of one user may come from several partitions.
    .reduce((a, b) => ({ user: a.user, clicks: a.clicks + b.clicks, ...(b.lastTs >= a.lastTs ? { lastUrl: b.lastUrl, lastTs: b.lastTs } : { lastUrl: a.lastUrl, lastTs: a.lastTs }) }))
    .uid('clicks-per-user')
    .sink(
      elasticsearchSink<UserClicks>({
        node,
        index: params.string('index', 'user-clicks'),
        id: (c) => c.user,
        createIndex: { mappings: USER_CLICKS_MAPPINGS },
        bulk: { flushIntervalMs: params.number('flushMs', 500) },
      }),
    );
});

/**
 * Page views per page per minute, by event time, from Kafka to Elasticsearch. Reads JSON views `{ page, user, ts }`
 * from the `pageviews` topic (one watermark per partition, 5 s of out-of-orderness, a partition silent for 10 s stops
 * holding time back), counts them in 1-minute tumbling windows per page, and keeps one document per page and minute
 * in the `pageviews-per-minute` index (id = `<page>@<minute>`). Views up to 1 minute late update their minute's
 * document; later ones go to the `pageviews-late` topic. Checkpoints every second: exactly once, across crashes.
 *
 *   sluice run jobs/pageviews-per-minute.ts        # KAFKA_BROKERS / ES_NODE, or 127.0.0.1:9092 / :9200
 *   sluice run jobs/pageviews-per-minute.ts --set topic=pageviews --set index=pageviews-per-minute --set lateTopic=pageviews-late
 */
import { elasticsearchSink } from '../connectors/elasticsearch/index.ts';
import { kafkaSink, kafkaSource, type KafkaRecord } from '../connectors/kafka/index.ts';
import { boundedOutOfOrderness, defineJob, tumblingWindows } from '../runtime/api/index.ts';

export interface PageView {
  page: string;
  user: string;
  /** View time, ms since the epoch. */
  ts: number;
}

export interface PageMinute {
  page: string;
  /** Start of the minute, ms since the epoch. */
  minute: number;
  views: number;
}

export const PAGE_MINUTE_MAPPINGS = {
  properties: { page: { type: 'keyword' }, minute: { type: 'date' }, views: { type: 'long' } },
};

export const MINUTE_MS = 60_000;

export default defineJob({ name: 'pageviews-per-minute', parallelism: 2, checkpoints: { intervalMs: 1_000 } }, (env, params) => {
  const brokers = params.string('brokers', process.env['KAFKA_BROKERS'] || '127.0.0.1:9092').split(',');
  const node = params.string('node', process.env['ES_NODE'] || 'http://127.0.0.1:9200');
  env
    .source(kafkaSource<PageView>({ brokers, topics: [params.string('topic', 'pageviews')], format: 'json', startFrom: 'earliest' }), {
      watermarks: boundedOutOfOrderness({
        maxOutOfOrdernessMs: params.number('outOfOrdernessMs', 5_000),
        timestamp: (record: KafkaRecord<PageView>) => record.value.ts,
        idleAfterMs: params.number('idleAfterMs', 10_000),
      }),
    })
    .uid('pageviews')
    .map((record) => record.value)
    .keyBy((view) => view.page)
    .window(tumblingWindows({ sizeMs: MINUTE_MS }), {
      allowedLatenessMs: params.number('allowedLatenessMs', 60_000),
      lateRecords: kafkaSink<PageView>({ brokers, topic: params.string('lateTopic', 'pageviews-late'), key: (view) => view.page, guarantee: 'exactly-once' }),
    })
    .aggregate({
      createAccumulator: () => 0,
      add: (views: number) => views + 1,
      result: (views, window, page): PageMinute => ({ page: String(page), minute: window.start, views }),
    })
    .uid('views-per-minute')
    .sink(
      elasticsearchSink<PageMinute>({
        node,
        index: params.string('index', 'pageviews-per-minute'),
        id: (m) => `${m.page}@${m.minute}`,
        createIndex: { mappings: PAGE_MINUTE_MAPPINGS },
        bulk: { flushIntervalMs: params.number('flushMs', 500) },
      }),
    );
});

/** The Elasticsearch connector: an effectively-once bulk sink. See docs/connectors/elasticsearch.md. */
export { elasticsearchSink } from './sink.ts';
export type { ElasticsearchSink } from './sink.ts';
export type {
  BulkOptions,
  CreateIndexOptions,
  DeadLetterOptions,
  ElasticsearchAction,
  ElasticsearchAuth,
  ElasticsearchSinkOptions,
  RetryOptions,
} from './options.ts';
export { BULK_DEFAULTS, RETRY_DEFAULTS, REQUEST_TIMEOUT_DEFAULT_MS } from './options.ts';
export type { DeadLetter } from './dead-letter.ts';
export { DEAD_LETTER_MAPPINGS } from './dead-letter.ts';
export type { ElasticsearchSinkMetrics } from './sink-metrics.ts';
export { ES_SINK_ERRORS } from './errors.ts';

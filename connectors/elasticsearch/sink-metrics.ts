/**
 * Counters of an Elasticsearch sink, summed over its writers (subtasks) and attempts in this thread (writers on worker
 * threads count in their worker). Read them with `sink.metrics()`; they only grow, except the two gauges
 * `bufferedBytes` and `inFlightBytes`.
 */
export interface ElasticsearchSinkMetrics {
  /** Records handed to the sink. */
  readonly records: number;
  /** Records folded into an earlier action on the same document within one bulk (last write wins, upserts merge). */
  readonly coalesced: number;
  /** Actions Elasticsearch acknowledged (including creates of documents that already existed). */
  readonly actionsAcknowledged: number;
  /** `create` actions answered 409: the document was already there (a replay), counted as written. */
  readonly alreadyExisted: number;
  /** Bulk requests sent, retries included. */
  readonly bulkRequests: number;
  /** Bytes of bulk bodies sent, retries included. */
  readonly bytesSent: number;
  /** Items sent again after a per-item 429/5xx/409. */
  readonly retriedItems: number;
  /** Whole bulk requests sent again after a 429, 5xx, timeout or connection error. */
  readonly retriedRequests: number;
  /** Documents that can never be indexed, written to the dead-letter destination. */
  readonly deadLetters: number;
  /** Bytes waiting in buffers now. */
  readonly bufferedBytes: number;
  /** Bytes of bulk requests in flight now (retries included). */
  readonly inFlightBytes: number;
}

/** The mutable side of {@link ElasticsearchSinkMetrics}, shared by every writer of one sink. */
export class SinkCounters implements ElasticsearchSinkMetrics {
  records = 0;
  coalesced = 0;
  actionsAcknowledged = 0;
  alreadyExisted = 0;
  bulkRequests = 0;
  bytesSent = 0;
  retriedItems = 0;
  retriedRequests = 0;
  deadLetters = 0;
  bufferedBytes = 0;
  inFlightBytes = 0;

  snapshot(): ElasticsearchSinkMetrics {
    return { ...this };
  }
}

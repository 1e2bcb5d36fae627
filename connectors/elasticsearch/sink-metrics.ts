import { FixedHistogram, type ConnectorMetric, type HistogramValues } from '../../runtime/api/index.ts';

/**
 * Counters of an Elasticsearch sink, summed over its writers (subtasks) and attempts in this thread (writers on worker
 * threads count in their worker; Prometheus gets every writer's, see docs/observability.md). Read them with
 * `sink.metrics()`; they only grow, except the two gauges `bufferedBytes` and `inFlightBytes`.
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
  /** 429 Too Many Requests answers: whole bulk requests and single items (Elasticsearch's write queue was full). */
  readonly tooManyRequests: number;
  /** Documents that can never be indexed, written to the dead-letter destination. */
  readonly deadLetters: number;
  /** Bytes waiting in buffers now. */
  readonly bufferedBytes: number;
  /** Bytes of bulk requests in flight now (retries included). */
  readonly inFlightBytes: number;
  /** Time each bulk request took, from send to answer (or error), in seconds. */
  readonly bulkDurations: HistogramValues;
}

/** Buckets of the bulk latency histogram, in seconds: a local bulk takes milliseconds, a loaded cluster seconds. */
export const BULK_SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

type CounterName = Exclude<keyof ElasticsearchSinkMetrics, 'bufferedBytes' | 'inFlightBytes' | 'bulkDurations'>;
const COUNTERS: readonly CounterName[] = ['records', 'coalesced', 'actionsAcknowledged', 'alreadyExisted', 'bulkRequests', 'bytesSent', 'retriedItems', 'retriedRequests', 'tooManyRequests', 'deadLetters'];

/** The mutable side of {@link ElasticsearchSinkMetrics}: one per writer, counted as it works. */
export class SinkCounters implements Omit<ElasticsearchSinkMetrics, 'bulkDurations'> {
  records = 0;
  coalesced = 0;
  actionsAcknowledged = 0;
  alreadyExisted = 0;
  bulkRequests = 0;
  bytesSent = 0;
  retriedItems = 0;
  retriedRequests = 0;
  tooManyRequests = 0;
  deadLetters = 0;
  bufferedBytes = 0;
  inFlightBytes = 0;
  readonly bulkSeconds = new FixedHistogram(BULK_SECONDS);

  snapshot(): ElasticsearchSinkMetrics {
    const out: Record<string, unknown> = { bufferedBytes: this.bufferedBytes, inFlightBytes: this.inFlightBytes, bulkDurations: this.bulkSeconds.values() };
    for (const name of COUNTERS) out[name] = this[name];
    return out as unknown as ElasticsearchSinkMetrics;
  }

  /** The writer's counters as Prometheus metrics (names and meanings in docs/observability.md). */
  prometheus(): ConnectorMetric[] {
    const counter = (name: string, help: string, value: number): ConnectorMetric => ({ name, help, type: 'counter', value });
    const gauge = (name: string, help: string, value: number): ConnectorMetric => ({ name, help, type: 'gauge', value });
    return [
      counter('sluice_elasticsearch_records_total', 'Records handed to the Elasticsearch sink.', this.records),
      counter('sluice_elasticsearch_actions_acknowledged_total', 'Bulk actions Elasticsearch acknowledged.', this.actionsAcknowledged),
      counter('sluice_elasticsearch_bulk_requests_total', 'Bulk requests sent, retries included.', this.bulkRequests),
      counter('sluice_elasticsearch_bulk_sent_bytes_total', 'Bytes of bulk bodies sent, retries included.', this.bytesSent),
      { name: 'sluice_elasticsearch_bulk_duration_seconds', help: 'Time a bulk request took, from send to answer or error.', type: 'histogram', ...this.bulkSeconds.values() },
      counter('sluice_elasticsearch_retried_requests_total', 'Whole bulk requests sent again after a 429, 5xx, timeout or connection error.', this.retriedRequests),
      counter('sluice_elasticsearch_retried_items_total', 'Bulk items sent again after a per-item 429, 5xx or 409.', this.retriedItems),
      counter('sluice_elasticsearch_too_many_requests_total', '429 answers (whole bulk requests and single items): Elasticsearch\'s write queue was full.', this.tooManyRequests),
      counter('sluice_elasticsearch_dead_letters_total', 'Documents Elasticsearch refused for good, sent to the dead-letter destination.', this.deadLetters),
      gauge('sluice_elasticsearch_buffered_bytes', 'Bytes of actions buffered, waiting for their bulk request.', this.bufferedBytes),
      gauge('sluice_elasticsearch_in_flight_bytes', 'Bytes of bulk requests in flight.', this.inFlightBytes),
    ];
  }
}

/**
 * A sink's counters over all of its writers in this thread: the live writers' and those of the writers closed before
 * (earlier attempts), so `sink.metrics()` only grows across restarts.
 */
export class SinkTotals {
  readonly #live = new Set<SinkCounters>();
  readonly #retired = new SinkCounters();

  /** Counters for a new writer, counted in the totals from now on. */
  open(): SinkCounters {
    const counters = new SinkCounters();
    this.#live.add(counters);
    return counters;
  }

  /** A writer closed: its counters stay in the totals, its gauges leave them. */
  retire(counters: SinkCounters): void {
    if (!this.#live.delete(counters)) return;
    for (const name of COUNTERS) this.#retired[name] += counters[name];
    this.#retired.bulkSeconds.add(counters.bulkSeconds.values());
  }

  snapshot(): ElasticsearchSinkMetrics {
    const total = new SinkCounters();
    for (const counters of [this.#retired, ...this.#live]) {
      for (const name of COUNTERS) total[name] += counters[name];
      total.bufferedBytes += counters.bufferedBytes;
      total.inFlightBytes += counters.inFlightBytes;
      total.bulkSeconds.add(counters.bulkSeconds.values());
    }
    return total.snapshot();
  }
}

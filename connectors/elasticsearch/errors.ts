/**
 * Error codes the Elasticsearch sink throws. Every one is a {@link SluiceError}; the messages name the node, index
 * and document and say what to check.
 */
export const ES_SINK_ERRORS = {
  /** An option is missing or has a value outside what is allowed (thrown by `elasticsearchSink`). */
  invalidOption: 'SLUICE_INVALID_OPTION',
  /** A record could not be turned into a bulk action (id function threw or returned nothing, no Kafka origin…). */
  badRecord: 'SLUICE_ES_BAD_RECORD',
  /** Retriable failures (429, 5xx, connection errors) outlasted `retry.maxRetries`: the job fails over. */
  retriesExhausted: 'SLUICE_ES_RETRIES_EXHAUSTED',
  /** Elasticsearch refused a whole request for good (401, 403, 400, …): retrying would not help. */
  requestRejected: 'SLUICE_ES_REQUEST_REJECTED',
  /** A document can never be indexed (mapping conflict, parse error) and no dead-letter destination is configured. */
  documentRejected: 'SLUICE_ES_DOCUMENT_REJECTED',
  /** Writing to the dead-letter destination failed. */
  deadLetterFailed: 'SLUICE_ES_DEAD_LETTER_FAILED',
  /** Creating the target or dead-letter index at start failed. */
  createIndexFailed: 'SLUICE_ES_CREATE_INDEX_FAILED',
  /** Cluster mode: a newer owner of the job wrote the document; this (stale) member's writes are refused. */
  fenced: 'SLUICE_ES_FENCED',
} as const;

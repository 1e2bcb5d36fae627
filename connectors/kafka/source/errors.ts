import { SluiceError } from '../../../runtime/errors/index.ts';

/** Codes the Kafka source throws. */
export const KafkaSourceErrorCode = {
  invalidOption: 'SLUICE_INVALID_OPTION',
  /** The brokers could not be reached within the client's retry budget. */
  unreachable: 'SLUICE_KAFKA_UNREACHABLE',
  /** A listed topic does not exist. */
  topicNotFound: 'SLUICE_KAFKA_TOPIC_NOT_FOUND',
  /** A record's value could not be decoded and `onDeserializationError` is `'fail'`. */
  deserialization: 'SLUICE_KAFKA_DESERIALIZATION',
  /** The dead-letter sink failed to take a record. */
  deadLetter: 'SLUICE_KAFKA_DEAD_LETTER_FAILED',
  /** Any other client or broker error, after the client's own retries. */
  client: 'SLUICE_KAFKA_ERROR',
} as const;

/** Names of kafkajs errors that mean "could not talk to a broker" (read from kafkajs/src/errors.js). */
const CONNECTION_ERRORS = new Set([
  'KafkaJSConnectionError',
  'KafkaJSConnectionClosedError',
  'KafkaJSRequestTimeoutError',
  'KafkaJSBrokerNotFound',
  'KafkaJSNoBrokerAvailableError',
  'KafkaJSLockTimeout',
]);

/** True when `err` or any error in its `cause`/`originalError` chain is a connection failure. */
export function isConnectionFailure(err: unknown): boolean {
  const seen = new Set<unknown>();
  let current: unknown = err;
  while (current !== null && typeof current === 'object' && !seen.has(current)) {
    seen.add(current);
    const e = current as { name?: unknown; code?: unknown; cause?: unknown; originalError?: unknown };
    if (typeof e.name === 'string' && CONNECTION_ERRORS.has(e.name)) return true;
    if (typeof e.code === 'string' && /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENOTFOUND|EAI_AGAIN|EPIPE)$/.test(e.code)) return true;
    current = e.cause ?? e.originalError;
  }
  return false;
}

/**
 * Wraps a kafkajs error (after kafkajs's own retries ran out) into the SluiceError the reader surfaces: connection
 * failures name the brokers and what to check; anything else keeps kafkajs's message.
 */
export function wrapKafkaError(err: unknown, doing: string, brokers: readonly string[]): SluiceError {
  if (err instanceof SluiceError) return err;
  const message = err instanceof Error ? err.message : String(err);
  if (isConnectionFailure(err)) {
    return new SluiceError(
      KafkaSourceErrorCode.unreachable,
      `Kafka brokers ${brokers.join(', ')} unreachable while ${doing}, after the client's retries (${message}); ` +
        'check that the brokers are running and reachable from this host, and the `brokers`, `ssl` and `sasl` options. ' +
        'The job restarts by its restart strategy and resumes from its last checkpoint.',
      { cause: err, retriable: true },
    );
  }
  return new SluiceError(KafkaSourceErrorCode.client, `Kafka error while ${doing} (brokers ${brokers.join(', ')}): ${message}`, {
    cause: err,
    retriable: true,
  });
}

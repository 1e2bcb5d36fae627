/**
 * What the Kafka example jobs share: where the brokers are, and a JSON input topic whose malformed records go to a
 * dead-letter topic exactly once.
 */
import { kafkaSink, kafkaSource, type DeadLetter, type KafkaRecord, type ValueDeserializer } from '../../connectors/kafka/index.ts';
import type { JobParams, Source } from '../../runtime/api/index.ts';

/** The brokers of `--set brokers=h:p,h:p`, else of KAFKA_BROKERS, else the devstack's 127.0.0.1:9092. */
export function brokersParam(params: JobParams): string[] {
  return params
    .string('brokers', process.env['KAFKA_BROKERS'] || '127.0.0.1:9092')
    .split(',')
    .map((b) => b.trim())
    .filter((b) => b.length > 0);
}

/** A dead letter as JSON; the original value as UTF-8 text (the inputs are JSON, so text is what a person wants). */
export function deadLetterJson(d: DeadLetter): string {
  return JSON.stringify({
    topic: d.topic,
    partition: d.partition,
    offset: d.offset,
    timestamp: d.timestamp,
    key: d.key?.toString('utf8') ?? null,
    value: d.value?.toString('utf8') ?? null,
    reason: d.reason,
  });
}

/** Where an input's records and its dead letters go. */
export interface JsonInput<T> {
  readonly brokers: string[];
  readonly topic: string;
  readonly groupId: string;
  /** Decodes a value; what it throws on goes to `deadLetters`, with the reason. */
  readonly format: ValueDeserializer<T>;
  /** On a fresh start: from the earliest offset, or the group's default (latest). */
  readonly startFrom?: 'earliest';
  readonly deadLetters: string;
  /** Transactional ids of the dead-letter sink; each input needs its own. */
  readonly deadLetterTransactionalIdPrefix: string;
}

/**
 * An input topic whose malformed records go to the dead-letter topic, exactly once: the dead letters of a
 * checkpoint's input are committed with that checkpoint, so a replay after a failure does not repeat them.
 */
export function jsonInput<T>(input: JsonInput<T>): Source<KafkaRecord<T>> {
  return kafkaSource<T>({
    brokers: input.brokers,
    topics: [input.topic],
    groupId: input.groupId,
    ...(input.startFrom === undefined ? {} : { startFrom: input.startFrom }),
    format: input.format,
    onDeserializationError: {
      deadLetter: kafkaSink<DeadLetter>({
        brokers: input.brokers,
        topic: input.deadLetters,
        key: (d) => d.key,
        serializer: deadLetterJson,
        guarantee: 'exactly-once',
        transactionalIdPrefix: input.deadLetterTransactionalIdPrefix,
      }),
    },
  });
}

import type { Admin } from 'kafkajs';
import { SluiceError } from '../../../runtime/errors/index.ts';
import { KafkaSourceErrorCode } from './errors.ts';

/** Partition count per topic the source reads. */
export type PartitionCounts = ReadonlyMap<string, number>;

/** Which topics a source reads: a fixed list or every topic matching a pattern. */
export interface TopicSelection {
  readonly topics: readonly string[] | undefined;
  readonly topicPattern: RegExp | undefined;
}

/**
 * Reads the partition count of every selected topic straight from the brokers (one Metadata request for the topic
 * list, one for the selected topics). kafkajs's consumer refreshes its metadata only every `metadataMaxAge` (5 min)
 * and then only notices additions, so discovery asks on its own schedule. A listed topic that is missing fails
 * with `SLUICE_KAFKA_TOPIC_NOT_FOUND` when `missingIsError` (at start: most likely a typo); later, a topic that
 * disappeared is simply absent from the result (the reader drops its splits).
 */
export async function fetchPartitionCounts(admin: Admin, selection: TopicSelection, missingIsError: boolean): Promise<Map<string, number>> {
  const existing = await metadataCall('the topic list', () => admin.listTopics());
  let names: string[];
  if (selection.topicPattern !== undefined) {
    const pattern = selection.topicPattern;
    names = existing.filter((name) => pattern.test(name));
  } else {
    const present = new Set(existing);
    const listed = selection.topics ?? [];
    const missing = listed.filter((t) => !present.has(t));
    if (missing.length > 0 && missingIsError) {
      throw new SluiceError(
        KafkaSourceErrorCode.topicNotFound,
        `Kafka topic${missing.length > 1 ? 's' : ''} ${missing.map((t) => `"${t}"`).join(', ')} not found; create ${missing.length > 1 ? 'them' : 'it'} or fix the source's \`topics\` option`,
        // The source never asks for auto-creation: a missing topic stays missing, most likely a typo.
        { retriable: false },
      );
    }
    names = listed.filter((t) => present.has(t));
  }
  const counts = new Map<string, number>();
  if (names.length === 0) return counts;
  const { topics } = await metadataCall(`topics ${names.join(', ')}`, () => admin.fetchTopicMetadata({ topics: names }));
  for (const topic of topics) counts.set(topic.name, topic.partitions.length);
  return counts;
}

/**
 * kafkajs's admin tries each broker in turn for a Metadata request, swallows each one's error and, when all failed,
 * dereferences the `null` it got: a TypeError ("Cannot read properties of null (reading 'topicMetadata')"). The
 * brokers fail such a request while a topic it lists is being created or deleted, or when the connection drops — a
 * passing state, so it becomes a retriable SluiceError that says so.
 */
async function metadataCall<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (!(err instanceof TypeError && /\bnull\b/.test(err.message))) throw err;
    throw new SluiceError(
      KafkaSourceErrorCode.client,
      `no Kafka broker answered the Metadata request for ${what} (each failed it, as brokers do while a topic is being created or deleted, or the connection dropped; kafkajs: ${err.message})`,
      { cause: err, retriable: true },
    );
  }
}

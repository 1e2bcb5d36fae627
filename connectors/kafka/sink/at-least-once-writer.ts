import { Partitioners, type Producer } from 'kafkajs';
import type { SinkWriter, SinkWriterContext } from '../../../runtime/api/index.ts';
import { InFlight } from '../in-flight.ts';
import { createKafkaClient, unreachable } from './kafka-client.ts';
import type { ResolvedKafkaSinkOptions } from './options.ts';
import { SendPipeline } from './send-pipeline.ts';

/**
 * At-least-once: records are produced as they come, in batches; barrier `n` is acknowledged only once every record
 * before it is acknowledged by Kafka (`preCommit` flushes). After a failure the job replays from checkpoint `n`, so
 * records written after barrier `n` may be written again: duplicates, never losses.
 */
export class AtLeastOnceWriter<T> implements SinkWriter<T> {
  readonly #options: ResolvedKafkaSinkOptions<T>;
  readonly #context: SinkWriterContext;
  #producer: Producer | undefined;
  #pipeline: SendPipeline<T> | undefined;
  /** start (connect) while it runs: close disconnects after it and after the sends in flight (see InFlight). */
  readonly #inFlight = new InFlight();

  constructor(options: ResolvedKafkaSinkOptions<T>, context: SinkWriterContext) {
    this.#options = options;
    this.#context = context;
  }

  start(): Promise<void> {
    return this.#inFlight.track(this.#start());
  }

  async #start(): Promise<void> {
    const kafka = createKafkaClient(this.#options as ResolvedKafkaSinkOptions<unknown>, this.#context);
    // The default partitioner named, so kafkajs does not warn that its default changed in v2 (docs: key → partition).
    const producer = kafka.producer({ allowAutoTopicCreation: true, createPartitioner: Partitioners.DefaultPartitioner });
    this.#producer = producer;
    try {
      await producer.connect();
    } catch (err) {
      throw unreachable(this.#options as ResolvedKafkaSinkOptions<unknown>, this.#context, err);
    }
    this.#pipeline = new SendPipeline(this.#options, (topicMessages) => producer.sendBatch({ topicMessages, acks: -1 }));
  }

  write = (records: readonly T[]): Promise<void> | undefined => (this.#pipeline as SendPipeline<T>).add(records);

  async preCommit(): Promise<undefined> {
    await this.#pipeline?.flush();
    return undefined;
  }

  async commit(): Promise<void> {}

  async finish(): Promise<void> {
    await this.#pipeline?.flush();
  }

  async close(): Promise<void> {
    const pipeline = this.#pipeline;
    pipeline?.discard();
    this.#pipeline = undefined;
    const producer = this.#producer;
    this.#producer = undefined;
    if (producer === undefined) return;
    await this.#inFlight.closeAfterSettled(
      () => producer.disconnect().catch((err: unknown) => this.#context.logger.debug({ err }, 'kafkaSink: disconnect failed')),
      CLOSE_DEADLINE_MS,
      [pipeline?.settled()],
    );
  }
}

/** How long close waits for sends in flight before it disconnects anyway (it disconnects again when they end). */
const CLOSE_DEADLINE_MS = 5_000;

import type { Kafka, Message } from 'kafkajs';
import { benchEventValue } from './bench-events.ts';

/**
 * Produces `records` bench events (`benchEventValue(0 … records - 1)`) to `topic` before a benchmark is timed: sends
 * of 1,000 messages (kafkajs's sweet spot: its cost grows with the square of messages per send), four in flight, the default partitioner spreading them.
 *
 * @example
 * ```ts
 * await fillBenchTopic(kafka, topic, 400_000);
 * ```
 */
export async function fillBenchTopic(kafka: Kafka, topic: string, records: number): Promise<void> {
  const producer = kafka.producer();
  await producer.connect();
  try {
    let next = 0;
    const lane = async (): Promise<void> => {
      while (next < records) {
        const start = next;
        next = Math.min(records, next + SEND_SIZE);
        const messages: Message[] = [];
        for (let i = start; i < next; i++) messages.push({ value: benchEventValue(i) });
        await producer.send({ topic, messages });
      }
    };
    await Promise.all([lane(), lane(), lane(), lane()]);
  } finally {
    await producer.disconnect();
  }
}

const SEND_SIZE = 1_000;

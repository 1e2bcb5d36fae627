/**
 * A click stream that keeps coming, for pages that must show moving rates and lag: `perTick` records every
 * `everyMs`, keyed by user, into a Kafka topic, until stopped.
 */
import type { Producer } from 'kafkajs';

export interface ClickStream {
  /** Records sent so far. */
  readonly sent: () => number;
  /** Stops sending and waits for the send in flight. */
  stop(): Promise<void>;
}

export function startClickStream(producer: Producer, topic: string, options: { readonly users?: number; readonly perTick?: number; readonly everyMs?: number } = {}): ClickStream {
  const users = options.users ?? 50;
  const perTick = options.perTick ?? 100;
  const everyMs = options.everyMs ?? 50;
  let sent = 0;
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const messages = Array.from({ length: perTick }, (_, i) => {
        const user = `user-${(sent + i) % users}`;
        return { key: user, value: JSON.stringify({ user }) };
      });
      await producer.send({ topic, messages });
      sent += perTick;
      await new Promise((resolve) => setTimeout(resolve, everyMs));
    }
  })();
  return {
    sent: () => sent,
    stop: async () => {
      stopped = true;
      await loop;
    },
  };
}

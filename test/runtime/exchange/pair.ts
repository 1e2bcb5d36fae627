/**
 * Two exchange endpoints joined by a real `MessageChannel` in this thread, closed by the test's `t.after`.
 */
import type { TestContext } from 'node:test';
import { MessageChannel } from 'node:worker_threads';
import { ExchangeEndpoint, MessagePortTransport, type RemoteChannelSender } from '../../../runtime/exchange/index.ts';
import { waitFor } from '../../support/wait-for.ts';

export function endpointPair(t: TestContext): { left: ExchangeEndpoint; right: ExchangeEndpoint } {
  const { port1, port2 } = new MessageChannel();
  const left = new ExchangeEndpoint(new MessagePortTransport(port1));
  const right = new ExchangeEndpoint(new MessagePortTransport(port2));
  t.after(() => {
    left.close();
    right.close();
  });
  return { left, right };
}

/** Resolves once the receivers' OPENs reached these senders: from then on a batch that fits is sent at once. */
export async function whenOpen(...senders: RemoteChannelSender<unknown>[]): Promise<void> {
  await waitFor(() => senders.every((s) => s.capacity !== undefined), { message: 'the receivers to grant their capacity' });
}

import { SluiceError } from '../../runtime/errors/index.ts';
import { resolveApi } from './protocol/apis.ts';

/**
 * Fault injection for tests: what a flaky network or a struggling broker looks like to a client.
 *
 * @example
 * ```ts
 * const broker = await startKafkaBroker();
 * broker.faults.failNext('Produce', 6, 2);      // the next two Produce requests: NOT_LEADER_FOR_PARTITION
 * broker.faults.delayResponses('Fetch', 500);   // every Fetch answer 500 ms late (0 turns it off)
 * broker.faults.dropConnections();              // every open socket closed now
 * broker.faults.refuseConnections(1000);        // new connections refused (ECONNREFUSED) for a second
 * await broker.faults.restart();                // stop and start again on the same port, state kept
 * ```
 */
export interface KafkaBrokerFaults {
  /** Closes every open client connection now; the broker keeps listening. */
  dropConnections(): void;
  /** Stops accepting connections for `ms` (clients see ECONNREFUSED); open connections are left alone. */
  refuseConnections(ms: number): void;
  /** Holds every response of an API (key or name, e.g. `1` or `'Fetch'`) for `ms`; 0 removes the delay. */
  delayResponses(api: number | string, ms: number): void;
  /** Answers the next `count` (default 1) requests of an API with `errorCode` in every error field. */
  failNext(api: number | string, errorCode: number, count?: number): void;
  /** Drops all connections, stops listening, waits `downMs` (default 0) and listens again on the same port. */
  restart(options?: { downMs?: number }): Promise<void>;
  /** Removes every delay and pending failure. */
  clear(): void;
}

/** The per-API fault settings the server consults for each request. */
export class FaultState {
  readonly #delays = new Map<number, number>();
  readonly #failures = new Map<number, { errorCode: number; remaining: number }>();

  setDelay(api: number | string, ms: number): void {
    const key = apiKeyOf(api);
    if (ms > 0) this.#delays.set(key, ms);
    else this.#delays.delete(key);
  }

  addFailures(api: number | string, errorCode: number, count: number): void {
    this.#failures.set(apiKeyOf(api), { errorCode, remaining: count });
  }

  delayFor(apiKey: number): number {
    return this.#delays.get(apiKey) ?? 0;
  }

  /** The error code to answer this request with, consuming one injected failure; undefined when none. */
  takeFailure(apiKey: number): number | undefined {
    const f = this.#failures.get(apiKey);
    if (f === undefined) return undefined;
    if (--f.remaining <= 0) this.#failures.delete(apiKey);
    return f.errorCode;
  }

  clear(): void {
    this.#delays.clear();
    this.#failures.clear();
  }
}

function apiKeyOf(api: number | string): number {
  const codec = resolveApi(api);
  if (codec === undefined) {
    throw new SluiceError(
      'SLUICE_DEVSTACK_KAFKA_UNKNOWN_API',
      `fault injection names API ${JSON.stringify(api)}, which the devstack broker does not implement; use a Kafka API key or name such as 'Produce', 'Fetch', 'JoinGroup'`,
    );
  }
  return codec.key;
}

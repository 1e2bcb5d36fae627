import { SluiceError } from '../../runtime/errors/index.ts';

/**
 * Fault injection for the devstack Elasticsearch server: what a test turns on to see how a client behaves when a
 * real cluster is overloaded, restarting or slow. Every random choice comes from a seeded generator, so a test that
 * passes once passes every time.
 *
 * @example
 * ```ts
 * const es = await startElasticsearch();
 * es.faults.rejectBulkItems({ fraction: 0.3, seed: 7, times: 2 }); // 30% of items get 429, in the next 2 bulks
 * es.faults.unavailable({ requests: 2 });                          // the next 2 requests get 503
 * await es.faults.refuseConnections(500);                           // no connection for 500 ms
 * ```
 */
export interface ElasticsearchFaults {
  /**
   * Rejects a fraction of the items of the next `times` bulk requests (default: every bulk until {@link clear})
   * with a per-item 429 `es_rejected_execution_exception`; rejected items are not applied.
   */
  rejectBulkItems(options: { fraction: number; seed?: number; times?: number }): void;
  /** Answers the next `requests` requests (or all for `forMs`) with a whole-request 429. `only: 'bulk'` by default. */
  rejectRequests(options: { requests?: number; forMs?: number; only?: 'bulk' | 'all' }): void;
  /** Answers the next `requests` requests (or all for `forMs`) with 503 (the transport retries 502/503/504). */
  unavailable(options: { requests?: number; forMs?: number }): void;
  /** Delays every request (or only bulk requests) by `ms` before handling it; `ms: 0` turns it off. */
  latency(options: { ms: number; only?: 'bulk' | 'all' }): void;
  /**
   * Stops accepting connections for `ms` and drops open ones: `mode: 'refuse'` (default) closes the listening
   * socket so connects fail with ECONNREFUSED, then listens again on the same port; `mode: 'reset'` keeps
   * listening and destroys every new socket. Resolves when the outage has started.
   */
  refuseConnections(ms: number, options?: { mode?: 'refuse' | 'reset' }): Promise<void>;
  /** Turns every fault off. */
  clear(): void;
  /** How many faults were injected so far, by kind. */
  readonly injected: Readonly<{ bulkItems429: number; requests429: number; requests503: number; refusedConnections: number }>;
}

interface Window {
  remaining: number;
  until: number;
}

/** The server-side half: what the server asks on each request. Internal to the devstack. */
export class FaultPlan implements ElasticsearchFaults {
  readonly #now: () => number;
  readonly #outage: (ms: number, mode: 'refuse' | 'reset') => Promise<void>;
  #itemRejection: { fraction: number; random: () => number; bulksLeft: number } | undefined;
  #requests429: (Window & { only: 'bulk' | 'all' }) | undefined;
  #requests503: Window | undefined;
  #latency: { ms: number; only: 'bulk' | 'all' } | undefined;
  readonly #counts = { bulkItems429: 0, requests429: 0, requests503: 0, refusedConnections: 0 };

  constructor(now: () => number, outage: (ms: number, mode: 'refuse' | 'reset') => Promise<void>) {
    this.#now = now;
    this.#outage = outage;
  }

  get injected(): ElasticsearchFaults['injected'] {
    return { ...this.#counts };
  }

  rejectBulkItems(options: { fraction: number; seed?: number; times?: number }): void {
    if (!(options.fraction >= 0 && options.fraction <= 1)) {
      throw new SluiceError('SLUICE_DEVSTACK_BAD_OPTION', `faults.rejectBulkItems: fraction must be between 0 and 1, got ${options.fraction}`);
    }
    this.#itemRejection = {
      fraction: options.fraction,
      random: mulberry32(options.seed ?? 1),
      bulksLeft: options.times ?? Number.POSITIVE_INFINITY,
    };
  }

  rejectRequests(options: { requests?: number; forMs?: number; only?: 'bulk' | 'all' }): void {
    this.#requests429 = { ...this.#window(options, 'rejectRequests'), only: options.only ?? 'bulk' };
  }

  unavailable(options: { requests?: number; forMs?: number }): void {
    this.#requests503 = this.#window(options, 'unavailable');
  }

  latency(options: { ms: number; only?: 'bulk' | 'all' }): void {
    this.#latency = options.ms > 0 ? { ms: options.ms, only: options.only ?? 'all' } : undefined;
  }

  async refuseConnections(ms: number, options: { mode?: 'refuse' | 'reset' } = {}): Promise<void> {
    await this.#outage(ms, options.mode ?? 'refuse');
  }

  clear(): void {
    this.#itemRejection = undefined;
    this.#requests429 = undefined;
    this.#requests503 = undefined;
    this.#latency = undefined;
  }

  #window(options: { requests?: number; forMs?: number }, name: string): Window {
    if (options.requests === undefined && options.forMs === undefined) {
      throw new SluiceError('SLUICE_DEVSTACK_BAD_OPTION', `faults.${name}: give requests (a count) or forMs (a duration)`);
    }
    return {
      remaining: options.requests ?? Number.POSITIVE_INFINITY,
      until: options.forMs === undefined ? Number.POSITIVE_INFINITY : this.#now() + options.forMs,
    };
  }

  /** Milliseconds to delay this request. */
  delayFor(isBulk: boolean): number {
    const latency = this.#latency;
    if (latency === undefined || (latency.only === 'bulk' && !isBulk)) return 0;
    return latency.ms;
  }

  /** The status to answer instead of handling the request (503 or 429), if any. */
  requestFault(isBulk: boolean): 503 | 429 | undefined {
    if (this.#take(this.#requests503)) {
      this.#counts.requests503 += 1;
      return 503;
    }
    const r429 = this.#requests429;
    if (r429 !== undefined && (r429.only === 'all' || isBulk) && this.#take(r429)) {
      this.#counts.requests429 += 1;
      return 429;
    }
    return undefined;
  }

  #take(window: Window | undefined): boolean {
    if (window === undefined || window.remaining <= 0 || this.#now() >= window.until) return false;
    window.remaining -= 1;
    return true;
  }

  /** For one bulk request: a function that says whether each item is rejected, or undefined for none. */
  bulkItemRejector(): (() => boolean) | undefined {
    const plan = this.#itemRejection;
    if (plan === undefined || plan.bulksLeft <= 0) return undefined;
    plan.bulksLeft -= 1;
    return () => {
      const rejected = plan.random() < plan.fraction;
      if (rejected) this.#counts.bulkItems429 += 1;
      return rejected;
    };
  }

  countRefusedConnection(): void {
    this.#counts.refusedConnections += 1;
  }
}

/** mulberry32: a tiny seeded PRNG; statistical quality is irrelevant here, reproducibility is the point. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

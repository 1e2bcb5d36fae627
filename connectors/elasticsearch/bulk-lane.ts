import { itemBytes, type BulkItem } from './bulk-item.ts';
import type { BulkOptions } from './options.ts';
import type { SinkCounters } from './sink-metrics.ts';

/**
 * One of a writer's `maxInFlight` lanes: a buffer of pending actions and at most one bulk request in flight.
 * Documents are assigned to lanes by id, and a lane sends its next request only once the previous one is fully done
 * (retries included). So two requests in flight never carry the same document, and a retried action can never land
 * after a newer action on the same document: the per-document order of the stream is what Elasticsearch ends up with.
 *
 * Within the buffer, actions on the same document are combined ({@link combine}), which keeps that order inside a
 * request too (a bulk retry resends only failed items).
 */
export class BulkLane<T> {
  readonly #limits: BulkOptions;
  readonly #counters: SinkCounters;
  readonly #send: (items: BulkItem<T>[]) => Promise<void>;
  /** Pending actions by `index\0id`, in arrival order of each document's first action. */
  #buffer = new Map<string, BulkItem<T>>();
  #bytes = 0;
  #inFlight: Promise<void> | undefined;

  /** `send` must not reject: the writer records failures itself. */
  constructor(limits: BulkOptions, counters: SinkCounters, send: (items: BulkItem<T>[]) => Promise<void>) {
    this.#limits = limits;
    this.#counters = counters;
    this.#send = send;
  }

  get busy(): boolean {
    return this.#inFlight !== undefined;
  }

  get empty(): boolean {
    return this.#buffer.size === 0;
  }

  /** The buffer holds a full request. */
  get full(): boolean {
    return this.#buffer.size >= this.#limits.maxActions || this.#bytes >= this.#limits.maxBytes;
  }

  add(item: BulkItem<T>): void {
    const key = `${item.index}\u0000${item.id}`;
    const earlier = this.#buffer.get(key);
    const next = earlier === undefined ? item : combine(earlier, item);
    if (earlier !== undefined) {
      this.#counters.coalesced += 1;
      this.#bytes -= earlier.bytes;
      this.#counters.bufferedBytes -= earlier.bytes;
    }
    this.#buffer.set(key, next);
    this.#bytes += next.bytes;
    this.#counters.bufferedBytes += next.bytes;
  }

  /** Sends the buffer as one request, if there is one and nothing is in flight. */
  dispatch(): void {
    if (this.#inFlight !== undefined || this.#buffer.size === 0) return;
    const items = [...this.#buffer.values()];
    const bytes = this.#bytes;
    this.#buffer = new Map();
    this.#bytes = 0;
    this.#counters.bufferedBytes -= bytes;
    this.#counters.inFlightBytes += bytes;
    this.#inFlight = this.#send(items).finally(() => {
      this.#counters.inFlightBytes -= bytes;
      this.#inFlight = undefined;
    });
  }

  /** Resolves when nothing is in flight (never rejects). */
  async idle(): Promise<void> {
    while (this.#inFlight !== undefined) await this.#inFlight;
  }

  /** Drops what is buffered (the attempt failed; the checkpoint replay will bring it back). */
  discard(): void {
    this.#counters.bufferedBytes -= this.#bytes;
    this.#buffer = new Map();
    this.#bytes = 0;
  }
}

/**
 * Two actions on one document as one, with the same end result as applying them in order. The sink has one action
 * type, so: `index` and `delete` — the later wins; `create` — the earlier wins (the second would be refused as
 * existing); `upsert` — the partial documents are merged as Elasticsearch merges `doc` into the stored source
 * (objects recursively, everything else replaced).
 */
export function combine<T>(earlier: BulkItem<T>, later: BulkItem<T>): BulkItem<T> {
  switch (later.action) {
    case 'index':
    case 'delete':
      return later;
    case 'create':
      return earlier;
    case 'upsert': {
      // Merged on the JSON (not the records' objects) so Dates, toJSON() and class instances merge as sent.
      const document = mergePartial(JSON.parse(earlier.source as string) as Record<string, unknown>, JSON.parse(later.source as string) as Record<string, unknown>);
      const source = JSON.stringify(document);
      return { ...later, source, bytes: itemBytes('upsert', later.index, later.id, source) };
    }
  }
}

function mergePartial(base: Record<string, unknown>, patch: Record<string, unknown>): Record<string, unknown> {
  const merged: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(patch)) {
    const current = merged[key];
    merged[key] = isPlainObject(current) && isPlainObject(value) ? mergePartial(current, value) : value;
  }
  return merged;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

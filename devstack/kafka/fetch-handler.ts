import type { PartitionLog } from './log/partition-log.ts';
import type { TopicStore } from './log/topic-store.ts';
import { ErrorCode } from './protocol/error-codes.ts';
import type { FetchPartitionResponse, FetchRequest, FetchResponse } from './protocol/fetch-v4-10.ts';

const READ_COMMITTED = 1;

/** What a fetch needs from the connection: to stop waiting when the client goes away. */
export interface FetchContext {
  /** Registers a callback for connection close; returns an unregister function. */
  onClose(fn: () => void): () => void;
}

/**
 * Fetch as Kafka's `DelayedFetch`: answer at once when `min_bytes` are available, any partition has an error, or
 * `max_wait_ms` is 0; otherwise park the request, woken by appends (or markers that move the last stable offset) to
 * any requested partition, and answer after `max_wait_ms` at the latest. Wake-ups are event-driven, so a waiting
 * consumer sees a produce within the same event-loop turn.
 */
export class FetchHandler {
  readonly #topics: TopicStore;

  constructor(topics: TopicStore) {
    this.#topics = topics;
  }

  handle(req: FetchRequest, ctx: FetchContext): FetchResponse | Promise<FetchResponse> {
    const first = this.#probe(req);
    if (first.error || first.bytes >= req.minBytes || req.maxWaitMs <= 0) return this.#read(req);
    return new Promise<FetchResponse>((resolve) => {
      const cancels: (() => void)[] = [];
      let done = false;
      const finish = (): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        for (const c of cancels) c();
        resolve(this.#read(req));
      };
      const timer = setTimeout(finish, req.maxWaitMs);
      const logs = first.logs;
      const watch = (log: PartitionLog): void => {
        cancels.push(
          log.onAppend(() => {
            if (done) return;
            const now = this.#probe(req);
            if (now.error || now.bytes >= req.minBytes) finish();
            else watch(log);
          }),
        );
      };
      for (const log of logs) watch(log);
      cancels.push(
        ctx.onClose(() => {
          // The response would go nowhere; just release the waiters.
          done = true;
          clearTimeout(timer);
          for (const c of cancels) c();
        }),
      );
    });
  }

  /** Counts readable bytes (up to min_bytes) without building a response. */
  #probe(req: FetchRequest): { error: boolean; bytes: number; logs: PartitionLog[] } {
    const committed = req.isolationLevel === READ_COMMITTED;
    let bytes = 0;
    const logs: PartitionLog[] = [];
    for (const t of req.topics) {
      for (const p of t.partitions) {
        const log = this.#topics.partition(t.name, p.partition);
        if (log === undefined) return { error: true, bytes, logs };
        if (p.fetchOffset > log.highWatermark || p.fetchOffset < log.logStartOffset) return { error: true, bytes, logs };
        logs.push(log);
        if (bytes < req.minBytes) {
          const limit = committed ? log.lastStableOffset : log.highWatermark;
          bytes += log.availableBytes(p.fetchOffset, limit, Math.min(p.partitionMaxBytes, req.minBytes - bytes));
        }
      }
    }
    return { error: false, bytes, logs };
  }

  #read(req: FetchRequest): FetchResponse {
    const committed = req.isolationLevel === READ_COMMITTED;
    let remaining = req.maxBytes;
    let minOne = true;
    return {
      errorCode: ErrorCode.NONE,
      topics: req.topics.map((t) => ({
        name: t.name,
        partitions: t.partitions.map((p): FetchPartitionResponse => {
          const log = this.#topics.partition(t.name, p.partition);
          if (log === undefined) return errorPartition(p.partition, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
          const hw = log.highWatermark;
          const lso = log.lastStableOffset;
          if (p.fetchOffset > hw || p.fetchOffset < log.logStartOffset) {
            return {
              ...errorPartition(p.partition, ErrorCode.OFFSET_OUT_OF_RANGE),
              highWatermark: hw,
              lastStableOffset: lso,
              logStartOffset: log.logStartOffset,
            };
          }
          const limit = committed ? lso : hw;
          const budget = Math.max(0, Math.min(p.partitionMaxBytes, remaining));
          const { batches, bytes } = log.read(p.fetchOffset, limit, budget, minOne);
          if (bytes > 0) minOne = false;
          remaining -= bytes;
          let aborted = null;
          if (committed) {
            const last = batches.length === 0 ? p.fetchOffset : readEnd(batches);
            aborted = log.abortedTransactions(p.fetchOffset, last);
          }
          return {
            partition: p.partition,
            errorCode: ErrorCode.NONE,
            highWatermark: hw,
            lastStableOffset: lso,
            logStartOffset: log.logStartOffset,
            abortedTransactions: aborted,
            batches,
          };
        }),
      })),
    };
  }
}

/** The offset after the last record of the last batch returned. */
function readEnd(batches: Buffer[]): number {
  const last = batches[batches.length - 1] as Buffer;
  const base = last.readInt32BE(0) * 4294967296 + last.readUInt32BE(4);
  return base + last.readInt32BE(23) + 1;
}

function errorPartition(partition: number, errorCode: number): FetchPartitionResponse {
  return {
    partition,
    errorCode,
    highWatermark: -1,
    lastStableOffset: -1,
    logStartOffset: -1,
    abortedTransactions: null,
    batches: [],
  };
}

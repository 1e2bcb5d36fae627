import { errors, type Client } from '@elastic/elasticsearch';
import { SluiceError } from '../../runtime/errors/index.ts';
import type { Logger } from '../../runtime/logging/index.ts';
import type { Clock } from '../../runtime/time/index.ts';
import { classifyItem, encodeItem, type BulkItem } from './bulk-item.ts';
import { ES_SINK_ERRORS } from './errors.ts';
import type { RetryOptions } from './options.ts';
import type { SinkCounters } from './sink-metrics.ts';

/** What a bulk request needs besides its items. */
export interface BulkRequestContext {
  readonly client: Client;
  /** For messages: the node URL(s) without credentials. */
  readonly node: string;
  readonly retry: RetryOptions;
  readonly requestTimeoutMs: number;
  readonly clock: Clock;
  /** Aborts in-flight requests and backoff waits when the writer closes. */
  readonly signal: AbortSignal;
  readonly logger: Logger;
  readonly counters: SinkCounters;
  readonly random: () => number;
}

/** An item Elasticsearch will never accept as sent, with its reason. */
export interface RejectedItem<T> {
  readonly item: BulkItem<T>;
  readonly status: number;
  readonly type: string;
  readonly reason: string;
}

/**
 * Sends `items` as one bulk request and keeps going until each item is written or rejected for good:
 * whole-request 429/5xx, timeouts and connection errors resend the request; per-item 429/5xx/409 resend only those
 * items, in their original order. Waits are exponential with full jitter (`random() * min(max, initial * 2^n)`,
 * AWS's "full jitter": many subtasks retrying at once spread out instead of hammering together).
 *
 * Resolves with the rejected items (mapping conflicts, parse errors…) for the caller to dead-letter. Rejects with a
 * retriable SluiceError when retries run out, and with a non-retriable one when Elasticsearch refuses the request
 * itself for good (401, 403, 413…): in both cases the caller must not acknowledge anything of this request.
 */
export async function executeBulk<T>(items: readonly BulkItem<T>[], context: BulkRequestContext): Promise<RejectedItem<T>[]> {
  const { counters, retry } = context;
  const rejected: RejectedItem<T>[] = [];
  let pending = items;
  let retries = 0;
  for (;;) {
    let body = '';
    for (const item of pending) body += encodeItem(item);
    const bytes = Buffer.byteLength(body);
    let problem: string;
    counters.bulkRequests += 1;
    counters.bytesSent += bytes;
    const sentAt = performance.now();
    try {
      const response = (await context.client.transport.request(
        { method: 'POST', path: '/_bulk', bulkBody: body },
        { signal: context.signal, requestTimeout: context.requestTimeoutMs, maxRetries: 0 },
      )) as BulkResponse;
      counters.bulkSeconds.observe((performance.now() - sentAt) / 1000);
      const again = readResponse(pending, response, rejected, counters);
      if (again.length === 0) return rejected;
      const first = again[0] as { item: BulkItem<T>; reason: string; type: string; status: number };
      problem = `${again.length} of ${pending.length} items failed, e.g. index "${first.item.index}" id "${first.item.id}": ${first.status} ${first.type}: ${first.reason}`;
      counters.retriedItems += again.length;
      pending = again.map((a) => a.item);
    } catch (err) {
      if (context.signal.aborted) throw context.signal.reason;
      if (!(err instanceof SluiceError)) counters.bulkSeconds.observe((performance.now() - sentAt) / 1000);
      if (err instanceof errors.ResponseError && err.statusCode === 429) counters.tooManyRequests += 1;
      problem = retriableRequestProblem(err, context.node, 'a bulk request', bytes);
      counters.retriedRequests += 1;
    }
    if (retries >= retry.maxRetries) {
      throw new SluiceError(
        ES_SINK_ERRORS.retriesExhausted,
        `Elasticsearch at ${context.node} did not accept a bulk request after ${retry.maxRetries} retries (${problem}). ` +
          'The job fails over and replays from its last checkpoint; nothing unwritten was acknowledged. Check the ' +
          "cluster's health and write thread pool (GET _cluster/health, GET _cat/thread_pool/write), or raise " +
          'retry.maxRetries / retry.maxBackoffMs, or lower bulk.maxInFlight.',
        { retriable: true },
      );
    }
    const delay = backoffMs(retries, retry, context.random);
    retries += 1;
    context.logger.warn({ retry: retries, of: retry.maxRetries, delayMs: delay, problem }, 'elasticsearch bulk retry');
    await context.clock.sleep(delay, context.signal);
  }
}

/** Wait before retry number `retry + 1`: full jitter under an exponential ceiling. */
export function backoffMs(retry: number, options: RetryOptions, random: () => number): number {
  return Math.floor(random() * Math.min(options.maxBackoffMs, options.initialBackoffMs * 2 ** retry));
}

interface BulkResponse {
  readonly errors?: boolean;
  readonly items?: readonly unknown[];
}

/** Sorts a bulk response's items; returns the ones to send again. */
function readResponse<T>(
  sent: readonly BulkItem<T>[],
  response: BulkResponse,
  rejected: RejectedItem<T>[],
  counters: SinkCounters,
): Array<RejectedItem<T>> {
  const results = response.items;
  if (!Array.isArray(results) || results.length !== sent.length) {
    throw new SluiceError(
      ES_SINK_ERRORS.requestRejected,
      `a bulk response had ${Array.isArray(results) ? results.length : 'no'} items for ${sent.length} actions; is this an Elasticsearch node?`,
      { retriable: false },
    );
  }
  if (response.errors === false) {
    counters.actionsAcknowledged += sent.length;
    return [];
  }
  const again: RejectedItem<T>[] = [];
  for (let i = 0; i < sent.length; i++) {
    const item = sent[i] as BulkItem<T>;
    const outcome = classifyItem(item.action, results[i], item.version !== undefined);
    switch (outcome.kind) {
      case 'done':
        counters.actionsAcknowledged += 1;
        break;
      case 'exists':
        counters.actionsAcknowledged += 1;
        counters.alreadyExisted += 1;
        break;
      case 'fenced':
        throw new SluiceError(
          ES_SINK_ERRORS.fenced,
          `document "${item.id}" of index "${item.index}" was written by a newer owner of this job (${outcome.reason}): this cluster member lost the job and stops writing; its new owner's output stands`,
          { retriable: true },
        );
      case 'retry':
        if (outcome.status === 429) counters.tooManyRequests += 1;
        again.push({ item, status: outcome.status, type: outcome.type, reason: outcome.reason });
        break;
      case 'reject':
        rejected.push({ item, status: outcome.status, type: outcome.type, reason: outcome.reason });
        break;
    }
  }
  return again;
}

/**
 * For an error of the whole request: a description when trying again can help (429, 5xx, timeouts, connection
 * errors), otherwise throws the SluiceError that explains what to fix.
 */
export function retriableRequestProblem(err: unknown, node: string, what: string, bytes = 0): string {
  if (err instanceof SluiceError) throw err;
  if (err instanceof errors.ResponseError) {
    const status = err.statusCode ?? 0;
    const type = (err.body as { error?: { type?: string; reason?: string } } | undefined)?.error;
    const answer = `${status} ${type?.type ?? ''}${type?.reason === undefined ? '' : `: ${type.reason}`}`.trim();
    if (status === 429 || status >= 500) return answer;
    const hint =
      status === 401 || status === 403
        ? 'check the sink\'s "auth" option and the user\'s privileges (index, create_index on the target index)'
        : status === 413
          ? `the request was too large (${bytes} bytes): lower bulk.maxBytes below the cluster's http.max_content_length`
          : 'check the node URL and the index name';
    throw new SluiceError(ES_SINK_ERRORS.requestRejected, `Elasticsearch at ${node} refused ${what} with ${answer}; ${hint}`, { cause: err, retriable: false });
  }
  if (err instanceof errors.ConnectionError || err instanceof errors.TimeoutError || err instanceof errors.NoLivingConnectionsError) {
    return `${err.name}: ${err.message}`;
  }
  if (err instanceof errors.ProductNotSupportedError) {
    throw new SluiceError(ES_SINK_ERRORS.requestRejected, `${node} does not answer as Elasticsearch (${err.message}); check the sink's "node" option`, { cause: err, retriable: false });
  }
  throw new SluiceError(ES_SINK_ERRORS.requestRejected, `${what} to Elasticsearch at ${node} failed: ${(err as Error)?.message ?? String(err)}`, { cause: err });
}

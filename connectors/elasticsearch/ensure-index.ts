import { errors } from '@elastic/elasticsearch';
import { SluiceError } from '../../runtime/errors/index.ts';
import { backoffMs, retriableRequestProblem, type BulkRequestContext } from './bulk-request.ts';
import { ES_SINK_ERRORS } from './errors.ts';
import type { CreateIndexOptions } from './options.ts';

/**
 * Creates `index` with `body` unless it exists. Every sink subtask calls this at start, so several may race to
 * create it: `resource_already_exists_exception` means another one won, which is as good. Checks existence first
 * so a user allowed to write but not to create indices can use an index made beforehand. Unavailable nodes are
 * retried like bulk requests (Elasticsearch may still be starting).
 */
export async function ensureIndex(index: string, body: CreateIndexOptions, context: BulkRequestContext): Promise<void> {
  const what = `creating index "${index}"`;
  for (let retries = 0; ; retries++) {
    let problem: string;
    try {
      if (await context.client.indices.exists({ index }, { signal: context.signal, maxRetries: 0 })) return;
      await context.client.indices.create(
        { index, ...(body.settings === undefined ? {} : { settings: body.settings }), ...(body.mappings === undefined ? {} : { mappings: body.mappings }) },
        { signal: context.signal, maxRetries: 0, requestTimeout: context.requestTimeoutMs },
      );
      context.logger.info({ index }, 'created elasticsearch index');
      return;
    } catch (err) {
      if (context.signal.aborted) throw context.signal.reason;
      if (err instanceof errors.ResponseError && (err.body as { error?: { type?: string } } | undefined)?.error?.type === 'resource_already_exists_exception') return;
      try {
        problem = retriableRequestProblem(err, context.node, what);
        context.counters.retriedRequests += 1;
      } catch (permanent) {
        throw new SluiceError(ES_SINK_ERRORS.createIndexFailed, `${(permanent as Error).message} (check the createIndex settings and mappings)`, {
          cause: err,
          retriable: permanent instanceof SluiceError ? permanent.retriable !== false : true,
        });
      }
    }
    if (retries >= context.retry.maxRetries) {
      throw new SluiceError(
        ES_SINK_ERRORS.createIndexFailed,
        `Elasticsearch at ${context.node} was not reachable for ${what} after ${context.retry.maxRetries} retries (${problem}); check that the node is up`,
        { retriable: true },
      );
    }
    await context.clock.sleep(backoffMs(retries, context.retry, context.random), context.signal);
  }
}

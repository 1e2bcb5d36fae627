import { collectDefaultMetrics, Registry } from 'prom-client';
import type { ApiRequest, ApiResponse } from '../service/rest-api.ts';
import { JobMetrics } from './job-metrics.ts';

/** The path Prometheus scrapes, on the service's port and on `sluice run --metrics-port`. */
export const METRICS_PATH = '/metrics';

/**
 * A process's Prometheus metrics: its jobs' ({@link JobMetrics}) and the process's own (prom-client's default
 * metrics — CPU, resident memory, heap, event-loop delay, garbage collection — with the `sluice_` prefix).
 *
 * @example
 * ```ts
 * const metrics = new SluiceMetrics();
 * const untrack = metrics.jobs.track('orders', runner);
 * const text = await metrics.text(); // Prometheus text format
 * ```
 */
export class SluiceMetrics {
  readonly registry = new Registry();
  readonly jobs: JobMetrics;

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'sluice_' });
    this.jobs = new JobMetrics(this.registry);
  }

  /** Every metric in Prometheus's text exposition format. */
  text(): Promise<string> {
    this.jobs.discoverConnectorMetrics();
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** An HTTP route for the service's server (http-server.ts): `GET /metrics`; `undefined` for any other path. */
  route(request: ApiRequest): Promise<ApiResponse> | undefined {
    if (request.path !== METRICS_PATH) return undefined;
    if (request.method !== 'GET') return Promise.resolve({ status: 405, body: { error: { code: 'SLUICE_METHOD_NOT_ALLOWED', message: `${request.method} ${METRICS_PATH}: only GET is served; point Prometheus at GET ${METRICS_PATH}` } } });
    return this.text().then((body) => ({ status: 200, body, contentType: this.contentType }));
  }
}

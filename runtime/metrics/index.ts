/**
 * Prometheus metrics (issue 20): `SluiceMetrics` holds a process's registry, `JobMetrics` reports jobs into it.
 * Served at `GET /metrics` by `sluice start` and by `sluice run --metrics-port <port>`; docs/observability.md lists
 * every metric.
 */
export { JobMetrics } from './job-metrics.ts';
export { METRICS_PATH, SluiceMetrics } from './sluice-metrics.ts';
export { serveMetrics } from './serve-metrics.ts';

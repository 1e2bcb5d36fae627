import type { Metric, Registry } from 'prom-client';
import type { ConnectorMetric } from '../api/index.ts';
import type { ConnectorMetricsView } from '../runner/index.ts';

/** A job's connector metrics, as the families read them at scrape time. */
export type ConnectorMetricsSource = () => Iterable<readonly [job: string, views: readonly ConnectorMetricsView[]]>;

interface Sample {
  readonly labels: Record<string, string | number>;
  readonly value: number;
  readonly metricName?: string;
}

/**
 * The metrics connectors report through `SinkWriter.metrics()` (runtime/api's ConnectorMetric), and keyed operators
 * of their state backends (`sluice_state_*`), exported under their own names with the labels job, operator and
 * subtask. The runtime does not know the names in advance: a family is registered the first time a scrape sees its
 * name ({@link discover}), and reads every subtask's latest values when Prometheus scrapes. A histogram comes as bucket counts already (a worker's report), so families are plain objects
 * that prom-client's registry formats, not prom-client metrics that observe.
 *
 * @example
 * ```ts
 * const families = new ConnectorMetricFamilies(registry, () => jobs.map(([job, runner]) => [job, runner.connectorMetrics()]));
 * families.discover(); // before each scrape
 * const text = await registry.metrics();
 * ```
 */
export class ConnectorMetricFamilies {
  readonly #registry: Registry;
  readonly #source: ConnectorMetricsSource;
  readonly #families = new Map<string, ConnectorMetricFamily>();

  constructor(registry: Registry, source: ConnectorMetricsSource) {
    this.#registry = registry;
    this.#source = source;
  }

  /** Registers a family for every metric name the connectors report now and no family has yet. */
  discover(): void {
    for (const [, views] of this.#source()) {
      for (const view of views) {
        for (const metric of view.metrics) {
          if (this.#families.has(metric.name)) continue;
          // A name a built-in metric already has is not the connector's to take.
          if (this.#registry.getSingleMetric(metric.name) !== undefined) continue;
          const family = new ConnectorMetricFamily(metric.name, metric.help, metric.type, this.#source);
          this.#families.set(metric.name, family);
          // Formatted by the registry from get(); see the class comment for why this is not a prom-client class.
          this.#registry.registerMetric(family as unknown as Metric);
        }
      }
    }
  }
}

/** One connector metric name, every job and subtask that reports it. */
class ConnectorMetricFamily {
  readonly name: string;
  readonly help: string;
  readonly type: ConnectorMetric['type'];
  readonly #source: ConnectorMetricsSource;

  constructor(name: string, help: string, type: ConnectorMetric['type'], source: ConnectorMetricsSource) {
    this.name = name;
    this.help = help;
    this.type = type;
    this.#source = source;
  }

  async get(): Promise<{ name: string; help: string; type: string; values: Sample[]; aggregator: 'sum' }> {
    const values: Sample[] = [];
    for (const [job, views] of this.#source()) {
      for (const view of views) {
        const labels = { job, operator: view.operator, subtask: view.subtask };
        for (const metric of view.metrics) {
          // A connector that reports a name with another type than it was first seen with is skipped, not mixed in.
          if (metric.name !== this.name || metric.type !== this.type) continue;
          if (metric.type !== 'histogram') {
            values.push({ labels, value: metric.value });
            continue;
          }
          let cumulative = 0;
          metric.upperBounds.forEach((bound, i) => {
            cumulative += metric.counts[i] ?? 0;
            values.push({ metricName: `${this.name}_bucket`, labels: { ...labels, le: bound }, value: cumulative });
          });
          values.push({ metricName: `${this.name}_bucket`, labels: { ...labels, le: '+Inf' }, value: metric.count });
          values.push({ metricName: `${this.name}_sum`, labels, value: metric.sum });
          values.push({ metricName: `${this.name}_count`, labels, value: metric.count });
        }
      }
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: 'sum' };
  }

  /** The registry's `resetMetrics()` calls this; the values belong to the connectors, so there is nothing to reset. */
  reset(): void {}
}

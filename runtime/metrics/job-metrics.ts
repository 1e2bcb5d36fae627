import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { CheckpointManifest } from '../checkpoint/index.ts';
import type { JobRunner, SourceLag, SubtaskMetricsView } from '../runner/index.ts';
import { ConnectorMetricFamilies } from './connector-metric-families.ts';

/** What {@link JobMetrics} keeps of one job between scrapes: the runner to read, and what only its events tell. */
interface TrackedJob {
  readonly runner: JobRunner;
  checkpointsCompleted: number;
  checkpointsFailed: number;
  lastCheckpoint: CheckpointManifest | undefined;
  readonly unsubscribe: () => void;
}

/** Buckets of the checkpoint duration histogram, in seconds: a heap checkpoint takes ms, a large one seconds. */
const CHECKPOINT_SECONDS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

const SUBTASK_LABELS = ['job', 'operator', 'subtask'] as const;

/**
 * The jobs' metrics in a prom-client registry, in Flink's vocabulary and Prometheus's naming (docs/observability.md
 * lists them). Counters a subtask keeps (records, backpressure) are read from the runner when Prometheus scrapes,
 * never pushed per record or per batch: a job pays nothing for metrics between scrapes, and a scrape reads a few
 * numbers per subtask. Checkpoints are counted from the runner's events.
 *
 * A subtask runs a chain of operators; its counters carry the uid of the chain's first operator (`operator`), as
 * `sluice status` shows them per stage. A restart starts the counters of the new attempt from 0, which Prometheus's
 * `rate()` and `increase()` read as a counter reset.
 *
 * @example
 * ```ts
 * const registry = new Registry();
 * const metrics = new JobMetrics(registry);
 * const untrack = metrics.track('orders', runner);
 * await runner.run();
 * untrack();
 * ```
 */
export class JobMetrics {
  readonly #jobs = new Map<string, TrackedJob>();
  readonly #connectors: ConnectorMetricFamilies;

  constructor(registry: Registry) {
    this.#connectors = new ConnectorMetricFamilies(registry, () => [...this.#jobs].map(([job, { runner }]) => [job, runner.connectorMetrics()] as const));
    const jobs = (): IterableIterator<[string, TrackedJob]> => this.#jobs.entries();
    const registers = [registry];

    // Per subtask, read from its counters at scrape time; subtasks for which `read` gives undefined are left out.
    const perSubtask = (Kind: typeof Counter | typeof Gauge, name: string, help: string, read: (m: SubtaskMetricsView['metrics'], now: number) => number | undefined): void => {
      new Kind({
        name,
        help,
        labelNames: SUBTASK_LABELS,
        registers,
        collect(this: Counter | Gauge) {
          this.reset();
          // A counter is reset and set through inc(): prom-client counters have no set().
          const write = this instanceof Gauge ? this.set.bind(this) : (this as Counter).inc.bind(this);
          const now = Date.now();
          for (const [job, { runner }] of jobs()) {
            for (const s of runner.subtaskMetrics()) {
              const value = read(s.metrics, now);
              if (value !== undefined) write({ job, operator: s.operators[0] ?? '', subtask: s.subtask }, value);
            }
          }
        },
      });
    };
    perSubtask(Counter, 'sluice_records_in_total', 'Records that entered a subtask (its chain of operators) in the current attempt.', (m) => m.recordsIn);
    perSubtask(Counter, 'sluice_records_out_total', 'Records a subtask (its chain of operators) emitted in the current attempt.', (m) => m.recordsOut);
    perSubtask(Counter, 'sluice_backpressured_seconds_total', 'Time a subtask waited for room in a full output channel (backpressure from downstream).', (m) => m.backpressuredMs / 1000);
    perSubtask(Counter, 'sluice_busy_seconds_total', 'Time a subtask spent processing: running, neither waiting for input nor backpressured.', (m) => Math.max(0, m.activeMs - m.backpressuredMs) / 1000);
    perSubtask(Counter, 'sluice_idle_seconds_total', 'Time a subtask waited for input (nothing to read, no timer due).', (m) => m.idleMs / 1000);
    perSubtask(Gauge, 'sluice_backpressured', '1 while a subtask waits for room in a full output channel.', (m) => (m.backpressured ? 1 : 0));
    perSubtask(Gauge, 'sluice_input_queued_bytes', 'Bytes of record batches waiting in a subtask\'s input channels (Flink\'s input queue; full channels mean backpressure upstream).', (m) => m.inputQueuedBytes);
    perSubtask(Gauge, 'sluice_checkpoint_alignment_seconds', 'How long the subtask\'s last checkpoint barrier waited to arrive on all of its input channels.', (m) => m.lastAlignmentMs / 1000);
    perSubtask(Counter, 'sluice_checkpoint_alignment_seconds_total', 'Time the subtask\'s checkpoint barriers waited for alignment, summed over the attempt.', (m) => m.alignmentMs / 1000);
    // Event time: only subtasks a watermark reached; the end of input's (+Infinity) and NO_WATERMARK are not event time.
    const watermark = (m: SubtaskMetricsView['metrics']): number | undefined => (Number.isFinite(m.inputWatermark) ? m.inputWatermark : undefined);
    perSubtask(Gauge, 'sluice_watermark_seconds', 'The latest watermark that reached the subtask (event time, seconds since the epoch).', (m) => {
      const w = watermark(m);
      return w === undefined ? undefined : w / 1000;
    });
    perSubtask(Gauge, 'sluice_watermark_lag_seconds', 'How far the subtask\'s watermark is behind the wall clock: event-time progress lagging behind now.', (m, now) => {
      const w = watermark(m);
      return w === undefined ? undefined : (now - w) / 1000;
    });
    perSubtask(Gauge, 'sluice_watermark_alignment_paused', 'For a source subtask with watermark alignment: 1 while it reads nothing, its watermark too far ahead of its group\'s lowest.', (m) => (m.aligned ? (m.alignmentPaused ? 1 : 0) : undefined));
    perSubtask(Gauge, 'sluice_watermark_alignment_paused_splits', 'For a source subtask with watermark alignment: splits it paused, their watermark too far ahead of its group\'s lowest.', (m) => (m.aligned ? m.alignmentPausedSplits : undefined));
    perSubtask(Counter, 'sluice_records_skipped_total', 'Records an operator of the subtask skipped because its function threw on them (onError(\'skip\')).', (m) => m.recordsSkipped);
    perSubtask(Counter, 'sluice_late_records_dropped_total', 'Records a window dropped for coming later than its allowed lateness (without a late-records sink).', (m) => m.lateRecordsDropped);

    // Per source split, from the readers' lag reports; splits without a value (`read` gives undefined) are left out.
    const perSplit = (name: string, help: string, read: (l: SourceLag) => number | undefined): void => {
      new Gauge({
        name,
        help,
        labelNames: ['job', 'source', 'subtask', 'topic', 'partition'],
        registers,
        collect() {
          this.reset();
          for (const [job, { runner }] of jobs()) {
            for (const lag of runner.sourceLag()) {
              const value = read(lag);
              if (value !== undefined) this.set({ job, source: lag.source, subtask: lag.subtask, ...topicPartition(lag.split) }, value);
            }
          }
        },
      });
    };
    perSplit('sluice_source_lag_records', 'Records a source split is behind its end (Kafka: high watermark minus position).', (l) => l.lag);
    perSplit('sluice_source_position', 'The next position a source split reads (Kafka: the next offset), for splits whose position is a number.', (l) => l.position);

    new Gauge({
      name: 'sluice_job_running',
      help: '1 while the job runs (or restarts), 0 once it finished, failed or was cancelled.',
      labelNames: ['job'],
      registers,
      collect() {
        this.reset();
        for (const [job, { runner }] of jobs()) this.set({ job }, runner.state === 'finished' || runner.state === 'failed' || runner.state === 'cancelled' ? 0 : 1);
      },
    });
    new Gauge({
      name: 'sluice_job_parallelism',
      help: 'Parallelism of the job (of its widest stage).',
      labelNames: ['job'],
      registers,
      collect() {
        this.reset();
        for (const [job, { runner }] of jobs()) this.set({ job }, runner.plan.parallelism);
      },
    });
    new Counter({
      name: 'sluice_job_restarts_total',
      help: 'Attempts the job restarted after a failure or a rescale.',
      labelNames: ['job'],
      registers,
      collect() {
        this.reset();
        for (const [job, { runner }] of jobs()) this.inc({ job }, Math.max(0, runner.attempts - 1));
      },
    });
    new Counter({
      name: 'sluice_job_rescales_total',
      help: 'Rescales of the job (manual and on partition changes).',
      labelNames: ['job'],
      registers,
      collect() {
        this.reset();
        for (const [job, { runner }] of jobs()) this.inc({ job }, runner.rescales.length);
      },
    });
    new Counter({
      name: 'sluice_checkpoints_total',
      help: 'Checkpoints (and savepoints) by outcome: completed, or failed (the attempt restarts from the previous one).',
      labelNames: ['job', 'outcome'],
      registers,
      collect() {
        this.reset();
        for (const [job, tracked] of jobs()) {
          this.inc({ job, outcome: 'completed' }, tracked.checkpointsCompleted);
          this.inc({ job, outcome: 'failed' }, tracked.checkpointsFailed);
        }
      },
    });
    this.#durations = new Histogram({
      name: 'sluice_checkpoint_duration_seconds',
      help: 'Time from a checkpoint\'s trigger until it was durable.',
      labelNames: ['job'],
      buckets: CHECKPOINT_SECONDS,
      registers,
    });
    new Gauge({
      name: 'sluice_last_checkpoint_size_bytes',
      help: 'Bytes of state the last completed checkpoint stored.',
      labelNames: ['job'],
      registers,
      collect() {
        this.reset();
        for (const [job, { lastCheckpoint }] of jobs()) if (lastCheckpoint !== undefined) this.set({ job }, lastCheckpoint.totalBytes);
      },
    });
    new Gauge({
      name: 'sluice_last_checkpoint_written_bytes',
      help: 'Bytes the last completed checkpoint wrote: its changes when incremental (the rest it shares with earlier checkpoints), its size when full.',
      labelNames: ['job'],
      registers,
      collect() {
        this.reset();
        for (const [job, { lastCheckpoint }] of jobs()) if (lastCheckpoint !== undefined) this.set({ job }, lastCheckpoint.writtenBytes ?? lastCheckpoint.totalBytes);
      },
    });
    new Gauge({
      name: 'sluice_last_checkpoint_age_seconds',
      help: 'Seconds since the last completed checkpoint was taken: grows without bound when checkpoints stop completing.',
      labelNames: ['job'],
      registers,
      collect() {
        this.reset();
        const now = Date.now();
        for (const [job, { lastCheckpoint }] of jobs()) if (lastCheckpoint !== undefined) this.set({ job }, Math.max(0, now - lastCheckpoint.timestamp) / 1000);
      },
    });
  }

  readonly #durations: Histogram<'job'>;

  /**
   * Registers the metrics connectors report that no scrape saw before (an Elasticsearch sink's bulk latency, …):
   * call it before reading the registry.
   */
  discoverConnectorMetrics(): void {
    this.#connectors.discover();
  }

  /**
   * Reports `runner`'s metrics under `job` until the returned function is called (a name tracked again replaces
   * the earlier runner: a service restarting a job under its name).
   */
  track(job: string, runner: JobRunner): () => void {
    this.#jobs.get(job)?.unsubscribe();
    const subscription = runner.events.subscribe((event) => {
      if (event.type === 'checkpoint-completed') {
        tracked.checkpointsCompleted++;
        tracked.lastCheckpoint = event.manifest;
        this.#durations.observe({ job }, event.manifest.durationMs / 1000);
      } else if (event.type === 'checkpoint-failed') {
        tracked.checkpointsFailed++;
      }
    });
    const tracked: TrackedJob = { runner, checkpointsCompleted: 0, checkpointsFailed: 0, lastCheckpoint: runner.lastCheckpoint, unsubscribe: () => subscription.unsubscribe() };
    this.#jobs.set(job, tracked);
    return () => {
      if (this.#jobs.get(job) !== tracked) return;
      tracked.unsubscribe();
      this.#jobs.delete(job);
      this.#durations.remove({ job });
    };
  }
}

/** Kafka splits are named `<topic>-<partition>`; other sources' splits keep their name as the topic. */
function topicPartition(split: string): { topic: string; partition: string } {
  const match = /^(.*)-(\d+)$/.exec(split);
  return match === null ? { topic: split, partition: '' } : { topic: match[1] as string, partition: match[2] as string };
}

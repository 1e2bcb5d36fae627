import type { ConnectorMetric } from '../api/index.ts';
import { STATE_CACHE_HITS_METRIC, STATE_CACHE_MISSES_METRIC, STATE_ENTRIES_METRIC, type AttemptSubtask, type RunningAttempt, type SubtaskMetrics } from '../exec/index.ts';

/** Metrics of the running attempt, per stage (summed over subtasks). */
export interface StageMetrics {
  readonly stage: number;
  readonly operators: readonly string[];
  readonly parallelism: number;
  readonly recordsIn: number;
  readonly recordsOut: number;
  /** Subtasks waiting for room in a full channel right now. */
  readonly backpressured: number;
  /** Records the stage's windows dropped for coming later than their allowed lateness (without a late-records sink). */
  readonly lateRecordsDropped: number;
  /** Records the stage's operators skipped because their function threw (`onError('skip')`). */
  readonly recordsSkipped: number;
  /** Bytes of record batches waiting in the input channels of the stage's subtasks. */
  readonly inputQueuedBytes: number;
  /** The lowest watermark that reached a subtask of the stage (event time, ms); undefined without event time. */
  readonly watermark: number | undefined;
  /**
   * Keys with keyed state in the stage's subtasks, counted per named state (`sluice_state_entries` summed; for a
   * subtask on a worker, as of its latest report); undefined for a stage without keyed operators.
   */
  readonly stateEntries: number | undefined;
  /**
   * LevelDB state backend: state reads the stage's caches served and did not (`sluice_state_cache_hits_total`,
   * `…_misses_total` summed) since the attempt started; undefined for a stage without such a cache.
   */
  readonly stateCache: { readonly hits: number; readonly misses: number } | undefined;
}

/** One subtask's counters in the running attempt (for a subtask on a worker, as of its latest report). */
export interface SubtaskMetricsView {
  readonly stage: number;
  /** Uids of the stage's chained operators, head first. */
  readonly operators: readonly string[];
  readonly subtask: number;
  readonly metrics: Readonly<SubtaskMetrics>;
}

/** Per-split lag of a source subtask. */
export interface SourceLag {
  readonly source: string;
  readonly subtask: number;
  readonly split: string;
  readonly lag: number;
  /** The next position the split's reader reads, when it is a number (Kafka: the next offset). */
  readonly position?: number;
}

/** Every subtask's counters, stage by stage. */
export function subtaskMetrics(attempt: RunningAttempt | undefined): SubtaskMetricsView[] {
  if (attempt === undefined) return [];
  const stages = attempt.plan.stages;
  return attempt.subtasks.map((s) => ({ stage: s.stage, operators: stages[s.stage]?.operators.map((o) => o.uid) ?? [], subtask: s.index, metrics: s.metrics }));
}

/** The counters of every stage, summed over its subtasks. */
export function stageMetrics(attempt: RunningAttempt | undefined): StageMetrics[] {
  if (attempt === undefined) return [];
  return attempt.plan.stages.map((stage) => {
    const stageSubtasks = attempt.subtasks.filter((s) => s.stage === stage.index);
    const subtasks: SubtaskMetrics[] = stageSubtasks.map((s) => s.metrics);
    return {
      stage: stage.index,
      operators: stage.operators.map((o) => o.uid),
      parallelism: stage.parallelism,
      recordsIn: subtasks.reduce((n, m) => n + m.recordsIn, 0),
      recordsOut: subtasks.reduce((n, m) => n + m.recordsOut, 0),
      backpressured: subtasks.filter((m) => m.backpressured).length,
      lateRecordsDropped: subtasks.reduce((n, m) => n + m.lateRecordsDropped, 0),
      recordsSkipped: subtasks.reduce((n, m) => n + m.recordsSkipped, 0),
      inputQueuedBytes: subtasks.reduce((n, m) => n + m.inputQueuedBytes, 0),
      watermark: lowestWatermark(subtasks),
      stateEntries: summed(stageSubtasks, STATE_ENTRIES_METRIC),
      stateCache: stateCache(stageSubtasks),
    };
  });
}

/** A metric the subtasks' operators report (the keys with state, cache reads), summed; undefined when none reports it. */
function summed(subtasks: readonly AttemptSubtask[], name: string): number | undefined {
  let sum: number | undefined;
  for (const subtask of subtasks) {
    for (const { metrics } of subtask.connectorMetrics()) {
      for (const metric of metrics) if (metric.name === name && metric.type !== 'histogram') sum = (sum ?? 0) + metric.value;
    }
  }
  return sum;
}

function stateCache(subtasks: readonly AttemptSubtask[]): StageMetrics['stateCache'] {
  const hits = summed(subtasks, STATE_CACHE_HITS_METRIC);
  const misses = summed(subtasks, STATE_CACHE_MISSES_METRIC);
  return hits === undefined || misses === undefined ? undefined : { hits, misses };
}

/** What one operator's connector measured in one subtask (a sink's writer). */
export interface ConnectorMetricsView {
  readonly stage: number;
  readonly subtask: number;
  /** The operator's uid. */
  readonly operator: string;
  readonly metrics: readonly ConnectorMetric[];
}

/** Every connector's metrics in the running attempt (for a subtask on a worker, as of its latest report). */
export function connectorMetrics(attempt: RunningAttempt | undefined): ConnectorMetricsView[] {
  const out: ConnectorMetricsView[] = [];
  for (const subtask of attempt?.subtasks ?? []) {
    for (const { uid, metrics } of subtask.connectorMetrics()) out.push({ stage: subtask.stage, subtask: subtask.index, operator: uid, metrics });
  }
  return out;
}

/** Per-split lag of every source (splits whose reader cannot tell are left out). */
export function sourceLag(attempt: RunningAttempt | undefined): SourceLag[] {
  const out: SourceLag[] = [];
  for (const subtask of attempt?.subtasks ?? []) {
    const lags = subtask.sourceLag();
    if (lags === undefined) continue;
    const source = attempt?.plan.stages[subtask.stage]?.operators[0]?.uid ?? subtask.name;
    for (const { split, lag, position } of lags) out.push({ source, subtask: subtask.index, split, lag, ...(position === undefined ? {} : { position }) });
  }
  return out;
}

/** The lowest event-time watermark of `subtasks`, ignoring those without one and the end of input's. */
function lowestWatermark(subtasks: readonly SubtaskMetrics[]): number | undefined {
  let lowest: number | undefined;
  for (const m of subtasks) if (Number.isFinite(m.inputWatermark) && (lowest === undefined || m.inputWatermark < lowest)) lowest = m.inputWatermark;
  return lowest;
}

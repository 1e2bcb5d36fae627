export { JobRunner } from './job-runner.ts';
export type { JobRunnerOptions, RestoreSource } from './job-runner-options.ts';
export type { ConnectorMetricsView, SourceLag, StageMetrics, SubtaskMetricsView } from './attempt-metrics.ts';
export type { JobEvent, JobState, RescaleRecord } from './job-events.ts';
export { assertRestorable, toRestoredState, type RestoreCandidate } from './restore-plan.ts';

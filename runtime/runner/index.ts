export { JobRunner } from './job-runner.ts';
export type { JobRunnerOptions, RestoreSource, StageMetrics } from './job-runner.ts';
export type { JobEvent, JobState, RescaleRecord } from './job-events.ts';
export { assertRestorable, toRestoredState, type RestoreCandidate } from './restore-plan.ts';

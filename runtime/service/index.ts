/** The sluice service: REST API, job registry, job supervisor (docs/cli.md, docs/rest.md). */
export { startService, SERVICE_INFO_FILE } from './service.ts';
export type { ServiceOptions, RunningService } from './service.ts';
export { JobSupervisor } from './job-supervisor.ts';
export type { SubmitRequest, JobSummary, JobStatus, SavepointInfo, BackupDocument } from './supervisor-api.ts';
export { JobRegistry } from './job-registry.ts';
export type { JobRecord, RegisteredState, StartFrom } from './job-registry.ts';
export type { StageStatus, CheckpointRecord, ExceptionRecord } from './job-tracker.ts';
export { redactSecrets, SECRET_KEY } from './redact.ts';
export { ServiceErrorCodes } from './service-errors.ts';
export type { ErrorBody } from './service-errors.ts';
export { isLoopback } from './auth.ts';
export { API_PREFIX } from './rest-api.ts';
export { MAX_BODY_BYTES } from './http-server.ts';

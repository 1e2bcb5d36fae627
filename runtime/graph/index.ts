export { buildPhysicalPlan, DEFAULT_MAX_PARALLELISM } from './plan-builder.ts';
export type { PlanOverrides } from './plan-builder.ts';
export { JobValidationError } from './job-validation-error.ts';
export { summarizePlan } from './physical-plan.ts';
export type { PhysicalPlan, PlannedOperator, PlanSummaryOperator, Stage, StageInput } from './physical-plan.ts';

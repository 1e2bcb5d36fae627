export { chooseParallelism, evenParallelisms, largestDivisorAtMost, validateRescaleOptions } from './rescale-policy.ts';
export type { RescaleOptions, RescalePolicyName } from './rescale-policy.ts';

export { murmur3_32, murmur3String } from './murmur3.ts';
export {
  keyGroupOf,
  keyGroupRangeOf,
  ownerOfKeyGroup,
  validateParallelism,
  validateMaxParallelism,
  validateKeyGroupRange,
  KeyGroupErrorCodes,
  MAX_MAX_PARALLELISM,
} from './key-groups.ts';
export type { StateKey, KeyGroupRange } from './key-groups.ts';
export { illFormedKey, loneSurrogateAt } from './well-formed-key.ts';
export { HeapKeyedStateBackend } from './heap-keyed-state-backend.ts';
export type { HeapKeyedStateBackendOptions } from './heap-keyed-state-backend.ts';
export type { KeyedStateBackend, KeyedStateMetrics, KeyedStateSnapshot, IncrementalParts, StateCacheMetrics } from './keyed-state-backend.ts';
export type { KeyedChains, RestoreInput } from './snapshots/owned-chains.ts';
export type { ValueState } from './value-state.ts';
export type { MapState } from './map-state.ts';
export type { ListState } from './list-state.ts';
export type { DueTimer, DueTimerGroup } from './keyed-timer-queue.ts';
export type { StateKind } from './state-table.ts';
export { StateErrorCodes } from './state-errors.ts';
export type { StateErrorCode } from './state-errors.ts';
export { SNAPSHOT_FORMAT_VERSION } from './keyed-snapshot-format.ts';
export { materializeChain } from './snapshots/materialize-chain.ts';
export { chainPastHardBound, chainPastSoftBound } from './snapshots/chain-policy.ts';

export { CheckpointStore, checkpointDbPath } from './checkpoint-store.ts';
export type {
  BlobInput,
  CheckpointBlobs,
  SharedBlobInput,
  LoadedCheckpoint,
  CheckpointInfo,
  CheckpointStoreOptions,
  StoreBatchOp,
} from './checkpoint-store.ts';
export { CheckpointErrorCodes, validateManifest, MANIFEST_FORMAT_VERSION, INCREMENTAL_MANIFEST_FORMAT_VERSION, isIncremental, writtenBytesOf } from './manifest.ts';
export type { ManifestHeader } from './manifest.ts';
export type { CheckpointKind, OperatorSummary, BlobRef, CheckpointManifest } from './manifest.ts';
export { CheckpointCoordinator, DEFAULT_CHECKPOINT_TIMEOUT_MS, DEFAULT_RETAINED_CHECKPOINTS } from './checkpoint-coordinator.ts';
export type { CheckpointCoordinatorOptions } from './checkpoint-coordinator.ts';

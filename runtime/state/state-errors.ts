/** Error codes thrown by keyed state (`runtime/state`). */
export const StateErrorCodes = {
  /** A state handle was used before the executor set a current key. */
  noCurrentKey: 'SLUICE_STATE_NO_CURRENT_KEY',
  /** A key is neither a string nor a number. */
  invalidKey: 'SLUICE_STATE_INVALID_KEY',
  /** A key's key group is outside the backend's range: the record was routed to the wrong subtask. */
  keyOutOfRange: 'SLUICE_STATE_KEY_OUT_OF_RANGE',
  /** One state name was registered (or restored) as two kinds, e.g. value and map. */
  kindMismatch: 'SLUICE_STATE_KIND_MISMATCH',
  /** A state name is empty or not a string. */
  invalidName: 'SLUICE_STATE_INVALID_NAME',
  /** A timer timestamp is not a finite number. */
  invalidTimer: 'SLUICE_STATE_INVALID_TIMER',
  /** A snapshot blob cannot be decoded. */
  snapshotCorrupt: 'SLUICE_STATE_SNAPSHOT_CORRUPT',
  /** The LevelDB state backend's working database cannot be opened, read or written (disk full, permissions). */
  backendIo: 'SLUICE_STATE_BACKEND_IO',
  /**
   * Keyed state holds a value msgpack cannot write (a symbol), so no checkpoint can hold it: fatal, since a restart
   * would replay the records that put it there.
   */
  notSerializable: 'SLUICE_STATE_NOT_SERIALIZABLE',
  /** A feature the job uses is not available with its state backend. */
  backendUnsupported: 'SLUICE_STATE_BACKEND_UNSUPPORTED',
  /** `sluice state` was asked for an operator that holds no keyed state in the checkpoint read. */
  noKeyedState: 'SLUICE_STATE_NO_KEYED_STATE',
  /** `sluice state --operator-state` was asked for an operator that holds no operator state in the checkpoint read. */
  noOperatorState: 'SLUICE_STATE_NO_OPERATOR_STATE',
} as const;

export type StateErrorCode = (typeof StateErrorCodes)[keyof typeof StateErrorCodes];

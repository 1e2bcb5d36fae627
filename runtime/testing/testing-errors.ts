/** Error codes of `sluice/testing` and `sluice verify`. */
export const TestingErrorCodes = {
  /** A fault the harness injected on purpose; retriable, so the job restarts from its latest checkpoint. */
  injected: 'SLUICE_INJECTED_FAULT',
  /** A harness option is invalid (fault count, seed, clock). */
  invalidOption: 'SLUICE_INVALID_OPTION',
  /** `run.outputs(uid)` named a sink the harness cannot read. */
  unknownSink: 'SLUICE_TESTING_UNKNOWN_SINK',
  /** A wait (`until`, `untilCheckpointCovers`) passed its deadline. */
  timeout: 'SLUICE_TESTING_TIMEOUT',
  /** The job is not running under a manual clock, so time cannot be moved by hand. */
  noManualClock: 'SLUICE_TESTING_NO_MANUAL_CLOCK',
  /** `verify` refused a job that reads or writes outside its devstack and its run's directory. */
  outsideDevstack: 'SLUICE_VERIFY_OUTSIDE_DEVSTACK',
  /** `verify` was given no input for a job that reads Kafka. */
  noInput: 'SLUICE_VERIFY_NO_INPUT',
  /** `verify` found nothing to compare: the clean run wrote nothing to Kafka, Elasticsearch or part files under outDir. */
  nothingToCompare: 'SLUICE_VERIFY_NOTHING_TO_COMPARE',
} as const;

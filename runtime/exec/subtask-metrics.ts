/** Counters of one subtask, read by the progress line and status; plain fields because they change per batch. */
export class SubtaskMetrics {
  recordsIn = 0;
  recordsOut = 0;
  /** Milliseconds spent waiting for room in a full output channel. */
  backpressuredMs = 0;
  /**
   * Milliseconds the subtask's loop ran (processing, its own awaits included) since it started: busy time is this
   * minus `backpressuredMs`. Turns handed to the event loop (other subtasks of the thread run then) are not counted.
   */
  activeMs = 0;
  /** Milliseconds spent waiting for input (nothing to read, no mail, no timer due). */
  idleMs = 0;
  /** Waiting for room right now. */
  backpressured = false;
  /** For source subtasks: times the source was not polled because the output was full. */
  sourcePauses = 0;
  finished = false;
  /** Its operators are open (their state restored) and, for a source, its reader started: records may flow. */
  opened = false;
  /** Records window operators of this subtask dropped for coming later than their allowed lateness. */
  lateRecordsDropped = 0;
  /** Records an operator of this subtask skipped because its function threw (`onError('skip')`). */
  recordsSkipped = 0;
  /**
   * Bytes of record batches waiting in the subtask's input channels, as of its last hand-over to the event loop (at
   * most every 5 ms of work) or its last wait for input (then 0). Always 0 for source subtasks.
   */
  inputQueuedBytes = 0;
  /** How long the subtask's last checkpoint barrier waited for alignment over its input channels (ms). */
  lastAlignmentMs = 0;
  /** Alignment time of every checkpoint of the attempt, summed (ms). */
  alignmentMs = 0;
  /** The latest watermark that reached the subtask's chain (event time, ms); NaN before the first. */
  inputWatermark = Number.NaN;
  /** A source subtask with watermark alignment (its two figures below mean something). */
  aligned = false;
  /** For aligned source subtasks: paused whole by watermark alignment right now. */
  alignmentPaused = false;
  /** For aligned source subtasks: how many of its splits watermark alignment paused right now. */
  alignmentPausedSplits = 0;
}

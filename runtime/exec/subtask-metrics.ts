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
  /** Records window operators of this subtask dropped for coming later than their allowed lateness. */
  lateRecordsDropped = 0;
}

/** Counters of one subtask, read by the progress line and status; plain fields because they change per batch. */
export class SubtaskMetrics {
  recordsIn = 0;
  recordsOut = 0;
  /** Milliseconds spent waiting for room in a full output channel. */
  backpressuredMs = 0;
  /** Waiting for room right now. */
  backpressured = false;
  /** For source subtasks: times the source was not polled because the output was full. */
  sourcePauses = 0;
  finished = false;
  /** Records window operators of this subtask dropped for coming later than their allowed lateness. */
  lateRecordsDropped = 0;
}

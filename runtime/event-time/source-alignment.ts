import type { Logger } from '../logging/index.ts';
import type { Clock } from '../time/index.ts';
import type { AlignmentSeat, WatermarkBoard } from './watermark-board.ts';

/** How often a paused subtask looks at its group's watermarks again, unless its alignment says otherwise (Flink's default). */
const DEFAULT_UPDATE_INTERVAL_MS = 1_000;

/**
 * Watermark alignment at one source subtask: publishes the subtask's watermark on the board and decides whether it
 * may read its next batch — not while its watermark is more than `maxDriftMs` ahead of the lowest of its group
 * (its own included, so the group's slowest subtask always reads on). A running subtask looks at every batch (a few
 * shared-memory reads); a paused one as soon as a watermark of its group changes, at the latest every
 * `updateIntervalMs` of processing time.
 *
 * @example
 * ```ts
 * const alignment = new SourceAlignment(board, seat, clock, logger);
 * if (!alignment.mayRead(events.watermark, events.idle)) return null; // paused: await alignment.wake()
 * ```
 * @internal
 */
export class SourceAlignment {
  readonly #board: WatermarkBoard;
  readonly #seat: AlignmentSeat;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #intervalMs: number;
  #paused = false;
  /** The highest watermark the subtask (or one of its splits) may have to read on, as of its last look. */
  #maxAllowed = Number.NEGATIVE_INFINITY;
  #lastCheck = Number.NEGATIVE_INFINITY;
  /** The group's change counter when the subtask last looked at its group. */
  #seen = 0;

  constructor(board: WatermarkBoard, seat: AlignmentSeat, clock: Clock, logger: Logger) {
    this.#board = board;
    this.#seat = seat;
    this.#clock = clock;
    this.#logger = logger;
    this.#intervalMs = seat.alignment.updateIntervalMs ?? DEFAULT_UPDATE_INTERVAL_MS;
  }

  /** Whether the subtask is paused (as of its last {@link mayRead}). */
  get paused(): boolean {
    return this.#paused;
  }

  /**
   * The group's lowest watermark plus the drift, as of the last look: a split whose watermark is above it pauses
   * (alignment per split, when the reader can pause splits).
   */
  get maxAllowed(): number {
    return this.#maxAllowed;
  }

  /**
   * Publishes the subtask's `watermark` (`free`: idle, so it holds no one back) and says whether it may read a
   * batch now.
   */
  mayRead(watermark: number, free: boolean): boolean {
    const board = this.#board;
    board.publish(this.#seat, watermark, free);
    const now = this.#clock.now();
    const changes = board.changes(this.#seat.groupIndex);
    if (this.#paused && changes === this.#seen && now - this.#lastCheck < this.#intervalMs) return false;
    this.#lastCheck = now;
    this.#seen = changes; // read before the slots: a change after it wakes the next wait
    const lowest = board.lowest(this.#seat.group);
    this.#maxAllowed = lowest + this.#seat.alignment.maxDriftMs;
    const paused = watermark > this.#maxAllowed;
    if (paused !== this.#paused) {
      this.#paused = paused;
      this.#logger.debug({ group: this.#seat.alignment.group, watermark, lowest, maxDriftMs: this.#seat.alignment.maxDriftMs }, paused ? 'paused by watermark alignment' : 'resumed by watermark alignment');
    }
    return !paused;
  }

  /** The input ended: the subtask holds no one back any more. */
  finished(): void {
    this.#board.publish(this.#seat, Number.POSITIVE_INFINITY, true);
    this.#paused = false;
  }

  /**
   * For a paused subtask, or one with paused splits: resolves when it should look at its group again — as soon as one
   * of the group's watermarks changed since its last look, at the latest `updateIntervalMs` (processing time) after it.
   */
  wake(): Promise<void> {
    const clock = this.#clock;
    const waitMs = Math.max(0, this.#lastCheck + this.#intervalMs - clock.now());
    let timer: ReturnType<Clock['setTimeout']> | undefined;
    // The timer keeps the process alive and follows a test's manual clock; the board's wait does neither.
    const interval = new Promise<void>((resolve) => (timer = clock.setTimeout(resolve, waitMs)));
    const changed = this.#board.changed(this.#seat.groupIndex, this.#seen, waitMs);
    return Promise.race([interval, changed]).then(() => {
      if (timer !== undefined) clock.clearTimeout(timer);
    });
  }
}

import { assignWindows, END_WATERMARK, LATE_OUTPUT, NO_WATERMARK, type SinkWriter, type TimeWindow, type WindowSpec } from '../api/index.ts';
import { SluiceError } from '../errors/index.ts';
import type { DueTimerGroup, MapState, StateKey } from '../state/index.ts';
import type { Clock } from '../time/index.ts';
import type { Downstream, OperatorPlace } from '../exec/operators/chained-operator.ts';
import { KeyedOperator, type KeyedSetup } from '../exec/operators/keyed-operator.ts';
import { windowContents, type Firing, type WindowContents, type WindowEntry } from './window-contents.ts';

/**
 * Windows on a keyed stream, with Flink's semantics:
 *
 * - **Assignment.** Each record goes to the windows its timestamp (event time) or the clock (processing time) falls
 *   in. Session windows of a key that a record bridges merge into one.
 * - **Firing.** A window fires once the watermark (or the clock) reaches `end − 1`: an event-time timer at that
 *   timestamp, so firing is checkpointed and follows the key on rescale like any timer. With early firings, a
 *   processing-time timer every `earlyFiringsEveryMs` (aligned to the epoch) emits the contents so far.
 * - **Lateness.** A record for a window the watermark has passed, but by no more than `allowedLatenessMs`, updates
 *   it and fires it again at once (`late`). One past that is dropped and counted, or written to the `lateRecords`
 *   sink, whose writer this operator drives through the checkpoints like a sink operator (exactly once), or sent to
 *   the window's late-records output (`.lateRecords()`). The window's state goes when the
 *   watermark reaches `end − 1 + allowedLatenessMs` (a cleanup timer).
 * - **Output.** What the window function gives, stamped with the window's `end − 1` as its event time.
 *
 * State: one map per key, window start → {@link WindowEntry}. The start alone names a window: tumbling and sliding
 * windows of one assigner have one size, and a key's sessions never overlap (they merge). An entry is updated in
 * place (the heap backend holds it by reference and snapshots only while the subtask is paused), so a record for a
 * window that exists costs one state lookup: its timers were registered when the window was created.
 */
export class WindowOperator<I> extends KeyedOperator<I> {
  readonly #spec: WindowSpec;
  readonly #contents: WindowContents;
  readonly #windows: MapState<number, WindowEntry>;
  readonly #next: Downstream<unknown>;
  readonly #clock: Clock;
  readonly #eventTime: boolean;
  readonly #lateness: number;
  #out: unknown[] = [];
  #outTimestamps: number[] = [];
  readonly #lateWriter: SinkWriter<unknown> | undefined;
  readonly #lateStream: boolean;
  /** Late records of the batch being processed, for the late-records sink. */
  #lateOut: unknown[] = [];

  /**
   * Where records later than the allowed lateness go besides being dropped: `lateWriter` drives a `lateRecords` sink;
   * `lateStream` sends them to the window's late-records output (`.lateRecords()`, read downstream).
   */
  constructor(place: OperatorPlace, setup: KeyedSetup, spec: WindowSpec, clock: Clock, next: Downstream<unknown>, late: { lateWriter?: SinkWriter<unknown> | undefined; lateStream?: boolean } = {}) {
    super(place, setup, next);
    this.#lateWriter = late.lateWriter;
    this.#lateStream = late.lateStream === true;
    this.#spec = spec;
    this.#contents = windowContents(spec.fn);
    this.#windows = this.backend.getMapState<number, WindowEntry>('windows');
    this.#next = next;
    this.#clock = clock;
    this.#eventTime = spec.assigner.time === 'event';
    this.#lateness = this.#eventTime ? spec.allowedLatenessMs : 0;
  }

  process(records: readonly I[], timestamps?: readonly number[]): Promise<void> | undefined {
    if (this.#eventTime && timestamps === undefined) {
      throw this.fail(
        new SluiceError('SLUICE_NO_EVENT_TIME', 'it windows by event time, but its input has no event time: give the source a watermark strategy (env.source(source, { watermarks: boundedOutOfOrderness(...) })), or use processing-time windows', { retriable: false }),
      );
    }
    this.#startOutput();
    this.#lateOut = [];
    try {
      const now = this.#clock.now();
      for (let i = 0; i < records.length; i++) {
        const record = records[i] as I;
        const key = this.keyOf(record);
        this.backend.setCurrentKey(key);
        this.#add(key, record, this.#eventTime ? (timestamps![i] as number) : now, now);
      }
    } catch (err) {
      throw this.fail(err);
    }
    const late = this.#lateOut;
    const writing = late.length === 0 || this.#lateWriter === undefined ? undefined : this.#writeLate(late);
    if (writing === undefined) return this.#flushOutput();
    return writing.then(() => this.#flushOutput());
  }

  override async open(): Promise<void> {
    await super.open();
    try {
      await this.#lateWriter?.start();
    } catch (err) {
      throw this.fail(err, 'failed to start its late-records sink');
    }
  }

  /** The late-records sink's pre-committed transaction, stored as the operator's own state (keyed state goes first). */
  protected override async snapshotOwnState(checkpointId: number): Promise<unknown> {
    if (this.#lateWriter === undefined) return undefined;
    try {
      return await this.#lateWriter.preCommit(checkpointId);
    } catch (err) {
      throw this.fail(err, `failed to pre-commit its late-records sink for checkpoint ${checkpointId}`);
    }
  }

  override async notifyCheckpointComplete(checkpointId: number): Promise<void> {
    try {
      await this.#lateWriter?.commit(checkpointId);
    } catch (err) {
      throw this.fail(err, `failed to commit its late-records sink for checkpoint ${checkpointId}`);
    }
  }

  override async finish(): Promise<void> {
    try {
      await this.#lateWriter?.finish();
    } catch (err) {
      throw this.fail(err, 'failed to finish its late-records sink');
    }
  }

  override async close(outcome: 'finished' | 'failed' | 'cancelled'): Promise<void> {
    try {
      await this.#lateWriter?.close(outcome);
    } finally {
      await super.close(outcome);
    }
  }

  #writeLate(records: unknown[]): Promise<void> | undefined {
    let pending: void | Promise<void>;
    try {
      pending = (this.#lateWriter as SinkWriter<unknown>).write(records);
    } catch (err) {
      throw this.fail(err, 'failed to write late records');
    }
    return pending === undefined ? undefined : pending.catch((err: unknown) => Promise.reject(this.fail(err, 'failed to write late records')));
  }

  override processWatermark(watermark: number): Promise<void> | undefined {
    if (!this.advanceWatermark(watermark)) return undefined;
    // The end of input ends processing time for windows too: what they hold fires before the final checkpoint.
    const due = watermark === END_WATERMARK && !this.#eventTime ? this.backend.pollDueTimerGroups(END_WATERMARK) : this.backend.pollDueEventTimeTimerGroups(watermark);
    const pending = due.length === 0 ? undefined : this.#onTimers(due, this.#eventTime ? 'event-time' : 'processing-time');
    if (pending === undefined) return this.#next.processWatermark(watermark);
    return pending.then(() => this.#next.processWatermark(watermark));
  }

  override fireTimers(now: number): Promise<void> | undefined {
    const due = this.backend.pollDueTimerGroups(now);
    return due.length === 0 ? undefined : this.#onTimers(due, 'processing-time');
  }

  #onTimers(due: readonly DueTimerGroup[], domain: 'event-time' | 'processing-time'): Promise<void> | undefined {
    this.#startOutput();
    const fireDue = domain === 'event-time' || !this.#eventTime;
    const fireEarly = domain === 'processing-time' && this.#spec.earlyFiringsEveryMs !== undefined;
    try {
      for (const { timestamp, keys } of due) {
        for (const key of keys) {
          this.backend.setCurrentKey(key);
          if (fireDue) this.#fireDue(key, timestamp);
          if (fireEarly) this.#fireEarly(key, timestamp);
        }
      }
    } catch (err) {
      throw this.fail(err, 'failed firing a window');
    }
    return this.#flushOutput();
  }

  /** Puts one record of the current key into its windows; fires at once what it updates late. */
  #add(key: StateKey, record: I, timestamp: number, now: number): void {
    const assigner = this.#spec.assigner;
    if (assigner.kind === 'tumbling') {
      // The common case without allocating a window: its start, then one lookup.
      const size = assigner.sizeMs;
      const remainder = (timestamp - assigner.offsetMs) % size;
      const start = remainder < 0 ? timestamp - (remainder + size) : timestamp - remainder;
      const existing = this.#windows.get(start);
      if (existing !== undefined && !existing.fired && (!this.#eventTime || existing.end - 1 > this.watermark)) {
        this.#contents.add(existing, record);
        return;
      }
      if (!this.#addTo(key, record, existing ?? this.#contents.create({ start, end: start + size }), existing === undefined, now)) this.#dropLate(record, timestamp);
      return;
    }
    let accepted = false;
    for (const window of assignWindows(assigner, timestamp)) {
      const existing = assigner.kind === 'session' ? undefined : this.#windows.get(window.start);
      const entry = assigner.kind === 'session' ? this.#mergeSession(window) : (existing ?? this.#contents.create(window));
      if (this.#addTo(key, record, entry, assigner.kind === 'session' || existing === undefined, now)) accepted = true;
    }
    if (!accepted) this.#dropLate(record, timestamp);
  }

  /**
   * Adds a record to one window unless the window is past the allowed lateness (returns false then). A new window
   * is stored and gets its timers; one the watermark passed already fires again at once (`late`).
   */
  #addTo(key: StateKey, record: I, entry: WindowEntry, isNew: boolean, now: number): boolean {
    const end = entry.end - 1;
    if (this.#eventTime && end + this.#lateness <= this.watermark) return false;
    this.#contents.add(entry, record);
    if (isNew) this.#windows.put(entry.start, entry);
    if (!isNew && !entry.fired) return true; // its timers exist
    if (this.#eventTime) {
      if (end <= this.watermark) this.#fire(entry, key, 'late');
      else this.backend.registerEventTimeTimer(end);
      if (this.#lateness > 0) this.backend.registerEventTimeTimer(end + this.#lateness);
    } else {
      this.backend.registerTimer(end);
    }
    const every = this.#spec.earlyFiringsEveryMs;
    if (every !== undefined && !entry.fired) this.backend.registerTimer(nextTick(now, every));
    return true;
  }

  /**
   * Session windows: the new record's window `[t, t + gap)` absorbs every window of the key it overlaps; their
   * contents merge into one entry, whose old timers are deleted (the caller registers the merged window's).
   */
  #mergeSession(window: TimeWindow): WindowEntry {
    let merged: WindowEntry = this.#contents.create(window);
    for (const [start, entry] of [...this.#windows.entries()]) {
      if (entry.start > merged.end || merged.start > entry.end) continue; // no overlap (touching sessions merge)
      const into: WindowEntry = { ...merged, start: Math.min(merged.start, entry.start), end: Math.max(merged.end, entry.end), fired: merged.fired || entry.fired };
      this.#contents.merge(into, entry);
      merged = into;
      this.#windows.remove(start);
      this.#deleteTimers(entry);
    }
    return merged;
  }

  #deleteTimers(entry: WindowEntry): void {
    const end = entry.end - 1;
    if (this.#eventTime) {
      this.backend.deleteEventTimeTimer(end);
      if (this.#lateness > 0) this.backend.deleteEventTimeTimer(end + this.#lateness);
    } else {
      this.backend.deleteTimer(end);
    }
  }

  /** The clock (watermark or wall clock) reached `time` for the current key: fire what is due, drop what expired. */
  #fireDue(key: StateKey, time: number): void {
    // Deleting from a Map while iterating it is safe: deleted entries are simply not visited.
    for (const entry of this.#windows.values()) {
      const end = entry.end - 1;
      if (!entry.fired && end <= time) this.#fire(entry, key, 'on-time');
      if (end + this.#lateness <= time) this.#windows.remove(entry.start);
    }
  }

  /** An early-firing tick for the current key: every window not yet fired emits what it has. */
  #fireEarly(key: StateKey, tick: number): void {
    const every = this.#spec.earlyFiringsEveryMs as number;
    if (tick % every !== 0) return; // a window's own end timer, not a tick
    let open = false;
    for (const window of this.#windows.values()) {
      if (window.fired) continue;
      open = true;
      this.#emit(window, key, 'early');
    }
    if (open) this.backend.registerTimer(tick + every);
  }

  #fire(entry: WindowEntry, key: StateKey, firing: Firing): void {
    entry.fired = true;
    this.#emit(entry, key, firing);
  }

  #emit(entry: WindowEntry, key: StateKey, firing: Firing): void {
    const before = this.#out.length;
    this.#contents.emit(entry, key, this.#eventTime ? this.watermark : NO_WATERMARK, firing, this.#out);
    for (let i = before; i < this.#out.length; i++) this.#outTimestamps.push(entry.end - 1);
  }

  #dropLate(record: I, timestamp: number): void {
    if (this.#lateWriter !== undefined) {
      this.#lateOut.push(record);
      return;
    }
    if (this.#lateStream) {
      // Queued by the subtask with its event time, and sent before the next barrier: exactly once.
      this.place.sideOutput?.(LATE_OUTPUT, record, this.#eventTime ? timestamp : undefined);
      return;
    }
    this.dropLate(timestamp, `later than the window's allowed lateness (${this.#lateness} ms)`);
  }

  #startOutput(): void {
    this.#out = [];
    this.#outTimestamps = [];
  }

  #flushOutput(): Promise<void> | undefined {
    const out = this.#out;
    return out.length === 0 ? undefined : this.#next.process(out, this.#outTimestamps);
  }
}

/** The next early-firing tick after `now`: multiples of `every` since the epoch, so every key fires together. */
function nextTick(now: number, every: number): number {
  return Math.floor(now / every) * every + every;
}

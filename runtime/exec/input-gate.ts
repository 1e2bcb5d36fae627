import { SluiceError } from '../errors/index.ts';
import { WatermarkValve } from '../event-time/watermark-valve.ts';
import type { ChannelEvent, ChannelReader } from './channel.ts';

/** What a subtask reads from its gate: records, an aligned barrier, or the end of all inputs. */
export type GateEvent<T> = ChannelEvent<T>;

/**
 * Merges the channels from every upstream subtask into one input, with **barrier alignment**: once barrier `n`
 * arrived on a channel, that channel is blocked until `n` arrived on all channels that have not ended; then the gate
 * yields the barrier once and unblocks them. Records behind a barrier therefore never mix into checkpoint `n`'s
 * state. Channels are served round-robin so one busy upstream cannot starve the others.
 *
 * Watermarks and idleness of the channels go through a {@link WatermarkValve}: the gate yields a watermark only when
 * the minimum over its active channels advances, and idleness only when all of them are idle.
 */
export class InputGate<T> {
  readonly #channels: readonly ChannelReader<T>[];
  readonly #blocked: boolean[];
  readonly #ended: boolean[];
  #endedCount = 0;
  #pendingBarrier: number | undefined;
  /** When the first barrier of the checkpoint being aligned arrived (performance.now()). */
  #alignmentStartedAt = 0;
  #lastAlignmentMs = 0;
  #blockedCount = 0;
  #next = 0;
  #wake: (() => void) | undefined;
  #endYielded = false;
  readonly #valve: WatermarkValve;
  /** Events ready to yield before reading the channels again (what the valve let through, then what follows). */
  #pending: GateEvent<T>[] = [];
  readonly #inputOf: readonly number[] | undefined;
  #lastInput = 0;

  /**
   * `inputOf[i]` is the operator input channel `i` belongs to, for a stage whose operator tells its inputs apart (a
   * connected pair of streams); without it every channel is input 0.
   */
  constructor(channels: readonly ChannelReader<T>[], inputOf?: readonly number[]) {
    if (channels.length === 0) throw new SluiceError('SLUICE_INTERNAL', 'an input gate needs at least one channel');
    this.#channels = channels;
    this.#inputOf = inputOf;
    this.#blocked = channels.map(() => false);
    this.#ended = channels.map(() => false);
    this.#valve = new WatermarkValve(channels.length);
    for (const channel of channels) {
      channel.onPush = () => {
        const wake = this.#wake;
        if (wake !== undefined) {
          this.#wake = undefined;
          wake();
        }
      };
    }
  }

  /** The next event if one is ready now, else `null` (then await {@link available}). */
  poll(): GateEvent<T> | null {
    if (this.#pending.length > 0) return this.#pending.shift() as GateEvent<T>;
    const n = this.#channels.length;
    for (let tried = 0; tried < n; tried++) {
      const i = this.#next;
      this.#next = i + 1 === n ? 0 : i + 1;
      if (this.#blocked[i] || this.#ended[i]) continue;
      const event = (this.#channels[i] as ChannelReader<T>).shift();
      if (event === undefined) continue;
      switch (event.kind) {
        case 'records':
          if (this.#inputOf !== undefined) this.#lastInput = this.#inputOf[i] as number;
          return event;
        case 'barrier': {
          const aligned = this.#onBarrier(i, event.checkpointId);
          if (aligned !== null) return aligned;
          tried = -1; // another channel may have data: rescan
          break;
        }
        case 'watermark':
        case 'idle': {
          const out = event.kind === 'watermark' ? this.#valve.onWatermark(i, event.watermark) : this.#valve.onIdle(i, event.idle);
          if (out.length > 0) {
            this.#pending = out;
            return this.#pending.shift() as GateEvent<T>;
          }
          tried = -1;
          break;
        }
        case 'end': {
          this.#ended[i] = true;
          this.#endedCount++;
          // A watermark this end releases goes out before what the end completes (an aligned barrier, the gate's end).
          const pending: GateEvent<T>[] = this.#valve.onEnd(i);
          const aligned = this.#checkAligned();
          if (aligned !== null) pending.push(aligned);
          else if (this.#endedCount === n && !this.#endYielded) {
            this.#endYielded = true;
            pending.push({ kind: 'end' });
          }
          if (pending.length > 0) {
            this.#pending = pending;
            return this.#pending.shift() as GateEvent<T>;
          }
          tried = -1;
          break;
        }
      }
    }
    return null;
  }

  /** The operator input the last records event came from (see the constructor's `inputOf`). */
  get lastInput(): number {
    return this.#lastInput;
  }

  /** Resolves when any channel receives an event. */
  available(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.#wake = resolve;
    });
  }

  /** True while waiting for a barrier on some channels (for metrics: alignment time). */
  get aligning(): boolean {
    return this.#pendingBarrier !== undefined;
  }

  /**
   * How long the last aligned barrier waited: from its arrival on the first channel to its arrival on the last one
   * (0 with one channel). Flink's checkpoint alignment time: the channels blocked meanwhile held their records back.
   */
  get lastAlignmentMs(): number {
    return this.#lastAlignmentMs;
  }

  /** Bytes of record batches queued in all of the gate's channels. */
  get queuedBytes(): number {
    let bytes = 0;
    for (const channel of this.#channels) bytes += channel.queuedBytes;
    return bytes;
  }

  #onBarrier(channel: number, checkpointId: number): GateEvent<T> | null {
    if (this.#pendingBarrier === undefined) {
      this.#pendingBarrier = checkpointId;
      this.#alignmentStartedAt = performance.now();
    } else if (checkpointId !== this.#pendingBarrier) {
      // One checkpoint is in flight at a time, so a different id means the protocol broke.
      throw new SluiceError('SLUICE_INTERNAL', `barrier ${checkpointId} arrived while aligning barrier ${this.#pendingBarrier}`);
    }
    this.#blocked[channel] = true;
    this.#blockedCount++;
    return this.#checkAligned();
  }

  #checkAligned(): GateEvent<T> | null {
    const id = this.#pendingBarrier;
    if (id === undefined) return null;
    if (this.#blockedCount + this.#countEndedUnblocked() < this.#channels.length) return null;
    this.#pendingBarrier = undefined;
    this.#lastAlignmentMs = performance.now() - this.#alignmentStartedAt;
    this.#blockedCount = 0;
    this.#blocked.fill(false);
    return { kind: 'barrier', checkpointId: id };
  }

  #countEndedUnblocked(): number {
    let count = 0;
    for (let i = 0; i < this.#ended.length; i++) if (this.#ended[i] && !this.#blocked[i]) count++;
    return count;
  }
}

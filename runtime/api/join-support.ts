import { SluiceError } from '../errors/index.ts';
import { LATE_LEFT_OUTPUT, LATE_RIGHT_OUTPUT, type OutputDeclarations, type OutputEmitter } from './side-outputs.ts';

/** What the function of every join by event time gets: the key, the outputs' event time, and where outputs go. */
export interface JoinContext<K, U, O extends OutputDeclarations = Record<never, never>> {
  /** The key both sides share. */
  readonly key: K;
  /** Event time of the outputs. */
  readonly timestamp: number;
  /** Emits `value` to the main output, at {@link timestamp} (any number of times; or return one value instead). */
  emit(value: U): void;
  /** Emits `value` to a declared side output `name`, at {@link timestamp}. */
  readonly output: OutputEmitter<O>;
}

/** What a join's function declares besides itself: its side outputs. */
export interface JoinFunctionOutputs<O extends OutputDeclarations> {
  /** Side outputs the function emits to with `ctx.output` (see `sideOutput()`); each must be read downstream. */
  readonly outputs?: O;
}

/** The sides of a join whose late records are read downstream (`.lateRecords(side)`), set while the job is built. @internal */
export interface LateOutputs {
  left: boolean;
  right: boolean;
}

/** The side output a join sends a side's late records to. @internal */
export function lateOutputOf(isLeft: boolean): string {
  return isLeft ? LATE_LEFT_OUTPUT : LATE_RIGHT_OUTPUT;
}

/** The failure for a record without event time reaching a join by event time (`what`: "an interval join"). @internal */
export function noEventTime(what: string): SluiceError {
  return new SluiceError(
    'SLUICE_NO_EVENT_TIME',
    `${what} joins by event time, but a record came without one: give the sources of both inputs a watermark strategy (env.source(source, { watermarks: boundedOutOfOrderness(...) }))`,
    { retriable: false },
  );
}

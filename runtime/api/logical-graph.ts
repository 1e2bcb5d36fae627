import type { Sink, Source } from './connector.ts';
import type { WatermarkStrategy } from './event-time.ts';
import type { AsyncMapOptions } from './async-map.ts';
import type { WindowSpec } from './windows.ts';
import type { StateDeclarations } from './state-declarations.ts';
import type { OutputDeclarations } from './side-outputs.ts';

/**
 * The logical graph a job's DSL calls record: one node per operator, with its inputs (several for a union or a
 * connected pair of streams). The plan builder
 * (`runtime/graph`) validates it and turns it into stages of chained operators.
 */
export type Partitioning = 'forward' | 'hash' | 'rebalance' | 'broadcast';

/** Any key a `keyBy` may produce: strings and numbers (hashed as the UTF-8 of `String(key)`). */
export type KeySelector = (value: never) => string | number;

export interface LogicalInput {
  readonly node: number;
  readonly partitioning: Partitioning;
  /** Set when `partitioning` is `hash`. */
  readonly keySelector?: KeySelector;
}

interface NodeBase {
  readonly id: number;
  /** Explicit uid, or undefined to derive one from the node's position. */
  uid: string | undefined;
  name: string;
  /** Explicit parallelism, or undefined to inherit (sources: the job's default). */
  parallelism: number | undefined;
  /** What a throw from the operator's function does to the record: fail the job (default) or skip the record. */
  onError?: ErrorPolicy;
  readonly input: LogicalInput | undefined;
}

type AnyFn = (...args: never[]) => unknown;

/**
 * What happens when an operator's function throws on a record: `fail` (the default) fails the attempt, which
 * restarts from the last checkpoint; `skip` drops the record, counts it and logs where it came from, and goes on;
 * `output` sends it (with the error) to the operator's error output stream, `.errors()`.
 */
export type ErrorPolicy = 'fail' | 'skip' | 'output';

/** Operators whose functions run per record, so a record can be skipped (or sent to the error output) when one throws. */
export const SKIPPABLE_KINDS: ReadonlySet<string> = new Set(['map', 'filter', 'flatMap', 'asyncMap', 'process', 'reduce', 'coProcess', 'broadcastProcess']);

/** Functions of process-like operators: what the executor calls per record and per timer. */
interface ProcessFns {
  readonly state?: StateDeclarations;
  readonly outputs?: OutputDeclarations;
  onTimer?: AnyFn;
}

export type LogicalNode =
  | (NodeBase & { readonly kind: 'source'; readonly source: Source<unknown>; readonly watermarks: WatermarkStrategy<unknown> | undefined })
  | (NodeBase & { readonly kind: 'map' | 'filter' | 'flatMap'; readonly fn: AnyFn })
  /** Several streams of one type merged; `input` is the first of `inputs`. */
  | (NodeBase & { readonly kind: 'union'; readonly inputs: readonly LogicalInput[] })
  | (NodeBase & { readonly kind: 'asyncMap'; readonly fn: AnyFn; readonly options: AsyncMapOptions<never, unknown> })
  | (NodeBase & { readonly kind: 'reduce'; readonly fn: AnyFn })
  | (NodeBase & { readonly kind: 'process'; readonly fn: ProcessFns & { processElement: AnyFn } })
  /** Two keyed streams with one key type: `inputs` are both hash-partitioned; `input` is the first. */
  | (NodeBase & { readonly kind: 'coProcess'; readonly inputs: readonly LogicalInput[]; readonly fn: ProcessFns & { processElement1: AnyFn; processElement2: AnyFn } })
  /** A keyed stream (first input, hash) connected to a broadcast stream (second input, broadcast). */
  | (NodeBase & {
      readonly kind: 'broadcastProcess';
      readonly inputs: readonly LogicalInput[];
      readonly fn: ProcessFns & { readonly broadcastState: StateDeclarations; processElement: AnyFn; processBroadcastElement: AnyFn };
    })
  /** The side output `output` of the node `input` reads (`ERROR_OUTPUT` for its error output). */
  | (NodeBase & { readonly kind: 'sideOutput'; readonly output: string })
  | (NodeBase & { readonly kind: 'window'; readonly window: WindowSpec })
  | (NodeBase & { readonly kind: 'sink'; readonly sink: Sink<unknown> });

export type LogicalNodeKind = LogicalNode['kind'];

/** Node kinds that need a keyed input (a `keyBy` right before them). */
export const KEYED_KINDS: ReadonlySet<LogicalNodeKind> = new Set(['reduce', 'window', 'coProcess', 'broadcastProcess']);

/** Every input of a node: a union's or a connected pair's several, another operator's one, a source's none. */
export function inputsOf(node: LogicalNode): readonly LogicalInput[] {
  if (node.kind === 'union' || node.kind === 'coProcess' || node.kind === 'broadcastProcess') return node.inputs;
  return node.input === undefined ? [] : [node.input];
}

import type { LoadedCheckpoint } from '../checkpoint/store-layout.ts';
import { SluiceError } from '../errors/index.ts';
import type { StateKey } from '../state/index.ts';
import { keyedOperatorsOf, readKeyedState, readTimers, type KeyedOperatorInfo, type KeyedStateEntry, type KeyedTimerEntry } from './keyed-state-reader.ts';
import { operatorStateHoldersOf, readOperatorState, type OperatorStateEntry, type OperatorStateInfo } from './operator-state-reader.ts';
import { stateJson } from './state-json.ts';

/** Entries a service answers with when the request gives no limit, and the most it answers with. */
export const DEFAULT_STATE_LIMIT = 1_000;
export const MAX_STATE_LIMIT = 100_000;

/** What to read of a checkpoint's keyed state: the operators (no `operator`), or one operator's entries. */
export interface KeyedStateQuery {
  readonly operator?: string;
  readonly state?: string;
  /** Keys as typed by a person: {@link keyForms} of each is looked up. */
  readonly keys?: readonly string[];
  readonly limit?: number;
  /** The operator's pending timers instead of its state entries (`state` cannot be given then). */
  readonly timers?: boolean;
  /**
   * The operator's operator state instead, one entry per subtask (`{ subtask, state }`): not keyed, so `state`,
   * `keys` and `timers` cannot be given then.
   */
  readonly operatorState?: boolean;
}

/**
 * A checkpoint's state as JSON (`GET /v1/jobs/:name/state`, docs/rest.md): the checkpoint read, then either the
 * operators holding keyed state and those holding operator state, or the entries of one, each `{ state, kind, key,
 * value }` with its value made JSON-safe as `sluice state` prints it (a map state's value an object of its entries),
 * with `timers` its pending timers, each `{ timer, key, timestamp }`, or with `operatorState` its operator state,
 * each `{ subtask, state }`.
 */
export interface KeyedStateAnswer {
  readonly job: string;
  readonly checkpoint: { readonly id: number; readonly kind: string; readonly timestamp: number; readonly maxParallelism: number };
  /** Without an operator: the operators that hold keyed state. */
  readonly operators?: readonly KeyedOperatorInfo[];
  /** Without an operator: the operators that hold operator state (sources, sinks, broadcast state, …). */
  readonly operatorState?: readonly OperatorStateInfo[];
  readonly entries?: readonly unknown[];
  /** True when more entries matched than `limit`. */
  readonly truncated?: boolean;
}

/**
 * A key as a person typed it and, when it reads as a number, that number too: `7` finds the key `7` and the key `'7'`
 * (two different keys to Sluice, in the same key group).
 *
 * @example
 * ```ts
 * keyForms('7'); // ['7', 7]
 * keyForms('u17'); // ['u17']
 * ```
 */
export function keyForms(typed: string): StateKey[] {
  const n = Number(typed);
  return typed.trim() !== '' && Number.isFinite(n) && String(n) === typed ? [typed, n] : [typed];
}

/**
 * Answers `query` from a loaded checkpoint; throws `SLUICE_INVALID_OPTION` for a limit out of range and
 * `SLUICE_STATE_NO_KEYED_STATE` for an operator without keyed state (`SLUICE_STATE_NO_OPERATOR_STATE` without operator
 * state, when that is asked for).
 *
 * @example
 * ```ts
 * const answer = await answerKeyedState(await store.load('orders', 58), { operator: 'totals', keys: ['u17'] });
 * ```
 */
export async function answerKeyedState(checkpoint: LoadedCheckpoint, query: KeyedStateQuery): Promise<KeyedStateAnswer> {
  const { manifest } = checkpoint;
  const head = { job: manifest.job, checkpoint: { id: manifest.id, kind: manifest.kind, timestamp: manifest.timestamp, maxParallelism: manifest.maxParallelism } };
  if (query.operator === undefined) return { ...head, operators: keyedOperatorsOf(manifest), operatorState: operatorStateHoldersOf(manifest) };
  const limit = query.limit ?? DEFAULT_STATE_LIMIT;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_STATE_LIMIT) {
    throw new SluiceError('SLUICE_INVALID_OPTION', `limit must be an integer from 1 to ${MAX_STATE_LIMIT}, got ${String(limit)}; read all of a large state offline (sluice state --data-dir, or --file with a backup)`, { retriable: false });
  }
  const entries: unknown[] = [];
  let truncated = false;
  for await (const entry of selectedEntries(checkpoint, { ...query, operator: query.operator })) {
    if (entries.length === limit) {
      truncated = true;
      break;
    }
    entries.push(JSON.parse(stateJson(entry)) as unknown);
  }
  return { ...head, entries, truncated };
}

/**
 * The entries of operator `query.operator` that `query` selects, streamed: its state entries (of `state`, of `keys`
 * as {@link keyForms} reads them), with `timers` its pending timers, or with `operatorState` its operator state per
 * subtask. What `sluice state` prints offline and what {@link answerKeyedState} pages. Throws
 * `SLUICE_INVALID_OPTION` for timers of a named state, and for operator state with a key, a state or timers.
 *
 * @example
 * ```ts
 * for await (const entry of selectedEntries(checkpoint, { operator: 'sessions', keys: ['u17'], timers: true })) console.log(entry);
 * ```
 */
export function selectedEntries(
  checkpoint: LoadedCheckpoint,
  query: KeyedStateQuery & { readonly operator: string },
): AsyncGenerator<KeyedStateEntry | KeyedTimerEntry | OperatorStateEntry> {
  if (query.timers === true && query.state !== undefined) {
    throw new SluiceError('SLUICE_INVALID_OPTION', 'timers belong to keys, not to a named state: ask for timers or for a state, not both', { retriable: false });
  }
  if (query.operatorState === true) {
    if (query.state !== undefined || query.keys !== undefined || query.timers === true) {
      throw new SluiceError('SLUICE_INVALID_OPTION', 'operator state belongs to subtasks, not to keys: ask for operator state, or for a state, keys or timers, not both', { retriable: false });
    }
    return readOperatorState(checkpoint, query.operator);
  }
  const keys = query.keys?.flatMap(keyForms);
  const selection = { ...(query.state === undefined ? {} : { state: query.state }), ...(keys === undefined ? {} : { keys }) };
  return query.timers === true ? readTimers(checkpoint, query.operator, selection) : readKeyedState(checkpoint, query.operator, selection);
}

import { SluiceError } from '../errors/index.ts';
import type { ErrorPolicy, LogicalNode } from './logical-graph.ts';

/** A logical node as the DSL describes it, before the recorder gives it an id. */
type NewNode = LogicalNode extends infer N ? (N extends LogicalNode ? Omit<N, 'id' | 'uid' | 'parallelism'> : never) : never;

/** Records the nodes the DSL calls create, in call order. One per job definition run. */
export class GraphRecorder {
  readonly nodes: LogicalNode[] = [];

  add(node: NewNode): number {
    const id = this.nodes.length;
    this.nodes.push({ ...node, id, uid: undefined, parallelism: undefined } as LogicalNode);
    return id;
  }

  node(id: number): LogicalNode {
    const node = this.nodes[id];
    if (node === undefined) throw new SluiceError('SLUICE_INTERNAL', `no logical node ${id}`);
    return node;
  }
}

/** Settings shared by every operator handle: stable uid, display name, parallelism. */
export abstract class OperatorHandle {
  /** @internal */
  readonly recorder: GraphRecorder;
  /** @internal */
  readonly nodeId: number;

  constructor(recorder: GraphRecorder, nodeId: number) {
    this.recorder = recorder;
    this.nodeId = nodeId;
  }

  /**
   * Sets the operator's stable id. State in checkpoints is stored by uid, so give stateful operators an explicit uid
   * before editing the job's shape; otherwise it is derived from the operator's position (`reduce-3`).
   */
  uid(uid: string): this {
    if (uid.trim() === '') throw new SluiceError('SLUICE_INVALID_JOB', 'uid() needs a non-empty string');
    this.recorder.node(this.nodeId).uid = uid;
    return this;
  }

  /** Sets the name shown in logs, progress and status. */
  name(name: string): this {
    this.recorder.node(this.nodeId).name = name;
    return this;
  }

  /** Overrides the job's parallelism for this operator. */
  parallelism(parallelism: number): this {
    this.recorder.node(this.nodeId).parallelism = parallelism;
    return this;
  }

  /**
   * What a throw from this operator's function does (map, filter, flatMap, asyncMap, process, reduce, and the
   * connected process functions): `'fail'` (the default) fails the attempt, which restarts from the last checkpoint;
   * `'skip'` drops the record, counts it (`sluice_records_skipped_total`, `recordsSkipped` in status) and logs where
   * it came from, so one malformed record cannot put the job in a restart loop; `'output'` sends the record and its
   * error to the operator's error output, read with `.errors()` (calling `errors()` sets it). Errors that no retry
   * can fix (fatal SluiceErrors) fail either way. Records the function emitted for a failed record are dropped with
   * it; keyed state it changed before throwing stays changed.
   *
   * @example
   * ```ts
   * env.source(orders).map((o) => ({ ...o, total: parsePrice(o.price) })).onError('skip')
   * ```
   */
  onError(policy: ErrorPolicy): this {
    if (policy !== 'fail' && policy !== 'skip' && policy !== 'output') {
      throw new SluiceError('SLUICE_INVALID_JOB', `onError() takes 'fail', 'skip' or 'output', got ${JSON.stringify(policy)}`);
    }
    this.recorder.node(this.nodeId).onError = policy;
    return this;
  }
}

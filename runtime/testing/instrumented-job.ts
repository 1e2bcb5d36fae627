import type { LogicalNode } from '../api/logical-graph.ts';
import { END_OF_INPUT, type JobDefinition, type Sink, type SinkWriter, type Source, type SourceReader } from '../api/index.ts';
import { GraphRecorder, Stream, StreamEnvironment } from '../api/stream.ts';
import type { FaultInjector } from './fault-injector.ts';

/** A sink of the job under test, by the uid the plan gives it. */
export interface SinkEntry {
  readonly uid: string;
  readonly sink: Sink<unknown>;
}

/**
 * Rebuilds `job` with every source and sink wrapped so `injector` can fail them, leaving uids, names, parallelism and
 * partitioning as they were (checkpoints of the original job restore into it). The job's build function runs into a
 * private recorder, and the recorded graph is replayed through the public DSL; `onSinks` sees the sinks of each
 * build (the runner builds again on a rescale).
 */
export function instrumentJob(job: JobDefinition, injector: FaultInjector | undefined, onSinks: (sinks: SinkEntry[]) => void): JobDefinition {
  return {
    kind: 'sluice.job',
    options: job.options,
    build(env, params) {
      const recorder = new GraphRecorder();
      job.build(new StreamEnvironment(recorder), params);
      onSinks(replay(recorder.nodes, env, injector));
    },
  };
}

type AnyStream = Stream<unknown>;

function replay(nodes: readonly LogicalNode[], env: StreamEnvironment, injector: FaultInjector | undefined): SinkEntry[] {
  const streams = new Map<number, AnyStream>();
  const sinks: SinkEntry[] = [];
  for (const node of nodes) {
    // The same derivation as the plan builder's, so wrappers name the operator the plan will name.
    const uid = node.uid ?? `${node.kind}-${node.id}`;
    let handle: AnyStream | ReturnType<AnyStream['sink']>;
    if (node.kind === 'source') {
      const source = injector === undefined ? node.source : faultySource(node.source, uid, injector);
      handle = env.source(source, node.watermarks === undefined ? {} : { watermarks: node.watermarks });
    } else {
      const input = node.input;
      const parent = input === undefined ? undefined : streams.get(input.node);
      if (input === undefined || parent === undefined) throw new Error(`internal: node ${uid} has no recorded input`);
      const upstream = input.partitioning === 'rebalance' ? parent.rebalance() : parent;
      const keyed = input.partitioning === 'hash' && input.keySelector !== undefined ? parent.keyBy(input.keySelector as (v: unknown) => string) : undefined;
      switch (node.kind) {
        case 'map':
          handle = upstream.map(node.fn as (v: unknown) => unknown);
          break;
        case 'filter':
          handle = upstream.filter(node.fn as (v: unknown) => boolean);
          break;
        case 'flatMap':
          handle = upstream.flatMap(node.fn as (v: unknown) => Iterable<unknown>);
          break;
        case 'union': {
          const others = node.inputs.slice(1).map((i) => {
            const other = streams.get(i.node);
            if (other === undefined) throw new Error(`internal: union ${uid} has no recorded input ${i.node}`);
            return i.partitioning === 'rebalance' ? other.rebalance() : other;
          });
          handle = upstream.union(...others);
          break;
        }
        case 'coProcess':
        case 'broadcastProcess': {
          const second = node.inputs[1];
          const other = second === undefined ? undefined : streams.get(second.node);
          if (keyed === undefined || second === undefined || other === undefined) throw new Error(`internal: ${node.kind} ${uid} has no recorded inputs`);
          handle =
            node.kind === 'coProcess'
              ? keyed.connect(other.keyBy(second.keySelector as (v: unknown) => string)).process(node.fn as never)
              : keyed.connect(other.broadcast()).process(node.fn as never);
          break;
        }
        case 'sideOutput': {
          // Recorded as it was: whichever call made it (errors(), sideOutput(name), a window's or an interval join's
          // lateRecords()) checked it then, and the parent's onError came back with the parent.
          const id = parent.recorder.add({ kind: 'sideOutput', name: node.name, output: node.output, input: { node: parent.nodeId, partitioning: 'forward' } });
          handle = new Stream<unknown>(parent.recorder, id);
          break;
        }
        case 'asyncMap':
          handle = upstream.asyncMap(node.fn as (v: unknown, signal: AbortSignal) => Promise<unknown>, node.options as never);
          break;
        case 'reduce':
          // Without a keyBy the plan builder reports the mistake; keep the node as it was so it can.
          handle = keyed === undefined ? upstream.map(node.fn as never) : keyed.reduce(node.fn as (a: unknown, b: unknown) => unknown);
          break;
        case 'process':
          handle = keyed === undefined ? upstream.process(node.fn as never) : keyed.process(node.fn as never);
          break;
        case 'window': {
          if (keyed === undefined) throw new Error(`internal: window ${uid} has no keyed input`);
          const { assigner, allowedLatenessMs, earlyFiringsEveryMs, lateRecords, fn } = node.window;
          const windowed = keyed.window(assigner, {
            allowedLatenessMs,
            ...(earlyFiringsEveryMs === undefined ? {} : { earlyFiringsEveryMs }),
            ...(lateRecords === undefined ? {} : { lateRecords }),
          });
          handle = fn.type === 'reduce' ? windowed.reduce(fn.reduce) : fn.type === 'aggregate' ? windowed.aggregate(fn.aggregate) : windowed.process(fn.process as never);
          break;
        }
        case 'sink': {
          const sink = injector === undefined ? node.sink : faultySink(node.sink, uid, injector);
          sinks.push({ uid, sink: node.sink });
          handle = upstream.sink(sink);
          break;
        }
        default: {
          const unknown: never = node;
          throw new Error(`internal: cannot replay node ${JSON.stringify(unknown)}`);
        }
      }
    }
    if (node.uid !== undefined) handle.uid(node.uid);
    handle.name(node.name);
    if (node.parallelism !== undefined) handle.parallelism(node.parallelism);
    if (node.onError !== undefined) handle.onError(node.onError);
    if (node.kind !== 'sink') streams.set(node.id, handle as AnyStream);
  }
  return sinks;
}

/** The source, with readers that tell the injector when they end and may fail as a barrier reaches them. */
function faultySource<T>(source: Source<T>, uid: string, injector: FaultInjector): Source<T> {
  return {
    ...source,
    ...(source.splitCount === undefined ? {} : { splitCount: source.splitCount.bind(source) }),
    createReader(context) {
      const reader = source.createReader(context);
      injector.readerCreated(context.signal);
      let ended = false;
      const wrapped: SourceReader<T> = {
        start: () => reader.start(),
        poll() {
          const batch = reader.poll();
          if (batch === END_OF_INPUT && !ended) {
            ended = true;
            injector.readerEnded(context.signal);
          }
          return batch;
        },
        available: () => reader.available(),
        positions: () => reader.positions(),
        async snapshotState(checkpointId) {
          const fault = injector.atBarrier({ signal: context.signal, operator: uid, subtask: context.subtask, checkpointId });
          if (fault !== undefined) throw fault;
          return reader.snapshotState?.(checkpointId);
        },
        close: () => reader.close(),
      };
      if (reader.lag !== undefined) wrapped.lag = () => (reader.lag as () => ReturnType<NonNullable<SourceReader<T>['lag']>>)();
      // Event time keeps a watermark per split only when the reader says which split a batch came from.
      if (reader.polledSplit !== undefined) wrapped.polledSplit = () => (reader.polledSplit as () => string)();
      // Watermark alignment pauses splits one by one only in readers that can.
      if (reader.pauseSplits !== undefined) wrapped.pauseSplits = (splits) => (reader.pauseSplits as (splits: ReadonlySet<string>) => void)(splits);
      if (reader.notifyCheckpointComplete !== undefined) {
        wrapped.notifyCheckpointComplete = (id) => (reader.notifyCheckpointComplete as (id: number) => Promise<void>)(id);
      }
      return wrapped;
    },
  };
}

/** The sink, with writers that may fail a write, after a pre-commit, or before a commit. */
function faultySink<T>(sink: Sink<T>, uid: string, injector: FaultInjector): Sink<T> {
  return {
    ...sink,
    name: sink.name,
    createWriter(context) {
      const writer = sink.createWriter(context);
      injector.writerCreated(context.signal);
      const site = (checkpointId?: number) => ({ signal: context.signal, operator: uid, subtask: context.subtask, ...(checkpointId === undefined ? {} : { checkpointId }) });
      const wrapped: SinkWriter<T> = {
        start: () => writer.start(),
        write(records) {
          if (records.length > 0) {
            const fault = injector.atWrite(site());
            if (fault !== undefined) throw fault;
          }
          return writer.write(records);
        },
        async preCommit(checkpointId) {
          const state = await writer.preCommit(checkpointId);
          const fault = injector.atPreCommit(site(checkpointId));
          if (fault !== undefined) throw fault;
          return state;
        },
        async commit(checkpointId) {
          const fault = injector.atCommit(site(checkpointId));
          if (fault !== undefined) throw fault;
          await writer.commit(checkpointId);
        },
        finish: () => writer.finish(),
        close: (outcome) => writer.close(outcome),
      };
      return wrapped;
    },
  };
}

/**
 * The body of a worker thread of a `WorkerAttempt` (worker-protocol.ts has the conversation), once its job is loaded:
 * worker-main.ts loads the job module through tsx, a worker bundle (worker-bundle.ts) has it built in. Runs only as a
 * worker: it reads its setup from its load message (worker-setup.ts) and talks to the main thread over `parentPort`.
 */
import { parentPort, type TransferListItem } from 'node:worker_threads';
import { isJobDefinition, JobParams, type JobDefinition } from '../api/index.ts';
import { SluiceError, stackWithCauses } from '../errors/index.ts';
import { ExchangeEndpoint, fromWireError, MessagePortTransport, toWireError, type WireError } from '../exchange/index.ts';
import type { CheckpointListener, SubtaskAck } from '../exec/index.ts';
import { buildPhysicalPlan } from '../graph/index.ts';
import { systemClock } from '../time/index.ts';
import { planFingerprint } from './plan-fingerprint.ts';
import { ChainReads } from './chain-reads.ts';
import { fromRestoredSubset } from './restored-subset.ts';
import { workerLogger } from './worker-log.ts';
import { METRICS_INTERVAL_MS, type FromWorker, type ToWorker } from './worker-protocol.ts';
import { workerSetup } from './worker-setup.ts';
import { WorkerSlice } from './worker-slice.ts';

/** The job a module default-exports (`url` names the module in the error when it does not). */
export function jobOfModule(module: Record<string, unknown>, url: string): JobDefinition {
  const job = module['default'];
  if (!isJobDefinition(job)) {
    throw new SluiceError('SLUICE_JOB_FILE_NO_JOB', `the default export of job module ${url} is not a job (in a worker thread): build it with defineJob(...) from sluice`, { retriable: false });
  }
  return job;
}

/** Runs this worker thread's part of `job`: builds the plan, reports its fingerprint, then follows the main thread. */
export function runWorker(job: JobDefinition): void {
  const port = parentPort;
  if (port === null) throw new SluiceError('SLUICE_INTERNAL', 'runtime/workers/worker-run.ts runs only as a worker thread');
  const setup = workerSetup();
  const send = (message: FromWorker, transfer: TransferListItem[] = []): void => port.postMessage(message, transfer);
  const logger = workerLogger(setup.logLevel, (line) => send({ type: 'log', line }));

  let slice: WorkerSlice | undefined;
  let running: Promise<void> | undefined;
  let stopped = false;
  let metricsTimer: ReturnType<typeof setInterval> | undefined;
  const chainReads = new ChainReads((request) => send(request));

  const endpoints = setup.peers.map((peer) => {
    if (peer === null) return undefined;
    const endpoint = new ExchangeEndpoint(new MessagePortTransport(peer));
    // A peer that vanished fails this worker's part too; main has seen that worker go and stops everyone.
    endpoint.onClose = (error) => {
      if (error !== undefined) slice?.fail(error);
    };
    return endpoint;
  });

  const plan = buildPhysicalPlan(job, { params: new JobParams(setup.params), parallelism: setup.parallelism });
  send({ type: 'plan', fingerprint: planFingerprint(plan) });

  port.on('message', (message: ToWorker) => {
    try {
      onMessage(message);
    } catch (err) {
      send({ type: 'failed', error: failure(err) });
    }
  });

  function onMessage(message: ToWorker): void {
    switch (message.type) {
      case 'start':
        start(message.restored === undefined ? undefined : fromRestoredSubset(message.restored, (uid, keyGroup) => chainReads.read(uid, keyGroup)));
        return;
      case 'chain':
        chainReads.settle(message);
        return;
      case 'trigger':
        slice?.subtask(message.stage, message.index)?.triggerCheckpoint(message.checkpointId);
        return;
      case 'complete':
        slice?.subtask(message.stage, message.index)?.completeCheckpoint(message.checkpointId);
        send({ type: 'complete-queued', checkpointId: message.checkpointId });
        return;
      case 'release-end':
        slice?.subtask(message.stage, message.index)?.releaseEnd();
        return;
      case 'stop':
        void stop(fromWireError(message.reason));
        return;
    }
  }

  function start(restored: ReturnType<typeof fromRestoredSubset> | undefined): void {
    if (stopped || slice !== undefined) return;
    const checkpoints: CheckpointListener | undefined = setup.checkpointing
      ? {
          acknowledge: (ack) => send({ type: 'ack', ack }, transferables(ack)),
          sourceFinished: (subtask) => send({ type: 'source-finished', stage: subtask.stage, index: subtask.index }),
        }
      : undefined;
    const current = new WorkerSlice({
      plan,
      setup,
      endpoints,
      clock: systemClock,
      logger,
      restored,
      checkpoints,
      onSplitsChanged: (uid, change) => send({ type: 'splits-changed', uid, change }),
      onFailure: (err) => {
        if (!stopped) send({ type: 'failed', error: failure(err) });
      },
    });
    slice = current;
    metricsTimer = setInterval(() => send({ type: 'metrics', rows: current.metricsRows(), lags: current.lagRows(), connectors: current.connectorRows(), maxUnacknowledgedBytes: current.maxUnacknowledgedBytes() }), METRICS_INTERVAL_MS);
    running = current.run().then(
      () => {
        clearInterval(metricsTimer);
        send({ type: 'finished', rows: current.metricsRows(), connectors: current.connectorRows(), maxUnacknowledgedBytes: current.maxUnacknowledgedBytes() });
      },
      () => {
        clearInterval(metricsTimer);
        // Its operators are closed (sinks aborted): `failed` went out when it failed.
        if (!stopped) send({ type: 'closed' });
      },
    );
  }

  async function stop(reason: Error): Promise<void> {
    if (stopped) return;
    stopped = true;
    chainReads.stop(reason);
    slice?.fail(reason);
    await running;
    clearInterval(metricsTimer);
    send({ type: 'closed' });
  }

  /** The error as it crosses to main: code, message and retriable kept; the stack carries every cause's stack, so the
   * user's file:line still reaches the runner's log line. */
  function failure(err: unknown): WireError {
    return { ...toWireError(err), stack: stackWithCauses(err) };
  }

  /**
   * Snapshot bytes move to the main thread instead of being copied, when a Uint8Array owns its whole buffer: a view
   * into a shared or pooled buffer (Node's Buffer pool) must be copied, or its neighbours would vanish with it.
   */
  function transferables(ack: SubtaskAck): ArrayBuffer[] {
    const buffers = new Set<ArrayBuffer>();
    const add = (bytes: Uint8Array): void => {
      const buffer = bytes.buffer;
      if (buffer instanceof ArrayBuffer && bytes.byteOffset === 0 && bytes.byteLength === buffer.byteLength && buffer.byteLength > 0) buffers.add(buffer);
    };
    for (const { snapshot } of ack.operators) {
      if (snapshot.operator !== undefined) add(snapshot.operator);
      for (const bytes of snapshot.keyed?.values() ?? []) add(bytes);
      for (const bytes of snapshot.incremental?.deltas.values() ?? []) add(bytes);
    }
    return [...buffers];
  }
}

/**
 * Restored keyed state read across threads. A worker's `start` message lists the key groups its subtasks own, not
 * their chains: a subtask asks the main thread for each chain as its backend reaches it (`read-chain`), and main
 * reads it from the checkpoint and moves it over (`chain`). So a restore on workers holds one chain at a time in
 * each thread, as in-process, instead of every chain of the worker twice (once read on main, once cloned into the
 * start message).
 */
import type { TransferListItem } from 'node:worker_threads';
import { SluiceError } from '../errors/index.ts';
import { fromWireError, toWireError } from '../exchange/index.ts';
import type { RestoredState } from '../exec/index.ts';
import type { FromWorker, ToWorker } from './worker-protocol.ts';

type ChainRequest = Extract<FromWorker, { type: 'read-chain' }>;
type ChainReply = Extract<ToWorker, { type: 'chain' }>;

/**
 * Main thread: answers a worker's request for one chain from the attempt's restored state. The chain travels as a
 * copy in a buffer of its own, transferred: the restored state's bytes may be shared with other views (a blob read
 * once for several key groups, a map that keeps its chains), and a transfer would take them away.
 */
export async function answerChainRead(restored: RestoredState | undefined, request: ChainRequest): Promise<{ reply: ChainReply; transfer: TransferListItem[] }> {
  try {
    const chain = await restored?.keyedState(request.uid)?.get(request.keyGroup);
    if (chain === undefined) {
      throw new SluiceError('SLUICE_INTERNAL', `a worker asked for the restored chain of key group ${request.keyGroup} of operator "${request.uid}", which the restored checkpoint does not have`, { retriable: false });
    }
    const copy = new Uint8Array(chain.byteLength);
    copy.set(chain);
    return { reply: { type: 'chain', id: request.id, chain: copy, error: undefined }, transfer: [copy.buffer] };
  } catch (err) {
    return { reply: { type: 'chain', id: request.id, chain: undefined, error: toWireError(err) }, transfer: [] };
  }
}

/**
 * Worker thread: the chain requests in flight. A read settles with main's answer (main's error, such as a checkpoint
 * blob that changed since it was verified, as the same `SluiceError`), or fails when the worker stops.
 */
export class ChainReads {
  readonly #send: (request: ChainRequest) => void;
  readonly #pending = new Map<number, { resolve: (chain: Uint8Array) => void; reject: (err: Error) => void }>();
  #nextId = 0;
  #stopped: Error | undefined;

  constructor(send: (request: ChainRequest) => void) {
    this.#send = send;
  }

  /** The chain of `keyGroup` in the restored state of operator `uid`, from the main thread. */
  read(uid: string, keyGroup: number): Promise<Uint8Array> {
    if (this.#stopped !== undefined) return Promise.reject(this.#stopped);
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#send({ type: 'read-chain', id, uid, keyGroup });
    });
  }

  /** Main's answer to a request. */
  settle(reply: ChainReply): void {
    const pending = this.#pending.get(reply.id);
    if (pending === undefined) return;
    this.#pending.delete(reply.id);
    if (reply.chain !== undefined) pending.resolve(reply.chain);
    else pending.reject(fromWireError(reply.error ?? toWireError(new Error('no chain in the answer'))));
  }

  /** Fails the reads in flight and any later one: the worker is stopping, and main no longer answers. */
  stop(reason: Error): void {
    this.#stopped = reason;
    for (const { reject } of this.#pending.values()) reject(reason);
    this.#pending.clear();
  }
}

import type { SubtaskAck } from '../exec/index.ts';
import type { Logger } from '../logging/index.ts';
import { chainPastHardBound, chainPastSoftBound, materializeChain } from '../state/index.ts';
import { chainId, keyedChains, type BlobRef, type CheckpointManifest } from './manifest.ts';

/**
 * Bytes of merged blobs held for the next checkpoint at most; the background stops merging at this mark until a
 * checkpoint takes them. Without it a long checkpoint interval over a large state would hold a merged copy of every
 * chain in memory at once.
 */
export const READY_BYTES_LIMIT = 64 * 2 ** 20;

/** What the compactor reads blobs from: the checkpoint store. */
export interface BlobReader {
  readBlobs(refs: readonly BlobRef[]): Promise<Uint8Array[]>;
}

/** One full blob equal to the chain of the blobs `replaces` (in chain order). */
interface CompactedChain {
  readonly replaces: readonly string[];
  readonly bytes: Uint8Array;
}

/** A chain waiting for compaction. */
interface Candidate {
  readonly id: string;
  readonly chain: readonly BlobRef[];
  readonly ratio: number;
}

/** What {@link ChainCompactor.take} hands the next checkpoint: a full blob, and how many blobs of the chain it replaces. */
export interface ChainReplacement {
  readonly bytes: Uint8Array;
  readonly replaced: number;
}

/**
 * Compacts long keyed-state chains of a job's checkpoints into full blobs, on the coordinator's thread, for backends
 * that delegate rebasing (`delegateRebase`: heap subtasks on worker threads, LevelDB subtasks everywhere).
 *
 * An incremental checkpoint's key group is a chain: a full blob, then the deltas written since. A backend that
 * rebases itself writes a new full blob from its live state when the chain has grown enough, which costs a full
 * snapshot of the key group on the thread that processes the records (2M keys, uniform updates: ~13 % of the
 * throughput). A delegating backend writes deltas only, and this class does the rebase's work elsewhere: after each
 * checkpoint it picks the chains past the soft bound of `chain-policy.ts`, reads their blobs from the store and
 * merges each into one full blob, in the background and in time slices (the merge decodes the chain into a scratch
 * heap backend and snapshots it). The next checkpoint then names that full blob, written as its own, in place of
 * the blobs it replaces, followed by the deltas written since ({@link take}). A result whose chain changed in the
 * meantime is dropped. The background holds at most {@link READY_BYTES_LIMIT} of merged blobs until a checkpoint takes
 * them. A chain past the hard bound is merged before the checkpoint is written ({@link compactOverdue}), so chains
 * stay bounded when the background falls behind.
 *
 * @example
 * ```ts
 * const compactor = new ChainCompactor(store, plan.maxParallelism, logger);
 * await compactor.compactOverdue(parent, delegating); // before gathering checkpoint n
 * const replacement = compactor.take(chainId(uid, keyGroup), parentChain); // while gathering it
 * compactor.afterCheckpoint(manifest, delegating); // once it is durable
 * ```
 */
export class ChainCompactor {
  readonly #reader: BlobReader;
  readonly #maxParallelism: number;
  readonly #logger: Logger;
  readonly #ready = new Map<string, CompactedChain>();
  #readyBytes = 0;
  readonly #readyBytesLimit: number;
  #queue: Candidate[] = [];
  /** The chain being merged in the background, if any. */
  #merging: string | undefined;
  #running: Promise<void> | undefined;
  /** The merges of {@link compactOverdue} in progress, if any. */
  #overdue: Promise<void> | undefined;
  #stopped = false;

  constructor(reader: BlobReader, maxParallelism: number, logger: Logger, options: { readyBytesLimit?: number } = {}) {
    this.#readyBytesLimit = options.readyBytesLimit ?? READY_BYTES_LIMIT;
    this.#reader = reader;
    this.#maxParallelism = maxParallelism;
    this.#logger = logger;
  }

  /**
   * Queues the chains of `manifest` (a durable checkpoint) past the soft bound, of the operators in `delegating`, the
   * furthest past first, and starts merging them in the background. Replaces the previous queue: it named chains
   * of an older checkpoint.
   */
  afterCheckpoint(manifest: CheckpointManifest, delegating: ReadonlySet<string>): void {
    if (this.#stopped) return;
    const chains = keyedChains(manifest.blobs);
    for (const [id, ready] of this.#ready) {
      const chain = chains.get(id);
      if (chain === undefined || !startsWith(chain, ready.replaces)) this.#drop(id); // rebased, or gone
    }
    if (delegating.size === 0) return;
    this.#queue = candidates(manifest, delegating, chainPastSoftBound).filter((c) => !this.#ready.has(c.id) && c.id !== this.#merging);
    this.#running ??= this.#drain().finally(() => (this.#running = undefined));
  }

  /**
   * Merges, before checkpoint `n` is gathered, every chain of `parent` (checkpoint `n - 1`) past the hard bound that
   * has no merged blob ready, of the operators in `delegating`: checkpoint `n` must not make it longer.
   */
  compactOverdue(parent: CheckpointManifest | undefined, delegating: ReadonlySet<string>): Promise<void> {
    if (parent === undefined || delegating.size === 0) return Promise.resolve();
    const overdue = (async () => {
      for (const candidate of candidates(parent, delegating, chainPastHardBound)) {
        if (this.#stopped) return;
        if (this.#ready.has(candidate.id)) continue;
        const merged = await this.#merge(candidate.chain);
        if (!this.#stopped) this.#keep(candidate.id, merged);
      }
    })();
    this.#overdue = overdue;
    return overdue;
  }

  /**
   * The merged blob for chain `id` when one is ready and `chain` (its blobs in the parent checkpoint) still starts
   * with the blobs it replaces; each result is handed out once.
   */
  take(id: string, chain: readonly BlobRef[]): ChainReplacement | undefined {
    const ready = this.#ready.get(id);
    if (ready === undefined) return undefined;
    this.#drop(id);
    if (!startsWith(chain, ready.replaces)) return undefined; // rebased since
    return { bytes: ready.bytes, replaced: ready.replaces.length };
  }

  #keep(id: string, merged: CompactedChain): void {
    this.#drop(id);
    this.#ready.set(id, merged);
    this.#readyBytes += merged.bytes.length;
  }

  #drop(id: string): void {
    const ready = this.#ready.get(id);
    if (ready === undefined) return;
    this.#ready.delete(id);
    this.#readyBytes -= ready.bytes.length;
  }

  /** Stops: drops the queue and every result. A merge in progress finishes (see {@link idle}) and is dropped. */
  stop(): void {
    this.#stopped = true;
    this.#queue = [];
    this.#ready.clear();
    this.#readyBytes = 0;
  }

  /** Resolves once no merge is in progress (it reads the store, so the store must stay open until then). */
  async idle(): Promise<void> {
    await this.#overdue?.catch(() => undefined);
    await this.#running;
  }

  async #drain(): Promise<void> {
    while (!this.#stopped && this.#readyBytes < this.#readyBytesLimit) {
      const next = this.#queue.shift();
      if (next === undefined) return;
      this.#merging = next.id;
      try {
        const merged = await this.#merge(next.chain);
        if (!this.#stopped) this.#keep(next.id, merged);
      } catch (err) {
        // The chain stays as it is; a damaged blob fails the restore that needs it, not this optimisation.
        this.#logger.warn({ err, chain: next.chain.map((ref) => ref.key) }, 'compacting a keyed-state chain failed; the chain stays as it is');
      } finally {
        this.#merging = undefined;
      }
    }
  }

  async #merge(chain: readonly BlobRef[]): Promise<CompactedChain> {
    const bytes = await this.#reader.readBlobs(chain);
    const { keyGroup } = chain[0]!;
    const merged = await materializeChain(keyGroup!, this.#maxParallelism, Buffer.concat(bytes));
    return { replaces: chain.map((ref) => ref.key), bytes: merged };
  }
}

/** Whether `chain` begins with the blobs `keys`, in order. */
function startsWith(chain: readonly BlobRef[], keys: readonly string[]): boolean {
  return keys.length <= chain.length && keys.every((key, i) => chain[i]!.key === key);
}

/** The operators whose latest snapshots delegate rebasing to the coordinator. @internal */
export function delegatingOperators(acks: readonly SubtaskAck[]): Set<string> {
  const uids = new Set<string>();
  for (const ack of acks) for (const { uid, snapshot } of ack.operators) if (snapshot.incremental?.delegatesRebase === true) uids.add(uid);
  return uids;
}

/** Chains of `manifest`'s operators in `delegating` that `past` says are too long, the furthest past first. */
function candidates(manifest: CheckpointManifest, delegating: ReadonlySet<string>, past: (baseBytes: number, deltaBytes: number, length: number) => boolean): Candidate[] {
  const out: Candidate[] = [];
  for (const chain of keyedChains(manifest.blobs).values()) {
    const { operatorUid, keyGroup } = chain[0]!;
    if (chain.length < 2 || !delegating.has(operatorUid)) continue;
    const base = chain[0]!.size;
    let deltas = 0;
    for (let i = 1; i < chain.length; i++) deltas += chain[i]!.size;
    if (past(base, deltas, chain.length)) out.push({ id: chainId(operatorUid, keyGroup!), chain, ratio: deltas / Math.max(1, base) + chain.length / 64 });
  }
  return out.sort((a, b) => b.ratio - a.ratio);
}

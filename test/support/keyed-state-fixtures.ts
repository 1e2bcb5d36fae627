import assert from 'node:assert/strict';
import { HeapKeyedStateBackend, type KeyedStateBackend, type KeyedStateSnapshot, type StateKey } from '../../runtime/state/index.ts';
import { decodeKeyGroupBlob } from '../../runtime/state/keyed-snapshot-format.ts';
import { MAX_CHAIN_LENGTH } from '../../runtime/state/snapshots/chain-policy.ts';

// Shared by the keyed state backend tests: random operations of every kind, a store of chains, and a canonical form
// of full blobs that two backends holding the same state agree on.

/** The state of full blobs as sorted plain data: what two backends must agree on. */
export function canonical(blobs: Map<number, Uint8Array>): string {
  const states: string[] = [];
  const timers: string[] = [];
  for (const [keyGroup, blob] of blobs) {
    for (const chunk of decodeKeyGroupBlob(keyGroup, blob)) {
      if (chunk.type === 'state') {
        for (let j = chunk.from; j < chunk.pairs.length; j += 2) {
          const value = chunk.pairs[j + 1];
          const plain = value instanceof Map ? [...value.entries()].sort((a, b) => String(a[0]).localeCompare(String(b[0]))) : value;
          states.push(`${chunk.name}|${typeof chunk.pairs[j]}:${String(chunk.pairs[j])}|${JSON.stringify(plain)}`);
        }
      } else if (chunk.type === 'timers') {
        for (let j = chunk.from; j < chunk.pairs.length; j += 2) timers.push(`${chunk.domain}|${String(chunk.pairs[j])}|${String(chunk.pairs[j + 1])}`);
      } else {
        assert.ok(chunk.type === 'segment' && !chunk.delta, 'a full snapshot holds full blobs only');
      }
    }
  }
  return JSON.stringify({ states: states.sort(), timers: timers.sort() });
}

/** Keeps chains as a checkpoint store would: a full blob starts one, a delta extends it, unchanged keeps it. */
export class Chains {
  readonly byGroup = new Map<number, Uint8Array[]>();
  lastId: number | undefined;

  apply(id: number, snapshot: KeyedStateSnapshot, range: { start: number; end: number }): void {
    const parts = snapshot.incremental;
    assert.ok(parts !== undefined, 'an incremental backend writes incremental snapshots');
    assert.equal(parts.parent, this.lastId, 'each snapshot extends the previous one');
    const next = new Map<number, Uint8Array[]>();
    for (const [g, blob] of snapshot.keyGroups) next.set(g, [blob]);
    for (const [g, delta] of parts.deltas) {
      const chain = this.byGroup.get(g);
      assert.ok(chain !== undefined, `delta for key group ${g} without a chain`);
      next.set(g, [...chain, delta]);
    }
    for (const g of parts.unchanged) {
      const chain = this.byGroup.get(g);
      assert.ok(chain !== undefined, `unchanged key group ${g} without a chain`);
      next.set(g, chain);
    }
    for (const [g, chain] of this.byGroup) if (g < range.start || g > range.end) next.set(g, chain);
    for (const chain of next.values()) assert.ok(chain.length <= MAX_CHAIN_LENGTH, 'chains stay bounded');
    this.byGroup.clear();
    for (const [g, chain] of next) this.byGroup.set(g, chain);
    this.lastId = id;
  }

  concatenated(): Map<number, Uint8Array> {
    return new Map([...this.byGroup].map(([g, chain]) => [g, Buffer.concat(chain)]));
  }
}

/** Applies `n` random operations of every kind to every backend, alike. */
export function randomOps(backends: KeyedStateBackend[], rnd: () => number, n: number, keys: number): void {
  for (let i = 0; i < n; i++) {
    const key: StateKey = rnd() < 0.5 ? Math.floor(rnd() * keys) : `k${Math.floor(rnd() * keys)}`;
    const op = Math.floor(rnd() * 14);
    const x = Math.floor(rnd() * 1000);
    for (const b of backends) {
      b.setCurrentKey(key);
      const value = b.getValueState<{ n: number } | number>('v');
      const map = b.getMapState<string, number>('m');
      const list = b.getListState<number>('l');
      switch (op) {
        case 0: case 1: value.update(x); break;
        case 2: value.clear(); break;
        case 3: { const v = value.value(); if (typeof v === 'object') v.n++; else value.update({ n: x }); break; } // in place
        case 4: case 5: map.put(`p${x % 4}`, x); break;
        case 6: map.remove(`p${x % 4}`); break;
        case 7: map.clear(); break;
        case 8: list.add(x); break;
        case 9: list.update(x % 3 === 0 ? [] : [x, x + 1]); break;
        case 10: b.registerTimer(1000 + (x % 50)); break;
        case 11: b.deleteTimer(1000 + (x % 50)); break;
        case 12: b.registerEventTimeTimer(2000 + (x % 50)); break;
        case 13: b.deleteEventTimeTimer(2000 + (x % 50)); break;
      }
    }
  }
}

/** Every key's value of value state `state` in the key groups `keyed` (as a checkpoint holds them), restored into a heap backend. */
export async function restoredValueState(keyed: ReadonlyMap<number, Uint8Array>, maxParallelism: number, state: string): Promise<Map<string, unknown>> {
  const backend = new HeapKeyedStateBackend({ maxParallelism, range: { start: 0, end: maxParallelism - 1 } });
  await backend.restore(keyed);
  const handle = backend.getValueState<unknown>(state);
  const out = new Map<string, unknown>();
  for (const key of backend.keysWithState(state)) {
    backend.setCurrentKey(key);
    out.set(String(key), handle.value());
  }
  return out;
}

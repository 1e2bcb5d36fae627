import type { ConnectorMetric } from '../../api/index.ts';
import type { KeyedStateMetrics } from '../../state/index.ts';

/**
 * A keyed operator subtask's state backend as Prometheus metrics, reported the way connectors report theirs (labels
 * job, operator, subtask; on worker threads as of the worker's last report). What a user of large state watches:
 * how much state each subtask holds (skew shows here first), and for the LevelDB backend whether the cache is big
 * enough (the hit ratio) and whether LevelDB keeps up with write-backs. The names are listed in
 * docs/observability.md.
 */
/** The name of the keys-with-state gauge: `sluice status` sums it per stage. */
export const STATE_ENTRIES_METRIC = 'sluice_state_entries';
/** LevelDB state backend: reads the cache served, and reads it did not (`sluice status` shows their ratio). */
export const STATE_CACHE_HITS_METRIC = 'sluice_state_cache_hits_total';
export const STATE_CACHE_MISSES_METRIC = 'sluice_state_cache_misses_total';

export function keyedStateMetricSamples(state: KeyedStateMetrics): ConnectorMetric[] {
  const out: ConnectorMetric[] = [
    { name: STATE_ENTRIES_METRIC, help: 'Keys with keyed state in the subtask, counted per named state.', type: 'gauge', value: state.entries },
    { name: 'sluice_state_timers', help: 'Pending timers of the subtask, processing time and event time.', type: 'gauge', value: state.timers },
  ];
  const cache = state.cache;
  if (cache === undefined) return out;
  out.push(
    { name: 'sluice_state_cache_bytes', help: 'LevelDB state backend: estimated heap bytes of the cached entries.', type: 'gauge', value: cache.bytes },
    { name: 'sluice_state_cache_limit_bytes', help: 'LevelDB state backend: the bound on the cache (state.cacheBytes).', type: 'gauge', value: cache.limitBytes },
    { name: STATE_CACHE_HITS_METRIC, help: 'LevelDB state backend: state reads the cache served.', type: 'counter', value: cache.hits },
    { name: STATE_CACHE_MISSES_METRIC, help: 'LevelDB state backend: state reads the cache did not hold (read from LevelDB).', type: 'counter', value: cache.misses },
    { name: 'sluice_state_cache_evictions_total', help: 'LevelDB state backend: entries evicted from the cache (written back first when changed).', type: 'counter', value: cache.evictions },
    { name: 'sluice_state_writes_queued', help: 'LevelDB state backend: write-backs waiting for LevelDB (past 65,536 the subtask waits).', type: 'gauge', value: cache.writesQueued },
  );
  return out;
}

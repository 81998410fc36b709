/**
 * The content step of the monitor: keeps, in each cluster's state, the newest commit at the end of every
 * recovery chain, read from the archived segments. It runs beside the sweep, not in the ingest path: a
 * chain end moves at most once per archived segment, so it reads a segment or two per cluster when WAL
 * arrives and nothing while it does not.
 */
import { analyzeCluster } from '../core/analyze.js';
import { parseLsn, segmentOfLsn } from '../core/lsn.js';
import type { ClusterState } from '../core/state.js';
import type { ArchiveSource } from '../sources/archive-source.js';
import { readChainCommits } from '../sources/chain-commits.js';
import type { VersionedState } from '../store/cluster-states.js';

/** What the step needs: state access with optimistic writes, and a way to read segment objects. */
export interface ChainContentDependencies {
  readonly getState: (clusterId: string) => Promise<VersionedState | undefined>;
  readonly putState: (state: ClusterState, ver: number) => Promise<'written' | 'conflict'>;
  readonly source: ArchiveSource;
  readonly now: () => number;
}

/** What one refresh did for a cluster. */
export interface ChainContentResult {
  readonly read: number;
  readonly updated: boolean;
  readonly errors: readonly string[];
}

const MAX_ATTEMPTS = 6;

/** Reads the commits of chain ends the state does not know yet, and forgets ends that moved on. */
export async function refreshChainCommits(
  deps: ChainContentDependencies,
  clusterId: string,
): Promise<ChainContentResult> {
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const stored = await deps.getState(clusterId);
    if (!stored) return { read: 0, updated: false, errors: [] };
    const report = analyzeCluster(stored.state, { now: deps.now() });
    const known = stored.state.commits ?? {};
    const ends = report.recoverableIntervals.map((interval) => {
      const end = segmentOfLsn((parseLsn(interval.toLsn) as bigint) - 1n, report.segmentSize);
      return { interval, key: `${interval.timeline}:${end}` };
    });
    const missing = ends.filter((end) => !(end.key in known));
    const stale = Object.keys(known).filter((key) => !ends.some((end) => end.key === key));
    if (missing.length === 0 && stale.length === 0) return { read: 0, updated: false, errors: [] };

    const { commits, errors } = await readChainCommits(deps.source, {
      ...report,
      recoverableIntervals: missing.map((end) => end.interval),
    });
    const next: Record<string, (typeof known)[string]> = {};
    for (const end of ends)
      next[end.key] = end.key in known ? (known[end.key] ?? null) : (commits.get(end.key) ?? null);
    const written = await deps.putState({ ...stored.state, commits: next }, stored.ver);
    if (written === 'written') return { read: missing.length, updated: true, errors };
  }
  return { read: 0, updated: false, errors: ['the cluster state kept changing; the next run tries again'] };
}

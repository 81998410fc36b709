/**
 * The content step of the monitor: keeps, in each cluster's state, the newest commit at the end of every
 * recovery chain, read from the archived segments. Ingest runs it for the clusters of each batch, right
 * after folding, so exact commit times follow new WAL within seconds; the sweeper runs it for every
 * cluster as a backstop. A chain end moves at most once per archived segment, so it reads a segment or
 * two per cluster when WAL arrives and nothing while it does not.
 */
import { type ContentPolicy, contentModeFor } from '../config/content-policy.js';
import { analyzeCluster } from '../core/analyze.js';
import { parseLsn, segmentOfLsn } from '../core/lsn.js';
import type { ClusterState } from '../core/state.js';
import type { ObjectReader } from '../sources/archive-source.js';
import { readChainCommits } from '../sources/chain-commits.js';
import type { VersionedState } from '../store/cluster-states.js';

/** What the step needs: state access with optimistic writes, and a way to read segment objects. */
export interface ChainContentDependencies {
  readonly getState: (clusterId: string) => Promise<VersionedState | undefined>;
  readonly putState: (state: ClusterState, ver: number) => Promise<'written' | 'conflict'>;
  readonly source: ObjectReader;
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

    const { commits, errors, unsettled } = await readChainCommits(deps.source, {
      ...report,
      recoverableIntervals: missing.map((end) => end.interval),
    });
    const next: Record<string, (typeof known)[string]> = {};
    for (const end of ends) {
      // A read that failed for a passing reason leaves the end unknown, so the next run reads it again.
      if (unsettled.has(end.key)) continue;
      next[end.key] = end.key in known ? (known[end.key] ?? null) : (commits.get(end.key) ?? null);
    }
    if (stale.length === 0 && missing.every((end) => unsettled.has(end.key)))
      return { read: missing.length, updated: false, errors };
    const written = await deps.putState({ ...stored.state, commits: next }, stored.ver);
    if (written === 'written') return { read: missing.length, updated: true, errors };
  }
  return { read: 0, updated: false, errors: ['the cluster state kept changing; the next run tries again'] };
}

/**
 * Refreshes the chain-end commits of the clusters whose policy reads content, one cluster at a time,
 * starting none after `deadline` (epoch ms). A cluster whose refresh failed is reported, not thrown, so
 * the others still run.
 */
export async function refreshChainCommitsOf(
  deps: ChainContentDependencies,
  policy: ContentPolicy,
  clusterIds: Iterable<string>,
  deadline = Number.POSITIVE_INFINITY,
): Promise<Map<string, ChainContentResult>> {
  const results = new Map<string, ChainContentResult>();
  for (const clusterId of clusterIds) {
    if (contentModeFor(policy, clusterId) === 'off') continue;
    if (deps.now() >= deadline) break;
    try {
      results.set(clusterId, await refreshChainCommits(deps, clusterId));
    } catch (error) {
      results.set(clusterId, {
        read: 0,
        updated: false,
        errors: [`${(error as Error).name}: ${(error as Error).message}`],
      });
    }
  }
  return results;
}

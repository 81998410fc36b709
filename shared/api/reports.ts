/**
 * Reports from stored state: the state of a cluster plus its acknowledgements, analysed at `now`.
 */
import { analyzeCluster } from '../core/analyze.js';
import type { Thresholds } from '../core/config.js';
import type { DrillRecord } from '../core/drill.js';
import { type DrillExpectation, withDrills } from '../core/drill-status.js';
import type { ClusterReport } from '../core/report.js';
import type { ClusterState } from '../core/state.js';
import type { MonitorData } from './monitor-data.js';

/** Which clusters are expected to have restore drills, and how stale their last verified one may be. */
export type DrillExpectations = (clusterId: string) => DrillExpectation | undefined;

/**
 * Analyses one stored cluster, with its drill history (`lastDrill`, drill problems); `undefined` when it is
 * unknown.
 */
export async function loadClusterReport(
  data: MonitorData,
  clusterId: string,
  now: number,
  thresholds?: Partial<Thresholds>,
  drills?: DrillExpectations,
): Promise<ClusterReport | undefined> {
  return (await loadClusterAnalysis(data, clusterId, now, thresholds, drills))?.report;
}

/**
 * Analyses one stored cluster, with its drill history, and keeps the state and drills it analysed;
 * `undefined` when it is unknown.
 */
export async function loadClusterAnalysis(
  data: MonitorData,
  clusterId: string,
  now: number,
  thresholds?: Partial<Thresholds>,
  drills?: DrillExpectations,
): Promise<ClusterAnalysis | undefined> {
  const [state, acknowledgements, history] = await Promise.all([
    data.getClusterState(clusterId),
    data.getAcknowledgements(clusterId),
    data.listDrills(clusterId),
  ]);
  if (!state) return undefined;
  return analyzeStoredCluster(state, acknowledgements, history, now, thresholds, drills?.(clusterId));
}

/** What `loadClusterAnalysis` and the sweeper keep of an analysis. */
export interface ClusterAnalysis {
  readonly state: ClusterState;
  readonly report: ClusterReport;
  readonly drills: DrillRecord[];
  readonly expectation?: DrillExpectation;
}

/** Analyses a cluster from what was read of it (`loadClusterAnalysis`, or the sweeper's batched reads). */
export function analyzeStoredCluster(
  state: ClusterState,
  acknowledgements: Record<string, unknown>,
  history: DrillRecord[],
  now: number,
  thresholds: Partial<Thresholds> | undefined,
  expectation: DrillExpectation | undefined,
): ClusterAnalysis {
  const report = analyzeCluster(state, {
    now,
    acknowledgedGaps: new Set(Object.keys(acknowledgements)),
    ...(thresholds ? { thresholds } : {}),
  });
  return {
    state,
    report: withDrills(report, history, now, expectation),
    drills: history,
    ...(expectation ? { expectation } : {}),
  };
}

/** Analyses every stored cluster, worst first. */
export async function loadAllReports(
  data: MonitorData,
  now: number,
  thresholds?: Partial<Thresholds>,
  drills?: DrillExpectations,
): Promise<ClusterReport[]> {
  const ids = await data.listClusterIds();
  const reports = await Promise.all(ids.map((id) => loadClusterReport(data, id, now, thresholds, drills)));
  const rank = { critical: 0, warning: 1, ok: 2 } as const;
  return reports
    .filter((report): report is ClusterReport => report !== undefined)
    .sort((a, b) => rank[a.status] - rank[b.status] || a.id.localeCompare(b.id));
}

/**
 * Reports from stored state: the state of a cluster plus its acknowledgements, analysed at `now`.
 */
import { analyzeCluster } from '../core/analyze.js';
import type { Thresholds } from '../core/config.js';
import type { ClusterReport } from '../core/report.js';
import type { ClusterState } from '../core/state.js';
import type { MonitorData } from './monitor-data.js';

/** Analyses one stored cluster; `undefined` when it is unknown. */
export async function loadClusterReport(
  data: MonitorData,
  clusterId: string,
  now: number,
  thresholds?: Partial<Thresholds>,
): Promise<ClusterReport | undefined> {
  return (await loadClusterAnalysis(data, clusterId, now, thresholds))?.report;
}

/** Analyses one stored cluster and keeps the state it analysed; `undefined` when it is unknown. */
export async function loadClusterAnalysis(
  data: MonitorData,
  clusterId: string,
  now: number,
  thresholds?: Partial<Thresholds>,
): Promise<{ state: ClusterState; report: ClusterReport } | undefined> {
  const [state, acknowledgements] = await Promise.all([
    data.getClusterState(clusterId),
    data.getAcknowledgements(clusterId),
  ]);
  if (!state) return undefined;
  const report = analyzeCluster(state, {
    now,
    acknowledgedGaps: new Set(Object.keys(acknowledgements)),
    ...(thresholds ? { thresholds } : {}),
  });
  return { state, report };
}

/** Analyses every stored cluster, worst first. */
export async function loadAllReports(
  data: MonitorData,
  now: number,
  thresholds?: Partial<Thresholds>,
): Promise<ClusterReport[]> {
  const ids = await data.listClusterIds();
  const reports = await Promise.all(ids.map((id) => loadClusterReport(data, id, now, thresholds)));
  const rank = { critical: 0, warning: 1, ok: 2 } as const;
  return reports
    .filter((report): report is ClusterReport => report !== undefined)
    .sort((a, b) => rank[a.status] - rank[b.status] || a.id.localeCompare(b.id));
}

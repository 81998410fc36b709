/**
 * Keeps a cluster's fleet summary row right: analyses the stored state at `now` and writes the row
 * (conditional on the row's version, retried on a conflict), or deletes the row of a cluster whose
 * state is gone. The sweeper does this for every cluster whose state changed or whose next threshold
 * crossing has come; the local monitor after each folded batch and the API after an acknowledgement
 * do it at once, so the list follows them within the request.
 */
import type { Thresholds } from '../core/config.js';
import { nextDrillCrossingAt } from '../core/drill-status.js';
import { type FleetRow, nextCrossingAt, summarizeFleetRow } from '../core/fleet-row.js';
import type { MonitorData } from './monitor-data.js';
import { type DrillExpectations, loadClusterAnalysis } from './reports.js';

const ATTEMPTS = 5;

/** What `refreshFleetRow` did. */
export type FleetRowRefresh =
  | { readonly outcome: 'written'; readonly row: FleetRow; readonly nextCrossingAt: number | null }
  | { readonly outcome: 'removed' | 'absent' | 'conflict' };

/**
 * Re-analyses a cluster and writes its row, keeping it marked as changed: the sweeper still settles its
 * alerts on its next run.
 */
export async function refreshFleetRow(
  data: MonitorData,
  clusterId: string,
  now: number,
  thresholds?: Partial<Thresholds>,
  drills?: DrillExpectations,
): Promise<FleetRowRefresh> {
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const stored = (await data.getFleetRows([clusterId])).get(clusterId);
    const analysis = await loadClusterAnalysis(data, clusterId, now, thresholds, drills);
    if (!analysis) {
      if (!stored) return { outcome: 'absent' };
      if (await data.deleteFleetRow(clusterId, stored.ver)) return { outcome: 'removed' };
      continue;
    }
    const row = summarizeFleetRow(analysis.report, now);
    const crossings = [
      nextCrossingAt(analysis.state, analysis.report, now, thresholds),
      nextDrillCrossingAt(analysis.drills, now, analysis.expectation),
    ].filter((at): at is number => at !== null);
    const next = crossings.length === 0 ? null : Math.min(...crossings);
    if (await data.putFleetRow({ row, changed: true, nextCheckAt: next }, stored?.ver ?? 0))
      return { outcome: 'written', row, nextCrossingAt: next };
  }
  return { outcome: 'conflict' };
}

/** `refreshFleetRow` for several clusters, one after another. */
export async function refreshFleetRows(
  data: MonitorData,
  clusterIds: Iterable<string>,
  now: number,
  thresholds?: Partial<Thresholds>,
  drills?: DrillExpectations,
): Promise<void> {
  for (const id of new Set(clusterIds)) await refreshFleetRow(data, id, now, thresholds, drills);
}

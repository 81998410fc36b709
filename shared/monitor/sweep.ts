/**
 * One sweep over every known cluster: re-evaluates time-dependent state at `now` (archive and backup ages,
 * gaps turning from pending to lost, backups turning failed), emits the freshness metrics, and sends each
 * alert transition exactly once per decision.
 *
 * Exactly-once across retries and concurrent sweeps rests on the alert-state item: a run decides the
 * transitions, writes the new open alerts plus an outbox of notifications claimed by it (conditional on the
 * version it read), publishes, then removes what it published. A run that loses the conditional write re-reads
 * and finds the notifications already decided; a run that dies after claiming leaves them to be re-sent once
 * the claim is older than `claimTimeoutMs` (at-least-once only in that crash window).
 */

import type { MonitorData, OutboxEntry } from '../api/monitor-data.js';
import { loadAllReports } from '../api/reports.js';
import { type AlertNotification, diffAlerts } from '../core/alerts.js';
import type { Thresholds } from '../core/config.js';
import { type ClusterMetrics, clusterMetrics, fleetMetrics } from '../core/metrics.js';
import type { ClusterReport } from '../core/report.js';

/** What a sweep needs from its host (Lambda with SNS and EMF, or the local monitor). */
export interface SweepDependencies {
  readonly data: MonitorData;
  readonly now: () => number;
  /** Sends one notification (SNS, webhook, console). Throwing leaves it in the outbox for the next run. */
  readonly publish: (notification: { id: string; subject: string; body: string }) => Promise<void>;
  /** Records metrics: `cluster` is null for the fleet-wide maxima. */
  readonly emitMetrics: (cluster: string | null, metrics: ClusterMetrics) => void;
  readonly apiUrl?: string;
  readonly thresholds?: Partial<Thresholds>;
  /** How long a claimed notification may stay unsent before another run sends it. @default 5 min */
  readonly claimTimeoutMs?: number;
}

/** What one sweep did. */
export interface SweepResult {
  readonly clusters: number;
  readonly sent: AlertNotification['transition'][];
  readonly publishFailures: number;
  readonly conflicts: number;
  readonly reports: ClusterReport[];
}

const MAX_ATTEMPTS = 8;

/** Runs one sweep. */
export async function sweep(deps: SweepDependencies): Promise<SweepResult> {
  const now = deps.now();
  const reports = await loadAllReports(deps.data, now, deps.thresholds);
  const sent: AlertNotification['transition'][] = [];
  let publishFailures = 0;
  let conflicts = 0;
  for (const report of reports) {
    deps.emitMetrics(report.id, clusterMetrics(report));
    const outcome = await settleAlerts(deps, report, now);
    sent.push(...outcome.sent);
    publishFailures += outcome.publishFailures;
    conflicts += outcome.conflicts;
  }
  deps.emitMetrics(null, fleetMetrics(reports));
  return { clusters: reports.length, sent, publishFailures, conflicts, reports };
}

/**
 * Decides and sends one cluster's alert transitions at `now` (see the module note); safe to run for the same
 * cluster from any number of concurrent sweeps or shards.
 */
export async function settleAlerts(
  deps: Pick<SweepDependencies, 'data' | 'publish' | 'apiUrl' | 'claimTimeoutMs'>,
  report: ClusterReport,
  now: number,
): Promise<{ sent: AlertNotification['transition'][]; publishFailures: number; conflicts: number }> {
  const claimTimeout = deps.claimTimeoutMs ?? 5 * 60_000;
  let conflicts = 0;
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const stored = await deps.data.getAlertState(report.id);
    // A later sweep decided already: this one's report may be older than what that one saw.
    if (stored.decidedAt !== undefined && stored.decidedAt > now)
      return { sent: [], publishFailures: 0, conflicts };
    const decided = diffAlerts(stored.open, report, now, deps.apiUrl ? { apiUrl: deps.apiUrl } : {});
    const outbox: Record<string, OutboxEntry> = { ...stored.outbox };
    for (const notification of decided.notifications) {
      outbox[notification.id] ??= {
        transition: notification.transition,
        subject: notification.subject,
        body: notification.body,
        claimedAt: null,
      };
    }
    const mine = Object.keys(outbox).filter((id) => {
      const claimedAt = outbox[id]?.claimedAt ?? null;
      return claimedAt === null || now - claimedAt >= claimTimeout;
    });
    if (mine.length === 0 && decided.notifications.length === 0 && sameKeys(stored.open, decided.open)) {
      return { sent: [], publishFailures: 0, conflicts };
    }
    for (const id of mine) outbox[id] = { ...(outbox[id] as OutboxEntry), claimedAt: now };
    if (
      !(await deps.data.putAlertState(report.id, { open: decided.open, outbox, decidedAt: now }, stored.ver))
    ) {
      conflicts += 1;
      continue;
    }
    // The claim is ours: publish, then drop what went out.
    const published: string[] = [];
    let publishFailures = 0;
    for (const id of mine) {
      const entry = outbox[id] as OutboxEntry;
      try {
        await deps.publish({ id, subject: entry.subject, body: entry.body });
        published.push(id);
      } catch {
        publishFailures += 1;
      }
    }
    await removeFromOutbox(deps.data, report.id, published);
    const transitions = published.map((id) => (outbox[id] as OutboxEntry).transition);
    return { sent: transitions, publishFailures, conflicts };
  }
  return { sent: [], publishFailures: 0, conflicts };
}

/** Removes published entries; idempotent, so a conflict only means re-reading and trying again. */
async function removeFromOutbox(data: MonitorData, clusterId: string, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const state = await data.getAlertState(clusterId);
    const outbox = { ...state.outbox };
    for (const id of ids) delete outbox[id];
    const kept = state.decidedAt === undefined ? {} : { decidedAt: state.decidedAt };
    if (await data.putAlertState(clusterId, { open: state.open, outbox, ...kept }, state.ver)) return;
  }
}

function sameKeys(a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  const left = Object.keys(a);
  return left.length === Object.keys(b).length && left.every((key) => key in b);
}

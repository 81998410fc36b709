/**
 * One sweep over the fleet: re-evaluates time-dependent state at `now` (archive and backup ages, gaps
 * turning from pending to lost, backups turning failed), emits the freshness metrics, sends each alert
 * transition exactly once per decision, and keeps the fleet summary rows and counts right.
 *
 * Selective re-analysis: each cluster's row stores when its answer can next change with time alone (the
 * next threshold crossing, `nextCrossingAt`, capped at `maxSkipMs` after the analysis) and whether its
 * state changed since (every state write marks it). A sweep reads the rows (one `BatchGetItem` per 100
 * clusters) and analyses only the clusters that are due, a bounded number at once; the others' metrics
 * come from their rows, aged to `now`.
 *
 * Requests per analysed cluster: its state, acknowledgements and alert state come in batches
 * (`getClusterInputs`: one `BatchGetItem` per 25 clusters), its drill history only when it has drills
 * (`StoredFleetRow.drilled`), then one conditional row write; the alert state is written only when its
 * alerts change. About 1.05 requests a cluster where it was 6 with one read per item.
 *
 * Exactly-once across retries and concurrent sweeps rests on the alert-state item: a run decides the
 * transitions, writes the new open alerts plus an outbox of notifications claimed by it (conditional on the
 * version it read), publishes, then removes what it published. A run that loses the conditional write re-reads
 * and finds the notifications already decided; a run that dies after claiming leaves them to be re-sent once
 * the claim is older than `claimTimeoutMs` (at-least-once only in that crash window).
 */

import pMap from 'p-map';
import type { AlertState, ClusterInputs, MonitorData, OutboxEntry } from '../api/monitor-data.js';
import { analyzeStoredCluster, type DrillExpectations } from '../api/reports.js';
import { type AlertNotification, diffAlerts } from '../core/alerts.js';
import { hasUsableSegments } from '../core/analyze.js';
import type { Thresholds } from '../core/config.js';
import { nextDrillCrossingAt } from '../core/drill-status.js';
import {
  countFleetRows,
  type FleetCounts,
  type FleetRow,
  nextCrossingAt,
  summarizeFleetRow,
} from '../core/fleet-row.js';
import {
  closedGapOutcomes,
  EMPTY_GAP_HISTORY,
  type GapTracking,
  type GapTrackingContext,
  sameGapHistory,
  trackGaps,
} from '../core/gap-history.js';
import { type ClusterMetrics, fleetMaxima, fleetRowMetrics, statusCountMetrics } from '../core/metrics.js';
import type { ClusterReport } from '../core/report.js';
import type { ClusterState } from '../core/state.js';
import type { StoredFleetRow } from '../store/fleet-rows.js';

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
  /** Clusters where restore drills are configured (for `drill-stale`). @default none */
  readonly drills?: DrillExpectations;
  /** How long a claimed notification may stay unsent before another run sends it. @default 5 min */
  readonly claimTimeoutMs?: number;
  /** Clusters analysed at once. @default 16 */
  readonly concurrency?: number;
  /**
   * Longest time a cluster goes without re-analysis when nothing marks it: a backstop for a state write
   * whose mark was lost (a crash between the two). @default 15 min
   */
  readonly maxSkipMs?: number;
  /**
   * Runs before the analyses with the clusters due and every cluster (content reads that may move their
   * state: chain ends of the clusters due, the segment scan's backlog of any).
   */
  readonly beforeAnalysis?: (due: readonly string[], all: readonly string[]) => Promise<void>;
  /**
   * Sweep only these clusters, one shard of a fanned-out sweep (`sweep-shards.ts`): orphan rows and the
   * fleet counts item are left to the sweeper that planned the shards. @default every cluster
   */
  readonly clusterIds?: readonly string[];
  /** Whether a cluster's own metrics (the `Cluster` dimension) are emitted. @default every cluster */
  readonly clusterMetrics?: (clusterId: string) => boolean;
}

/** What one sweep did. */
export interface SweepResult {
  /** Clusters with a state. */
  readonly clusters: number;
  /** Clusters analysed (due: changed, at a threshold crossing, new, or past `maxSkipMs`). */
  readonly analyzed: number;
  /** Rows of clusters whose state is gone, deleted. */
  readonly removed: number;
  readonly sent: AlertNotification['transition'][];
  readonly publishFailures: number;
  readonly conflicts: number;
  /** Reports of the clusters analysed. */
  readonly reports: ClusterReport[];
  readonly counts: FleetCounts;
}

/** Clusters analysed at once by default. */
export const DEFAULT_SWEEP_CONCURRENCY = 16;

/** Default longest time between two analyses of an unchanged cluster. */
export const DEFAULT_MAX_SKIP_MS = 15 * 60_000;

const MAX_ATTEMPTS = 8;

/** Clusters whose inputs one `getClusterInputs` call reads (DynamoDB: one `BatchGetItem` of 100 items). */
const INPUT_BATCH = 25;
/** Batches in flight at once: the next batch is read while the clusters of one are analysed. */
const BATCHES_AT_ONCE = 2;

/** Whether a cluster must be analysed at `now`. */
export function isDue(stored: StoredFleetRow | undefined, now: number): boolean {
  return (
    !stored ||
    stored.row === null ||
    stored.changed ||
    stored.nextCheckAt === null ||
    stored.nextCheckAt <= now
  );
}

/** Runs one sweep. */
export async function sweep(deps: SweepDependencies): Promise<SweepResult> {
  const now = deps.now();
  const maxSkip = deps.maxSkipMs ?? DEFAULT_MAX_SKIP_MS;
  const shard = deps.clusterIds !== undefined;
  const ids = deps.clusterIds ? [...deps.clusterIds] : await deps.data.listClusterIds();
  const stored = await deps.data.getFleetRows(ids);
  const due = ids.filter((id) => isDue(stored.get(id), now));
  await deps.beforeAnalysis?.(due, ids);

  const rows = new Map<string, FleetRow>();
  for (const id of ids) {
    const row = stored.get(id)?.row;
    if (row) rows.set(id, row);
  }
  const sent: AlertNotification['transition'][] = [];
  const reports: ClusterReport[] = [];
  let publishFailures = 0;
  let conflicts = 0;
  let removed = 0;
  const batches: string[][] = [];
  for (let start = 0; start < due.length; start += INPUT_BATCH)
    batches.push(due.slice(start, start + INPUT_BATCH));
  const perBatch = Math.max(1, Math.ceil((deps.concurrency ?? DEFAULT_SWEEP_CONCURRENCY) / BATCHES_AT_ONCE));
  await pMap(
    batches,
    async (batch) => {
      const inputs = await deps.data.getClusterInputs(batch);
      await pMap(
        batch,
        async (id) => {
          const outcome = await sweepCluster(deps, id, stored.get(id), inputs.get(id), now, maxSkip);
          if (outcome.kind === 'removed') {
            rows.delete(id);
            removed += 1;
            return;
          }
          rows.set(id, outcome.row);
          reports.push(outcome.report);
          sent.push(...outcome.sent);
          publishFailures += outcome.publishFailures;
          conflicts += outcome.conflicts;
        },
        { concurrency: perBatch },
      );
    },
    { concurrency: BATCHES_AT_ONCE },
  );
  if (!shard) removed += await removeOrphanRows(deps.data, new Set(ids));

  const all: ClusterMetrics[] = [];
  const wanted = deps.clusterMetrics ?? (() => true);
  for (const [id, row] of rows) {
    const metrics = fleetRowMetrics(row, now);
    all.push(metrics);
    if (wanted(id)) deps.emitMetrics(id, metrics);
  }
  const counts = countFleetRows(rows.values());
  // Shards of one sweep each emit their own maxima (CloudWatch's Maximum) and counts (its Sum).
  deps.emitMetrics(null, { ...fleetMaxima(all), ...statusCountMetrics(counts) });
  if (!shard) await writeFleetCounts(deps.data, counts, now);
  return {
    clusters: ids.length,
    analyzed: due.length,
    removed,
    sent,
    publishFailures,
    conflicts,
    reports,
    counts,
  };
}

type ClusterOutcome =
  | { kind: 'removed' }
  | {
      kind: 'analyzed';
      row: FleetRow;
      report: ClusterReport;
      sent: AlertNotification['transition'][];
      publishFailures: number;
      conflicts: number;
    };

/**
 * Analyses one cluster from its batched inputs, settles its alerts and writes its row (conditional on the
 * row it read). The drill history is read only for a cluster that has drills or is expected to.
 */
async function sweepCluster(
  deps: SweepDependencies,
  id: string,
  stored: StoredFleetRow | undefined,
  inputs: ClusterInputs | undefined,
  now: number,
  maxSkip: number,
): Promise<ClusterOutcome> {
  if (!inputs?.state) {
    if (stored) await deps.data.deleteFleetRow(id, stored.ver);
    return { kind: 'removed' };
  }
  const expectation = deps.drills?.(id);
  // A stored drill marks the row `drilled`; a row item older than that flag shows its drill in the row.
  const hasDrills = !stored || stored.drilled || (stored.row?.lastDrill ?? null) !== null;
  const history = expectation || hasDrills ? await deps.data.listDrills(id) : [];
  const analyze = (acknowledgements: ClusterInputs['acknowledgements']) =>
    analyzeStoredCluster(
      inputs.state as ClusterState,
      acknowledgements,
      history,
      now,
      deps.thresholds,
      expectation,
    );
  let analysis = analyze(inputs.acknowledgements);
  const gaps = gapTrackingContext(inputs.state, inputs.acknowledgements);
  // A gap that shrank or split keeps the acknowledgement of the gap it continues: analysed with it, it
  // does not alert under its new id.
  const inherited = trackGaps(
    inputs.alertState.gaps ?? EMPTY_GAP_HISTORY,
    analysis.report.gaps,
    now,
    gaps,
  ).inherited;
  if (Object.keys(inherited).length > 0) analysis = analyze({ ...inputs.acknowledgements, ...inherited });
  const { report, state, drills } = analysis;
  const alerts = await settleAlerts(deps, report, now, inputs.alertState, gaps);
  if (alerts.gaps)
    await deps.data.settleAcknowledgements(id, {
      withdrawn: alerts.gaps.withdrawn,
      inherited: alerts.gaps.inherited,
    });
  const row = summarizeFleetRow(report, now);
  const crossing = nextCrossingAt(state, report, now, deps.thresholds);
  const drillCrossing = nextDrillCrossingAt(drills, now, expectation);
  const checks = [
    crossing ?? Number.POSITIVE_INFINITY,
    drillCrossing ?? Number.POSITIVE_INFINITY,
    now + maxSkip,
    alerts.retryAt ?? Number.POSITIVE_INFINITY,
  ];
  // A notification that failed to go out keeps the cluster due: the next run publishes it.
  const written = await deps.data.putFleetRow(
    { row, changed: alerts.publishFailures > 0, nextCheckAt: Math.min(...checks) },
    stored?.ver ?? 0,
  );
  // A lost write means the state changed meanwhile: the row stays marked, and the next run analyses it.
  return { kind: 'analyzed', row, report, ...alerts, conflicts: alerts.conflicts + (written ? 0 : 1) };
}

/** What gap tracking needs of a cluster's inputs. */
export function gapTrackingContext(
  state: ClusterState,
  acknowledgements: GapTrackingContext['acknowledgements'],
): GapTrackingContext {
  return {
    segmentSize: state.segmentSize,
    acknowledgements,
    isPresent: (timeline, first, last) => hasUsableSegments(state, timeline, first, last),
  };
}

/** Writes the fleet counts item when the counts changed. */
export async function writeFleetCounts(data: MonitorData, counts: FleetCounts, now: number): Promise<void> {
  const before = await data.getFleetCounts();
  if (!before || JSON.stringify(before.counts) !== JSON.stringify(counts))
    await data.putFleetCounts(counts, now);
}

/** Deletes the rows of clusters no longer known; returns how many. */
export async function removeOrphanRows(data: MonitorData, known: ReadonlySet<string>): Promise<number> {
  const orphans = (await data.listFleetRowIds()).filter((id) => !known.has(id));
  if (orphans.length === 0) return 0;
  let removed = 0;
  const rows = await data.getFleetRows(orphans);
  for (const id of orphans) {
    const row = rows.get(id);
    // The cluster index is eventually consistent: a state that exists after all keeps its row.
    if (!row || (await data.getClusterState(id))) continue;
    if (await data.deleteFleetRow(id, row.ver)) removed += 1;
  }
  return removed;
}

/**
 * Decides and sends one cluster's alert transitions at `now` (see the module note); safe to run for the same
 * cluster from any number of concurrent sweeps or shards.
 */
export async function settleAlerts(
  deps: Pick<SweepDependencies, 'data' | 'publish' | 'apiUrl' | 'claimTimeoutMs'>,
  report: ClusterReport,
  now: number,
  /** The alert state as already read (the sweep's batched read); the first attempt decides on it. */
  initial?: AlertState,
  /** Tracks the report's gaps into the item's gap history, in the same conditional write. @default untracked */
  gapContext?: GapTrackingContext,
): Promise<{
  sent: AlertNotification['transition'][];
  publishFailures: number;
  conflicts: number;
  /** When a notification another run claimed may be claimed again (that run may have died). */
  retryAt: number | null;
  /** The gap tracking the item holds now, when this run decided (absent when a later sweep had). */
  gaps?: GapTracking;
}> {
  const claimTimeout = deps.claimTimeoutMs ?? 5 * 60_000;
  let conflicts = 0;
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const stored = attempt === 0 && initial ? initial : await deps.data.getAlertState(report.id);
    // A later sweep decided already: this one's report may be older than what that one saw.
    if (stored.decidedAt !== undefined && stored.decidedAt > now)
      return { sent: [], publishFailures: 0, conflicts, retryAt: null };
    // Re-applied to what was read on every attempt: a concurrent sweep's closures stay, none is recorded twice.
    const gaps = gapContext
      ? trackGaps(stored.gaps ?? EMPTY_GAP_HISTORY, report.gaps, now, gapContext)
      : undefined;
    const decided = diffAlerts(stored.open, report, now, {
      ...(deps.apiUrl ? { apiUrl: deps.apiUrl } : {}),
      ...(gaps && gapContext ? { closedGaps: closedGapOutcomes(gaps.history, gapContext.segmentSize) } : {}),
    });
    const gapHistory = gaps ? gaps.history : stored.gaps;
    const tracked = gaps ? { gaps } : {};
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
    const theirs = Object.values(outbox)
      .map((entry) => (entry.claimedAt === null ? null : entry.claimedAt + claimTimeout))
      .filter((at): at is number => at !== null && at > now);
    const retryAt = theirs.length === 0 ? null : Math.min(...theirs);
    const sameGaps = gapHistory === undefined || sameGapHistory(stored.gaps ?? EMPTY_GAP_HISTORY, gapHistory);
    if (
      mine.length === 0 &&
      decided.notifications.length === 0 &&
      sameKeys(stored.open, decided.open) &&
      sameGaps
    ) {
      return { sent: [], publishFailures: 0, conflicts, retryAt, ...tracked };
    }
    for (const id of mine) outbox[id] = { ...(outbox[id] as OutboxEntry), claimedAt: now };
    const next = { open: decided.open, outbox, decidedAt: now, ...(gapHistory ? { gaps: gapHistory } : {}) };
    if (!(await deps.data.putAlertState(report.id, next, stored.ver))) {
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
    return { sent: transitions, publishFailures, conflicts, retryAt, ...tracked };
  }
  // Out of attempts: the next run decides again.
  return { sent: [], publishFailures: 0, conflicts, retryAt: now + 1 };
}

/** Removes published entries; idempotent, so a conflict only means re-reading and trying again. */
async function removeFromOutbox(data: MonitorData, clusterId: string, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const { ver, ...state } = await data.getAlertState(clusterId);
    const outbox = { ...state.outbox };
    for (const id of ids) delete outbox[id];
    // Everything else of the item (open alerts, decidedAt, the gap history) is written back as read.
    if (await data.putAlertState(clusterId, { ...state, outbox }, ver)) return;
  }
}

function sameKeys(a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  const left = Object.keys(a);
  return left.length === Object.keys(b).length && left.every((key) => key in b);
}

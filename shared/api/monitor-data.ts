/**
 * What the API and the sweeper need from a store: cluster states, gap acknowledgements, alert states and
 * restore drill records.
 * The DynamoDB store implements it for Lambda and for the local monitor (dynalite); tests may use
 * `createMemoryMonitorData`.
 */
import type { OpenAlerts } from '../core/alerts.js';
import type { DrillRecord } from '../core/drill.js';
import { DRILL_HISTORY } from '../core/drill-status.js';
import { type FleetCounts, matchesFleetFilter } from '../core/fleet-row.js';
import type { GapHistory } from '../core/gap-history.js';
import type { StoredSegmentSummary } from '../core/segment-summary.js';
import type { ClusterState } from '../core/state.js';
import {
  decodeFleetCursor,
  encodeFleetCursor,
  type FleetPage,
  type FleetQuery,
  type FleetRowWrite,
  fleetRowKey,
  fleetSortKey,
  MAX_FLEET_PAGE,
  type StoredFleetRow,
} from '../store/fleet-rows.js';

/** An operator's acknowledgement of a gap. */
export interface GapAcknowledgement {
  readonly reason: string;
  /** Who acknowledged it (IAM ARN on AWS, `local` on the local monitor). */
  readonly by: string;
  /** ISO 8601 time. */
  readonly at: string;
}

/** A cluster's alert bookkeeping: open alerts, and notifications decided but not yet confirmed sent. */
export interface AlertState {
  readonly open: OpenAlerts;
  /** Outbox: notifications decided but not yet confirmed sent, by id; removed once published. */
  readonly outbox: Record<string, OutboxEntry>;
  /**
   * Epoch ms of the sweep that decided `open` last. A sweep at an earlier time (a delayed shard, a clock
   * behind) decides nothing, so it cannot reopen what a later sweep resolved. Absent: never recorded.
   */
  readonly decidedAt?: number;
  /** The gaps tracked open and the closed ones (`gap-history.ts`), as of `decidedAt`. Absent: none yet. */
  readonly gaps?: GapHistory;
  /** Optimistic-locking version (0: never stored). */
  readonly ver: number;
}

/** A notification waiting to be sent; `claimedAt` marks the sweep run that is sending it. */
export interface OutboxEntry {
  readonly transition: 'opened' | 'escalated' | 'resolved';
  readonly subject: string;
  readonly body: string;
  readonly claimedAt: number | null;
}

/** What the sweeper reads of a cluster before analysing it, read for many clusters at once. */
export interface ClusterInputs {
  /** `undefined` when the cluster has no state (any more). */
  readonly state: ClusterState | undefined;
  readonly acknowledgements: Record<string, GapAcknowledgement>;
  readonly alertState: AlertState;
}

/** Store operations of the API and the sweeper. */
export interface MonitorData {
  listClusterIds(): Promise<string[]>;
  getClusterState(clusterId: string): Promise<ClusterState | undefined>;
  /**
   * The state, acknowledgements and alert state of each of these clusters, strongly consistent, in as few
   * requests as the store allows (DynamoDB: one `BatchGetItem` per 25 clusters); every id is in the map.
   */
  getClusterInputs(clusterIds: readonly string[]): Promise<Map<string, ClusterInputs>>;
  getAcknowledgements(clusterId: string): Promise<Record<string, GapAcknowledgement>>;
  /**
   * Records an acknowledgement unless the gap has one: the first acknowledgement is kept, never replaced.
   * Returns the acknowledgement stored, the given one or the earlier one.
   */
  acknowledgeGap(
    clusterId: string,
    gapId: string,
    acknowledgement: GapAcknowledgement,
  ): Promise<GapAcknowledgement>;
  /**
   * Applies what gap tracking decided about acknowledgements: withdraws those of closed gaps (each only if
   * it is still the one given, same `at`) and records those inherited by a gap that shrank or split (only
   * where the gap has none). Idempotent; marks nothing changed (the sweeper writes the row itself).
   */
  settleAcknowledgements(
    clusterId: string,
    change: {
      readonly withdrawn: Readonly<Record<string, GapAcknowledgement>>;
      readonly inherited: Readonly<Record<string, GapAcknowledgement>>;
    },
  ): Promise<void>;
  getAlertState(clusterId: string): Promise<AlertState>;
  /** Writes the alert state if its version is still `expectedVer`; false when another writer won. */
  putAlertState(clusterId: string, state: Omit<AlertState, 'ver'>, expectedVer: number): Promise<boolean>;
  /** What the content scan stored for a segment, if it read it. */
  getSegmentSummary(clusterId: string, walFile: string): Promise<StoredSegmentSummary | undefined>;
  /** A cluster's newest restore drills, newest first, at most `limit` (default: the whole kept history). */
  listDrills(clusterId: string, limit?: number): Promise<DrillRecord[]>;
  /** Stores a drill; the history keeps the newest `DRILL_HISTORY` per cluster. */
  putDrill(record: DrillRecord): Promise<void>;
  /** The fleet summary rows of these clusters (clusters without a row are left out). */
  getFleetRows(clusterIds: readonly string[]): Promise<Map<string, StoredFleetRow>>;
  /** The ids of every cluster with a listed row. */
  listFleetRowIds(): Promise<string[]>;
  /** Writes a cluster's row if its version is still `expectedVer` (0: none); false when another writer won. */
  putFleetRow(write: FleetRowWrite, expectedVer: number): Promise<boolean>;
  /** Deletes a cluster's row if its version is still `expectedVer`; false when another writer won. */
  deleteFleetRow(clusterId: string, expectedVer: number): Promise<boolean>;
  /** Marks that a cluster's state changed since its row was written (the sweeper re-analyses it). */
  markFleetRowChanged(clusterId: string): Promise<void>;
  /** One page of the fleet list, worst first. @throws {InvalidCursorError} */
  queryFleet(query: FleetQuery): Promise<FleetPage>;
  /** The counts per status the last sweep wrote. */
  getFleetCounts(): Promise<{ counts: FleetCounts; at: number } | undefined>;
  putFleetCounts(counts: FleetCounts, at: number): Promise<void>;
}

/** An in-memory `MonitorData` over a map of states (tests and quick experiments). */
export function createMemoryMonitorData(
  states: Map<string, ClusterState>,
  summaries: ReadonlyMap<string, StoredSegmentSummary> = new Map(),
): MonitorData {
  const acks = new Map<string, Record<string, GapAcknowledgement>>();
  const alerts = new Map<string, AlertState>();
  const drills = new Map<string, DrillRecord[]>();
  const rows = new Map<string, StoredFleetRow>();
  let fleetCounts: { counts: FleetCounts; at: number } | undefined;
  const markChanged = (id: string, drilled = false): void => {
    const stored = rows.get(id);
    rows.set(id, {
      clusterId: id,
      row: stored?.row ?? null,
      nextCheckAt: stored?.nextCheckAt ?? null,
      changed: true,
      drilled: drilled || (stored?.drilled ?? false),
      ver: (stored?.ver ?? 0) + 1,
    });
  };
  return {
    listClusterIds: async () => [...states.keys()].sort(),
    getClusterState: async (id) => states.get(id),
    getClusterInputs: async (ids) =>
      new Map(
        ids.map((id) => [
          id,
          {
            state: states.get(id),
            acknowledgements: { ...(acks.get(id) ?? {}) },
            alertState: alerts.get(id) ?? { open: {}, outbox: {}, ver: 0 },
          },
        ]),
      ),
    getAcknowledgements: async (id) => ({ ...(acks.get(id) ?? {}) }),
    acknowledgeGap: async (id, gapId, acknowledgement) => {
      const earlier = acks.get(id)?.[gapId];
      if (earlier) return earlier;
      acks.set(id, { ...(acks.get(id) ?? {}), [gapId]: acknowledgement });
      markChanged(id);
      return acknowledgement;
    },
    settleAcknowledgements: async (id, change) => {
      const kept = { ...(acks.get(id) ?? {}) };
      for (const [gapId, given] of Object.entries(change.withdrawn))
        if (kept[gapId]?.at === given.at) delete kept[gapId];
      for (const [gapId, given] of Object.entries(change.inherited)) kept[gapId] ??= given;
      acks.set(id, kept);
    },
    getAlertState: async (id) => alerts.get(id) ?? { open: {}, outbox: {}, ver: 0 },
    putAlertState: async (id, state, expectedVer) => {
      if ((alerts.get(id)?.ver ?? 0) !== expectedVer) return false;
      alerts.set(id, { ...state, ver: expectedVer + 1 });
      return true;
    },
    getSegmentSummary: async (id, walFile) => summaries.get(`${id}|${walFile}`),
    listDrills: async (id, limit = DRILL_HISTORY) => (drills.get(id) ?? []).slice(0, limit),
    putDrill: async (record) => {
      const kept = (drills.get(record.cluster) ?? []).filter(
        (drill) => Date.parse(drill.startedAt) !== Date.parse(record.startedAt),
      );
      kept.push(record);
      kept.sort((a, b) => Date.parse(b.startedAt) - Date.parse(a.startedAt));
      drills.set(record.cluster, kept.slice(0, DRILL_HISTORY));
      // A new drill changes the cluster's report: the sweeper re-analyses it, reading its drills.
      markChanged(record.cluster, true);
    },
    getFleetRows: async (ids) => {
      const found = new Map<string, StoredFleetRow>();
      for (const id of ids) {
        const stored = rows.get(id);
        if (stored) found.set(id, stored);
      }
      return found;
    },
    listFleetRowIds: async () => [...rows.values()].filter((r) => r.row !== null).map((r) => r.clusterId),
    putFleetRow: async (write, expectedVer) => {
      if ((rows.get(write.row.id)?.ver ?? 0) !== expectedVer) return false;
      const drilled = rows.get(write.row.id)?.drilled ?? false;
      rows.set(write.row.id, { clusterId: write.row.id, ...write, drilled, ver: expectedVer + 1 });
      return true;
    },
    deleteFleetRow: async (id, expectedVer) => {
      if ((rows.get(id)?.ver ?? 0) !== expectedVer) return false;
      rows.delete(id);
      return true;
    },
    markFleetRowChanged: async (id) => markChanged(id),
    queryFleet: async (query) => {
      const limit = Math.max(1, Math.min(MAX_FLEET_PAGE, Math.floor(query.limit)));
      const after = query.cursor ? decodeFleetCursor(query.cursor) : undefined;
      const ordered = [...rows.values()]
        .flatMap((stored) =>
          stored.row
            ? [{ row: stored.row, gn: fleetSortKey(stored.row), pk: fleetRowKey(stored.clusterId) }]
            : [],
        )
        .sort((a, b) => compare(a.gn, b.gn) || compare(a.pk, b.pk))
        .filter(
          (entry) =>
            !after ||
            compare(entry.gn, after.gn) > 0 ||
            (entry.gn === after.gn && compare(entry.pk, after.pk) > 0),
        )
        .filter((entry) => matchesFleetFilter(entry.row, query));
      const page = ordered.slice(0, limit);
      const last = page[page.length - 1];
      return {
        rows: page.map((entry) => entry.row),
        cursor: ordered.length > limit && last ? encodeFleetCursor(last) : null,
      };
    },
    getFleetCounts: async () => fleetCounts,
    putFleetCounts: async (counts, at) => {
      fleetCounts = { counts, at };
    },
  };
}

/** String order of the keys (the same as DynamoDB's UTF-8 byte order outside surrogate pairs). */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

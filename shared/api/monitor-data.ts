/**
 * What the API and the sweeper need from a store: cluster states, gap acknowledgements and alert states.
 * The DynamoDB store implements it for Lambda and for the local monitor (dynalite); tests may use
 * `createMemoryMonitorData`.
 */
import type { OpenAlerts } from '../core/alerts.js';
import type { StoredSegmentSummary } from '../core/segment-summary.js';
import type { ClusterState } from '../core/state.js';

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

/** Store operations of the API and the sweeper. */
export interface MonitorData {
  listClusterIds(): Promise<string[]>;
  getClusterState(clusterId: string): Promise<ClusterState | undefined>;
  getAcknowledgements(clusterId: string): Promise<Record<string, GapAcknowledgement>>;
  acknowledgeGap(clusterId: string, gapId: string, acknowledgement: GapAcknowledgement): Promise<void>;
  getAlertState(clusterId: string): Promise<AlertState>;
  /** Writes the alert state if its version is still `expectedVer`; false when another writer won. */
  putAlertState(clusterId: string, state: Omit<AlertState, 'ver'>, expectedVer: number): Promise<boolean>;
  /** What the content scan stored for a segment, if it read it. */
  getSegmentSummary(
    clusterId: string,
    timeline: number,
    segno: number,
  ): Promise<StoredSegmentSummary | undefined>;
}

/** An in-memory `MonitorData` over a map of states (tests and quick experiments). */
export function createMemoryMonitorData(
  states: Map<string, ClusterState>,
  summaries: ReadonlyMap<string, StoredSegmentSummary> = new Map(),
): MonitorData {
  const acks = new Map<string, Record<string, GapAcknowledgement>>();
  const alerts = new Map<string, AlertState>();
  return {
    listClusterIds: async () => [...states.keys()].sort(),
    getClusterState: async (id) => states.get(id),
    getAcknowledgements: async (id) => ({ ...(acks.get(id) ?? {}) }),
    acknowledgeGap: async (id, gapId, acknowledgement) => {
      acks.set(id, { ...(acks.get(id) ?? {}), [gapId]: acknowledgement });
    },
    getAlertState: async (id) => alerts.get(id) ?? { open: {}, outbox: {}, ver: 0 },
    putAlertState: async (id, state, expectedVer) => {
      if ((alerts.get(id)?.ver ?? 0) !== expectedVer) return false;
      alerts.set(id, { ...state, ver: expectedVer + 1 });
      return true;
    },
    getSegmentSummary: async (id, timeline, segno) => summaries.get(`${id}|${timeline}:${segno}`),
  };
}

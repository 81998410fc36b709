/**
 * The API's and the sweeper's items in the walwatch table, beside the pipeline's facts and states:
 *
 * | item | `pk` | holds |
 * |---|---|---|
 * | acknowledgements | `k#<cluster>` | `acks`: gap id → `{ reason, by, at }` |
 * | alert state | `a#<cluster>` | `open` alerts, the notification `outbox`, `decidedAt`, `ver`, gap history (`go`, `gh`) |
 *
 * The gap history is stored as lists of numbers and one-letter codes (`encodeGapHistory`): at most 200 open
 * and 50 closed gaps of about 40 bytes each, plus the reasons of closed acknowledgements (cut to 280
 * characters), about 60 KB at the very worst, far below DynamoDB's 400 KB.
 *
 * `createDynamoMonitorData` puts them together with the cluster states and the drill records
 * (`drill-items.ts`) into the API's `MonitorData`.
 */
import {
  BatchGetCommand,
  type BatchGetCommandOutput,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { AlertState, ClusterInputs, GapAcknowledgement, MonitorData } from '../api/monitor-data.js';
import type {
  ClosedGapRecord,
  GapHistory,
  GapOutcome,
  GapWorstStatus,
  OpenGapRecord,
} from '../core/gap-history.js';
import { decodeClusterState, getClusterState, listClusterIds } from './cluster-states.js';
import { listDrillRecords, putDrillRecord } from './drill-items.js';
import {
  InconsistentStateError,
  isConditionFailure,
  StoreAccessError,
  translateStoreError,
} from './errors.js';
import {
  deleteFleetRow,
  getFleetCounts,
  getFleetRows,
  listFleetRowIds,
  markFleetRowChanged,
  putFleetCounts,
  putFleetRow,
  queryFleetPage,
} from './fleet-rows.js';
import { getSegmentSummary } from './segment-summaries.js';
import { clusterBackupsKey, clusterStateKey } from './table.js';

/** Partition key of a cluster's gap acknowledgements. */
export function acknowledgementsKey(clusterId: string): string {
  return `k#${clusterId}`;
}

/** Partition key of a cluster's alert state. */
export function alertStateKey(clusterId: string): string {
  return `a#${clusterId}`;
}

/** The `MonitorData` of a DynamoDB table. */
export function createDynamoMonitorData(db: DynamoDBDocumentClient, table: string): MonitorData {
  return {
    getSegmentSummary: (clusterId, walFile) => getSegmentSummary(db, table, clusterId, walFile),
    listClusterIds: () => listClusterIds(db, table),
    listDrills: (clusterId, limit) => listDrillRecords(db, table, clusterId, limit),
    putDrill: async (record) => {
      await putDrillRecord(db, table, record);
      // A new drill changes the cluster's report: the sweeper re-analyses it, reading its drills.
      await markFleetRowChanged(db, table, record.cluster, { drill: true });
    },
    getFleetRows: (ids) => getFleetRows(db, table, ids),
    listFleetRowIds: () => listFleetRowIds(db, table),
    putFleetRow: (write, expectedVer) => putFleetRow(db, table, write, expectedVer),
    deleteFleetRow: (id, expectedVer) => deleteFleetRow(db, table, id, expectedVer),
    markFleetRowChanged: (id) => markFleetRowChanged(db, table, id),
    queryFleet: (query) => queryFleetPage(db, table, query),
    getFleetCounts: () => getFleetCounts(db, table),
    putFleetCounts: (counts, at) => putFleetCounts(db, table, counts, at),
    getClusterState: async (clusterId) => (await getClusterState(db, table, clusterId))?.state,
    getClusterInputs: (clusterIds) => getClusterInputs(db, table, clusterIds),
    getAcknowledgements: async (clusterId) =>
      decodeAcknowledgements(await getItem(db, table, acknowledgementsKey(clusterId), 'acknowledgements')),
    acknowledgeGap: async (clusterId, gapId, acknowledgement) => {
      try {
        // One attribute per gap inside a map: concurrent acknowledgements of different gaps both land.
        await db.send(
          new UpdateCommand({
            TableName: table,
            Key: { pk: acknowledgementsKey(clusterId) },
            UpdateExpression: 'SET acks = if_not_exists(acks, :empty)',
            ExpressionAttributeValues: { ':empty': {} },
          }),
        );
        await db.send(
          new UpdateCommand({
            TableName: table,
            Key: { pk: acknowledgementsKey(clusterId) },
            UpdateExpression: 'SET acks.#gap = :ack',
            // The first acknowledgement of a gap stays: a second one must not rewrite its reason.
            ConditionExpression: 'attribute_not_exists(acks.#gap)',
            ExpressionAttributeNames: { '#gap': gapId },
            ExpressionAttributeValues: { ':ack': acknowledgement },
          }),
        );
      } catch (error) {
        if (!isConditionFailure(error)) throw translateStoreError('UpdateItem (acknowledgement)', error);
        // A second acknowledgement of the gap: the first stays, and the row already knows of it.
        const item = await getItem(db, table, acknowledgementsKey(clusterId), 'acknowledgements');
        const earlier = (item?.acks as Record<string, GapAcknowledgement> | undefined)?.[gapId];
        if (!earlier)
          throw new InconsistentStateError(
            `acknowledgement of ${gapId} in ${clusterId} vanished after a conflict`,
          );
        return earlier;
      }
      // An acknowledged gap stops alerting: the sweeper re-analyses the cluster.
      await markFleetRowChanged(db, table, clusterId);
      return acknowledgement;
    },
    settleAcknowledgements: async (clusterId, change) => {
      const withdrawn = Object.entries(change.withdrawn);
      const inherited = Object.entries(change.inherited);
      if (withdrawn.length === 0 && inherited.length === 0) return;
      const key = { pk: acknowledgementsKey(clusterId) };
      try {
        for (const [gapId, given] of withdrawn) {
          try {
            await db.send(
              new UpdateCommand({
                TableName: table,
                Key: key,
                UpdateExpression: 'REMOVE acks.#gap',
                // A newer acknowledgement of a re-opened gap with the same id stays.
                ConditionExpression: 'acks.#gap.#at = :at',
                ExpressionAttributeNames: { '#gap': gapId, '#at': 'at' },
                ExpressionAttributeValues: { ':at': given.at },
              }),
            );
          } catch (error) {
            if (!isConditionFailure(error)) throw error;
          }
        }
        if (inherited.length > 0)
          await db.send(
            new UpdateCommand({
              TableName: table,
              Key: key,
              UpdateExpression: 'SET acks = if_not_exists(acks, :empty)',
              ExpressionAttributeValues: { ':empty': {} },
            }),
          );
        for (const [gapId, given] of inherited) {
          try {
            await db.send(
              new UpdateCommand({
                TableName: table,
                Key: key,
                UpdateExpression: 'SET acks.#gap = :ack',
                ConditionExpression: 'attribute_not_exists(acks.#gap)',
                ExpressionAttributeNames: { '#gap': gapId },
                ExpressionAttributeValues: { ':ack': given },
              }),
            );
          } catch (error) {
            if (!isConditionFailure(error)) throw error;
          }
        }
      } catch (error) {
        throw translateStoreError('UpdateItem (acknowledgements)', error);
      }
    },
    getAlertState: async (clusterId) =>
      decodeAlertState(await getItem(db, table, alertStateKey(clusterId), 'alert state')),
    putAlertState: async (clusterId, state, expectedVer) => {
      try {
        await db.send(
          new PutCommand({
            TableName: table,
            Item: {
              pk: alertStateKey(clusterId),
              open: state.open,
              outbox: state.outbox,
              ...(state.decidedAt === undefined ? {} : { decidedAt: state.decidedAt }),
              ...(state.gaps === undefined ? {} : encodeGapHistory(state.gaps)),
              ver: expectedVer + 1,
            },
            ...(expectedVer === 0
              ? { ConditionExpression: 'attribute_not_exists(pk)' }
              : { ConditionExpression: 'ver = :ver', ExpressionAttributeValues: { ':ver': expectedVer } }),
          }),
        );
        return true;
      } catch (error) {
        if (isConditionFailure(error)) return false;
        throw translateStoreError('PutItem (alert state)', error);
      }
    },
  };
}

async function getItem(
  db: DynamoDBDocumentClient,
  table: string,
  pk: string,
  what: string,
): Promise<Record<string, unknown> | undefined> {
  try {
    return (await db.send(new GetCommand({ TableName: table, Key: { pk }, ConsistentRead: true }))).Item;
  } catch (error) {
    throw translateStoreError(`GetItem (${what})`, error);
  }
}

function decodeAcknowledgements(
  item: Record<string, unknown> | undefined,
): Record<string, GapAcknowledgement> {
  return (item?.acks as Record<string, GapAcknowledgement> | undefined) ?? {};
}

function decodeAlertState(item: Record<string, unknown> | undefined): AlertState {
  if (!item) return { open: {}, outbox: {}, ver: 0 };
  return {
    open: (item.open as AlertState['open'] | undefined) ?? {},
    outbox: (item.outbox as AlertState['outbox'] | undefined) ?? {},
    ...(typeof item.decidedAt === 'number' ? { decidedAt: item.decidedAt } : {}),
    ...(Array.isArray(item.go) || Array.isArray(item.gh) ? { gaps: decodeGapHistory(item) } : {}),
    ver: item.ver as number,
  };
}

const STATUS_CODE: Record<GapWorstStatus, string> = { pending: 'p', lost: 'l', acknowledged: 'a' };
const STATUS_OF: Record<string, GapWorstStatus> = { p: 'pending', l: 'lost', a: 'acknowledged' };
const OUTCOME_CODE: Record<GapOutcome, string> = { filled: 'f', 'out-of-range': 'r' };

type OpenTuple = [number, number, number, number, string, string];
type ClosedTuple = [...OpenTuple, number, string, ...([] | [string, string, string])];

/**
 * The gap history as the item stores it: `go` lists open gaps as
 * `[timeline, firstSegno, lastSegno, firstSeenAt, status p|l|a, severity w|c]`, `gh` the closed ones with
 * `closedAt`, the outcome (`f` filled, `r` out of range) and, when acknowledged, `reason, by, at`.
 */
export function encodeGapHistory(history: GapHistory): { go: OpenTuple[]; gh: ClosedTuple[] } {
  const open = (r: OpenGapRecord): OpenTuple => [
    r.timeline,
    r.firstSegno,
    r.lastSegno,
    r.firstSeenAt,
    STATUS_CODE[r.worstStatus],
    r.severity === 'critical' ? 'c' : 'w',
  ];
  return {
    go: history.open.map(open),
    gh: history.closed.map((r): ClosedTuple => {
      const ack = r.acknowledgement;
      return [
        ...open(r),
        r.closedAt,
        OUTCOME_CODE[r.outcome],
        ...(ack ? ([ack.reason, ack.by, ack.at] as [string, string, string]) : ([] as [])),
      ];
    }),
  };
}

/** Reads what `encodeGapHistory` stored. */
export function decodeGapHistory(item: Record<string, unknown>): GapHistory {
  const open = (t: readonly unknown[]): OpenGapRecord => ({
    timeline: t[0] as number,
    firstSegno: t[1] as number,
    lastSegno: t[2] as number,
    firstSeenAt: t[3] as number,
    worstStatus: STATUS_OF[t[4] as string] ?? 'lost',
    severity: t[5] === 'c' ? 'critical' : 'warning',
  });
  return {
    open: ((item.go as unknown[][] | undefined) ?? []).map(open),
    closed: ((item.gh as unknown[][] | undefined) ?? []).map(
      (t): ClosedGapRecord => ({
        ...open(t),
        closedAt: t[6] as number,
        outcome: t[7] === 'f' ? 'filled' : 'out-of-range',
        ...(t.length >= 11
          ? { acknowledgement: { reason: t[8] as string, by: t[9] as string, at: t[10] as string } }
          : {}),
      }),
    ),
  };
}

/** Items a cluster's inputs take: state, backups, acknowledgements, alert state. */
const INPUT_ITEMS = 4;
/** `BatchGetItem` reads at most 100 items a request. */
const BATCH_GET_MAX = 100;

/**
 * `MonitorData.getClusterInputs`: the four items of each cluster by consistent `BatchGetItem`s of 100 keys
 * (25 clusters), sent one after another; keys handed back unprocessed are asked for again with back-off.
 * Items up to 16 MB per request: 25 states of up to 390 KB compressed each could pass that, in which case
 * DynamoDB returns the rest unprocessed and they are read by the next request.
 */
async function getClusterInputs(
  db: DynamoDBDocumentClient,
  table: string,
  clusterIds: readonly string[],
): Promise<Map<string, ClusterInputs>> {
  const unique = [...new Set(clusterIds)];
  const items = new Map<string, Record<string, unknown>>();
  const perRequest = BATCH_GET_MAX / INPUT_ITEMS;
  for (let start = 0; start < unique.length; start += perRequest) {
    let keys = unique
      .slice(start, start + perRequest)
      .flatMap((id) => [
        clusterStateKey(id),
        clusterBackupsKey(id),
        acknowledgementsKey(id),
        alertStateKey(id),
      ])
      .map((pk) => ({ pk }));
    for (let attempt = 0; keys.length > 0; attempt++) {
      if (attempt >= 8)
        throw new StoreAccessError(
          `BatchGetItem left ${keys.length} cluster items unprocessed after 8 attempts`,
        );
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 2 ** attempt * 10));
      let response: BatchGetCommandOutput;
      try {
        response = await db.send(
          new BatchGetCommand({ RequestItems: { [table]: { Keys: keys, ConsistentRead: true } } }),
        );
      } catch (error) {
        throw translateStoreError('BatchGetItem (cluster inputs)', error);
      }
      for (const item of response.Responses?.[table] ?? []) items.set(item.pk as string, item);
      keys = (response.UnprocessedKeys?.[table]?.Keys as { pk: string }[] | undefined) ?? [];
    }
  }
  const inputs = new Map<string, ClusterInputs>();
  for (const id of unique) {
    inputs.set(id, {
      state: decodeClusterState(id, items.get(clusterStateKey(id)), items.get(clusterBackupsKey(id)))?.state,
      acknowledgements: decodeAcknowledgements(items.get(acknowledgementsKey(id))),
      alertState: decodeAlertState(items.get(alertStateKey(id))),
    });
  }
  return inputs;
}

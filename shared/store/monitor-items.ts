/**
 * The API's and the sweeper's items in the walwatch table, beside the pipeline's facts and states:
 *
 * | item | `pk` | holds |
 * |---|---|---|
 * | acknowledgements | `k#<cluster>` | `acks`: gap id → `{ reason, by, at }` |
 * | alert state | `a#<cluster>` | `open` alerts, the notification `outbox`, `decidedAt`, `ver` |
 *
 * `createDynamoMonitorData` puts them together with the cluster states and the drill records
 * (`drill-items.ts`) into the API's `MonitorData`.
 */
import { type DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { AlertState, GapAcknowledgement, MonitorData } from '../api/monitor-data.js';
import { getClusterState, listClusterIds } from './cluster-states.js';
import { listDrillRecords, putDrillRecord } from './drill-items.js';
import { InconsistentStateError, isConditionFailure, translateStoreError } from './errors.js';
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
      // A new drill changes the cluster's report: the sweeper re-analyses it.
      await markFleetRowChanged(db, table, record.cluster);
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
    getAcknowledgements: async (clusterId) => {
      const item = await getItem(db, table, acknowledgementsKey(clusterId), 'acknowledgements');
      return (item?.acks as Record<string, GapAcknowledgement> | undefined) ?? {};
    },
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
    getAlertState: async (clusterId) => {
      const item = await getItem(db, table, alertStateKey(clusterId), 'alert state');
      if (!item) return { open: {}, outbox: {}, ver: 0 };
      return {
        open: (item.open as AlertState['open'] | undefined) ?? {},
        outbox: (item.outbox as AlertState['outbox'] | undefined) ?? {},
        ...(typeof item.decidedAt === 'number' ? { decidedAt: item.decidedAt } : {}),
        ver: item.ver as number,
      };
    },
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

/**
 * Cluster state items: the `ClusterState` of one cluster as gzip-compressed JSON, written with optimistic
 * locking, and the list of clusters through the sparse index.
 *
 * One item answers "latest recoverable point", "gaps", "backups" and "timelines": the analysis needs the
 * state only. Compression keeps large archives far below the 400 KB item limit (segments are runs, so the
 * size grows with holes, backups and backup parts, not with segments); a state that would still not fit
 * fails loudly with `StateTooLargeError` instead of being cut.
 */
import { gunzipSync, gzipSync } from 'node:zlib';
import { type DynamoDBDocumentClient, GetCommand, PutCommand, paginateQuery } from '@aws-sdk/lib-dynamodb';
import type { ClusterState } from '../core/state.js';
import { isConditionFailure, StateTooLargeError, translateStoreError } from './errors.js';
import { CLUSTER_INDEX, CLUSTERS_PARTITION, clusterStateKey, parseClusterStateKey } from './table.js';

/** A cluster state and the version it was read at (0: not stored yet). */
export interface VersionedState {
  readonly state: ClusterState;
  readonly ver: number;
}

/** Room left for the key and the other attributes below DynamoDB's 400 KB item limit. */
export const MAX_STATE_BYTES = 390 * 1024;

/** Reads a cluster's state (strongly consistent); `undefined` when the cluster has none yet. */
export async function getClusterState(
  db: DynamoDBDocumentClient,
  table: string,
  clusterId: string,
): Promise<VersionedState | undefined> {
  let item: Record<string, unknown> | undefined;
  try {
    const response = await db.send(
      new GetCommand({
        TableName: table,
        Key: { pk: clusterStateKey(clusterId) },
        ConsistentRead: true,
        ReturnConsumedCapacity: 'TOTAL',
      }),
    );
    item = response.Item;
  } catch (error) {
    throw translateStoreError('GetItem (cluster state)', error);
  }
  if (!item) return undefined;
  const state = JSON.parse(gunzipSync(item.state as Uint8Array).toString('utf8')) as ClusterState;
  return { state, ver: item.ver as number };
}

/** Serialises a state as stored. */
export function encodeClusterState(state: ClusterState): Uint8Array {
  return gzipSync(JSON.stringify(state), { level: 6 });
}

/**
 * Writes a cluster's state if its stored version is still `ver` (absent when 0), as `ver + 1`.
 * Returns `conflict` when another writer got there first.
 *
 * @throws {StateTooLargeError} when the compressed state exceeds `MAX_STATE_BYTES`
 */
export async function putClusterState(
  db: DynamoDBDocumentClient,
  table: string,
  state: ClusterState,
  ver: number,
): Promise<'written' | 'conflict'> {
  const body = encodeClusterState(state);
  if (body.byteLength > MAX_STATE_BYTES) {
    throw new StateTooLargeError(
      `state of cluster ${JSON.stringify(state.id)} is ${body.byteLength} bytes compressed, above ${MAX_STATE_BYTES}`,
    );
  }
  const pk = clusterStateKey(state.id);
  try {
    await db.send(
      new PutCommand({
        TableName: table,
        Item: { pk, ver: ver + 1, state: body, gc: CLUSTERS_PARTITION, gn: pk },
        ...(ver === 0
          ? { ConditionExpression: 'attribute_not_exists(pk)' }
          : { ConditionExpression: 'ver = :ver', ExpressionAttributeValues: { ':ver': ver } }),
        ReturnConsumedCapacity: 'TOTAL',
      }),
    );
    return 'written';
  } catch (error) {
    if (isConditionFailure(error)) return 'conflict';
    throw translateStoreError('PutItem (cluster state)', error);
  }
}

/** Lists the ids of every cluster with a stored state, through the sparse index. */
export async function listClusterIds(db: DynamoDBDocumentClient, table: string): Promise<string[]> {
  const ids: string[] = [];
  try {
    const pages = paginateQuery(
      { client: db },
      {
        TableName: table,
        IndexName: CLUSTER_INDEX,
        KeyConditionExpression: 'gc = :gc',
        ExpressionAttributeValues: { ':gc': CLUSTERS_PARTITION },
      },
    );
    for await (const page of pages)
      for (const item of page.Items ?? []) ids.push(parseClusterStateKey(item.gn));
  } catch (error) {
    throw translateStoreError('Query (clusters)', error);
  }
  return ids;
}

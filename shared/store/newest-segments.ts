/**
 * The newest present segments of a cluster, from the sparse index: one Query, descending, a few items.
 */
import { type DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { translateStoreError } from './errors.js';
import { CLUSTER_INDEX, newestPartition, parseNewestSortKey } from './table.js';

/** A segment the index lists as present, by WAL file name, with its stored-at time and its fact item's pk. */
export interface IndexedSegment {
  readonly pk: string;
  readonly walFile: string;
  readonly at: number;
}

/**
 * Lists up to `limit` present segments of a cluster, newest first (by stored-at, then name). The index is eventually consistent: callers confirm candidates against the fact items.
 */
export async function queryNewestSegments(
  db: DynamoDBDocumentClient,
  table: string,
  clusterId: string,
  limit: number,
): Promise<IndexedSegment[]> {
  try {
    const response = await db.send(
      new QueryCommand({
        TableName: table,
        IndexName: CLUSTER_INDEX,
        KeyConditionExpression: 'gc = :gc',
        ExpressionAttributeValues: { ':gc': newestPartition(clusterId) },
        ScanIndexForward: false,
        Limit: limit,
        ReturnConsumedCapacity: 'TOTAL',
      }),
    );
    return (response.Items ?? []).map((item) => ({ pk: item.pk as string, ...parseNewestSortKey(item.gn) }));
  } catch (error) {
    throw translateStoreError('Query (newest segments)', error);
  }
}

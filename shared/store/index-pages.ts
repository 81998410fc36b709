/**
 * Reads one partition of the table's sparse cluster index (`CLUSTER_INDEX`, partition `gc`, sort `gn`),
 * page by page. SDK errors are translated here.
 */
import { type DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { translateStoreError } from './errors.js';
import { CLUSTER_INDEX } from './table.js';

/** Options of {@link queryIndexPartition}. */
export interface IndexPartitionQuery {
  /** The index partition (`gc`), e.g. `d#<cluster>`. */
  readonly partition: string;
  /** The operation named in a `StoreAccessError`, e.g. `Query (drills)`. */
  readonly operation: string;
  /** Newest (highest `gn`) first. @default false */
  readonly descending?: boolean;
  /** Stop after this many items. @default all of them */
  readonly limit?: number;
}

/**
 * Yields the index items of a partition in sort-key order, fetching the next page only when the caller
 * reads past the current one. Failures throw `StoreAccessError`.
 *
 * @example
 * for await (const item of queryIndexPartition(db, table, { partition: 'd#spilo/demo/wal/15', operation: 'Query (drills)' }))
 *   console.log(item.pk);
 */
export async function* queryIndexPartition(
  db: DynamoDBDocumentClient,
  table: string,
  query: IndexPartitionQuery,
): AsyncGenerator<Record<string, unknown>> {
  const limit = query.limit ?? Number.POSITIVE_INFINITY;
  let read = 0;
  let start: Record<string, unknown> | undefined;
  do {
    let page: { Items?: Array<Record<string, unknown>>; LastEvaluatedKey?: Record<string, unknown> };
    try {
      page = await db.send(
        new QueryCommand({
          TableName: table,
          IndexName: CLUSTER_INDEX,
          KeyConditionExpression: 'gc = :partition',
          ExpressionAttributeValues: { ':partition': query.partition },
          ...(query.descending ? { ScanIndexForward: false } : {}),
          ...(Number.isFinite(limit) ? { Limit: limit - read } : {}),
          ...(start ? { ExclusiveStartKey: start } : {}),
        }),
      );
    } catch (error) {
      throw translateStoreError(query.operation, error);
    }
    for (const item of page.Items ?? []) {
      read += 1;
      yield item;
    }
    start = page.LastEvaluatedKey;
  } while (start && read < limit);
}

/**
 * Segment summaries: what reading each archived segment found (`w#…` items), and per cluster how far the
 * content scan has come (`r#…`, a position in the cluster's segments in (timeline, segno) order).
 *
 * | item | `pk` | attributes |
 * |---|---|---|
 * | segment summary | `w#<WAL file name>#<cluster>` | `key`, `etag` and `objectAt` (stored-at) of the object read, `readAt`, `summary` (`SegmentSummary`), `defect` |
 * | scan cursor | `r#<cluster>` | `ScanCursor`: the last segment handled, the pass start, `ver` |
 *
 * A summary is written whole and unconditionally: the same object always yields the same summary, and a
 * replaced object (another ETag) is simply read again.
 */
import {
  BatchGetCommand,
  type BatchGetCommandOutput,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
} from '@aws-sdk/lib-dynamodb';
import type { StoredSegmentSummary } from '../core/segment-summary.js';
import { isConditionFailure, StoreAccessError, translateStoreError } from './errors.js';
import { scanCursorKey, segmentSummaryKey } from './table.js';

export type { StoredSegmentSummary } from '../core/segment-summary.js';

/**
 * Where the content scan stands in a cluster: the last segment it handled, in (timeline, segno) order, and
 * when its current pass over the whole archive began.
 */
export interface ScanCursor {
  readonly timeline: number;
  readonly segno: number;
  readonly passStartedAt: number;
  readonly ver: number;
}

/** Where a cluster's first pass starts. */
export const START_CURSOR: ScanCursor = { timeline: 0, segno: -1, passStartedAt: 0, ver: 0 };

/** Reads one segment's summary (consistent). */
export async function getSegmentSummary(
  db: DynamoDBDocumentClient,
  table: string,
  clusterId: string,
  walFile: string,
): Promise<StoredSegmentSummary | undefined> {
  try {
    const response = await db.send(
      new GetCommand({
        TableName: table,
        Key: { pk: segmentSummaryKey(clusterId, walFile) },
        ConsistentRead: true,
      }),
    );
    if (!response.Item) return undefined;
    const { pk: _pk, ...stored } = response.Item;
    return stored as StoredSegmentSummary;
  } catch (error) {
    throw translateStoreError('GetItem (segment summary)', error);
  }
}

/** Stores the summary of the segment named `walFile`, replacing any earlier one. */
export async function putSegmentSummary(
  db: DynamoDBDocumentClient,
  table: string,
  walFile: string,
  stored: StoredSegmentSummary,
): Promise<void> {
  try {
    await db.send(
      new PutCommand({
        TableName: table,
        Item: { pk: segmentSummaryKey(stored.clusterId, walFile), ...stored },
      }),
    );
  } catch (error) {
    throw translateStoreError('PutItem (segment summary)', error);
  }
}

/** The cluster's scan cursor; {@link START_CURSOR} for a cluster never scanned. */
export async function getScanCursor(
  db: DynamoDBDocumentClient,
  table: string,
  clusterId: string,
): Promise<ScanCursor> {
  try {
    const response = await db.send(
      new GetCommand({ TableName: table, Key: { pk: scanCursorKey(clusterId) }, ConsistentRead: true }),
    );
    if (!response.Item) return START_CURSOR;
    const { pk: _pk, ...cursor } = response.Item;
    return cursor as ScanCursor;
  } catch (error) {
    throw translateStoreError('GetItem (scan cursor)', error);
  }
}

/** Stores the cursor if nobody moved it since `read` was read; `conflict` otherwise. */
export async function putScanCursor(
  db: DynamoDBDocumentClient,
  table: string,
  clusterId: string,
  read: ScanCursor,
  next: Omit<ScanCursor, 'ver'>,
): Promise<'written' | 'conflict'> {
  try {
    await db.send(
      new PutCommand({
        TableName: table,
        Item: { pk: scanCursorKey(clusterId), ...next, ver: read.ver + 1 },
        ...(read.ver === 0
          ? { ConditionExpression: 'attribute_not_exists(pk)' }
          : { ConditionExpression: 'ver = :ver', ExpressionAttributeValues: { ':ver': read.ver } }),
      }),
    );
    return 'written';
  } catch (error) {
    if (isConditionFailure(error)) return 'conflict';
    throw translateStoreError('PutItem (scan cursor)', error);
  }
}

/**
 * Which of the given segments (by WAL file name) have a summary, and of which ETag (eventually consistent
 * reads); the map is keyed by WAL file name.
 */
export async function summarizedSegments(
  db: DynamoDBDocumentClient,
  table: string,
  clusterId: string,
  walFiles: readonly string[],
): Promise<Map<string, { etag: string | null; key: string; objectAt: number | undefined }>> {
  const prefix = 'w#'.length;
  const found = new Map<string, { etag: string | null; key: string; objectAt: number | undefined }>();
  for (let start = 0; start < walFiles.length; start += 100) {
    let keys: Array<Record<string, unknown>> = walFiles
      .slice(start, start + 100)
      .map((walFile) => ({ pk: segmentSummaryKey(clusterId, walFile) }));
    for (let attempt = 0; keys.length > 0; attempt++) {
      if (attempt >= 8) throw new StoreAccessError(`BatchGetItem left ${keys.length} summaries unprocessed`);
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 50 * 2 ** attempt));
      let response: BatchGetCommandOutput;
      try {
        response = await db.send(
          new BatchGetCommand({
            RequestItems: { [table]: { Keys: keys } },
          }),
        );
      } catch (error) {
        throw translateStoreError('BatchGetItem (segment summaries)', error);
      }
      for (const item of response.Responses?.[table] ?? [])
        found.set((item.pk as string).slice(prefix, prefix + 24), {
          etag: (item.etag as string | null) ?? null,
          key: item.key as string,
          objectAt: item.objectAt as number | undefined,
        });
      keys = response.UnprocessedKeys?.[table]?.Keys ?? [];
    }
  }
  return found;
}

/**
 * Restore drill records in the walwatch table, one item per drill:
 *
 * | item | `pk` | index `gc` / `gn` | holds |
 * |---|---|---|---|
 * | drill | `d#<started-at 15 digits>#<cluster>` | `d#<cluster>` / `<started-at 15 digits>` | `drill`: the `DrillRecord` |
 *
 * The sparse index lists a cluster's drills newest first in one Query; the history is bounded: writing a
 * drill deletes the ones beyond the newest `keep` (`DRILL_HISTORY`, 30). The PostgreSQL log tail and the
 * reason are cut to their last few KiB so an item stays far below DynamoDB's 400 KB limit.
 */
import {
  BatchGetCommand,
  type BatchGetCommandOutput,
  DeleteCommand,
  type DynamoDBDocumentClient,
  PutCommand,
} from '@aws-sdk/lib-dynamodb';
import type { DrillRecord } from '../core/drill.js';
import { DRILL_HISTORY } from '../core/drill-status.js';
import { translateStoreError } from './errors.js';
import { queryIndexPartition } from './index-pages.js';

/** Longest log tail kept in an item, in characters (its end is kept). */
export const MAX_STORED_LOG_TAIL = 8192;
const MAX_STORED_TEXT = 2048;

/** The index partition of a cluster's drills. */
export function drillPartition(clusterId: string): string {
  return `d#${clusterId}`;
}

/** The index sort key of a drill: its start time in epoch ms, 15 digits. */
export function drillSortKey(startedAt: string): string {
  const ms = Date.parse(startedAt);
  if (!Number.isFinite(ms)) throw new RangeError(`a drill's startedAt must be an ISO time, got ${startedAt}`);
  return String(Math.max(0, ms)).padStart(15, '0');
}

/** Partition key of one drill's item. */
export function drillKey(clusterId: string, startedAt: string): string {
  return `d#${drillSortKey(startedAt)}#${clusterId}`;
}

/**
 * Stores a drill and deletes the cluster's drills beyond the newest `keep`. A second record with the same
 * cluster and start time replaces the first.
 */
export async function putDrillRecord(
  db: DynamoDBDocumentClient,
  table: string,
  record: DrillRecord,
  keep: number = DRILL_HISTORY,
): Promise<void> {
  const stored: DrillRecord = {
    ...record,
    logTail: tail(record.logTail, MAX_STORED_LOG_TAIL),
    reason: tail(record.reason, MAX_STORED_TEXT),
    checkResult: tail(record.checkResult, MAX_STORED_TEXT),
  };
  try {
    await db.send(
      new PutCommand({
        TableName: table,
        Item: {
          pk: drillKey(record.cluster, record.startedAt),
          gc: drillPartition(record.cluster),
          gn: drillSortKey(record.startedAt),
          drill: stored,
        },
      }),
    );
  } catch (error) {
    throw translateStoreError('PutItem (drill)', error);
  }
  const keys = await listDrillKeys(db, table, record.cluster, Number.POSITIVE_INFINITY);
  for (const pk of keys.slice(keep)) {
    try {
      await db.send(new DeleteCommand({ TableName: table, Key: { pk } }));
    } catch (error) {
      throw translateStoreError('DeleteItem (old drill)', error);
    }
  }
}

/** A cluster's newest drills, newest first, at most `limit`. */
export async function listDrillRecords(
  db: DynamoDBDocumentClient,
  table: string,
  clusterId: string,
  limit: number = DRILL_HISTORY,
): Promise<DrillRecord[]> {
  const keys = await listDrillKeys(db, table, clusterId, limit);
  const records: DrillRecord[] = [];
  // BatchGetItem takes 100 keys a request and may hand some back unprocessed.
  for (let start = 0; start < keys.length; start += 100) {
    let pending: Array<Record<string, unknown>> = keys.slice(start, start + 100).map((pk) => ({ pk }));
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, Math.min(1000, 50 * 2 ** attempt)));
      if (attempt >= 8)
        throw translateStoreError('BatchGetItem (drills)', new Error('keys left unprocessed'));
      let answer: BatchGetCommandOutput;
      try {
        answer = await db.send(
          new BatchGetCommand({ RequestItems: { [table]: { Keys: pending, ConsistentRead: true } } }),
        );
      } catch (error) {
        throw translateStoreError('BatchGetItem (drills)', error);
      }
      for (const item of answer.Responses?.[table] ?? []) records.push(item.drill as DrillRecord);
      pending = answer.UnprocessedKeys?.[table]?.Keys ?? [];
    }
  }
  return records.sort((a, b) => drillSortKey(b.startedAt).localeCompare(drillSortKey(a.startedAt)));
}

/** The item keys of a cluster's newest drills, newest first. */
async function listDrillKeys(
  db: DynamoDBDocumentClient,
  table: string,
  clusterId: string,
  limit: number,
): Promise<string[]> {
  const keys: string[] = [];
  const items = queryIndexPartition(db, table, {
    partition: drillPartition(clusterId),
    operation: 'Query (drills)',
    descending: true,
    limit,
  });
  for await (const item of items) keys.push(item.pk as string);
  return keys;
}

function tail(text: string | null, max: number): string | null {
  if (text === null || text.length <= max) return text;
  return `…${text.slice(text.length - max + 1)}`;
}

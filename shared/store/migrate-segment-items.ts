/**
 * Moves a cluster's segment fact items of the older layout to the current one. Older releases keyed a
 * segment's item by its timeline and segment number (`s#<timeline 8 hex><segno 16 hex>#<cluster>`, index
 * sort key `<stored-at>#<timeline>#<segno>`); the table now keys it by WAL file name (`table.ts`). The two
 * spell the same 24 hex digits for the first segments of xlogid 0, and differ after.
 *
 * An item of the old layout is found through the index (it sets `gn` with three parts while a segment is
 * present). Its facts name their keys, so the WAL file name comes from the facts, not from a segment size.
 * Each move is two conditional writes: the item under its new key (created, or merged into one that newer
 * events created meanwhile, on its version), then the old item deleted on its version. A conflict re-reads
 * and redoes the move, so concurrent migrations and folds are safe and running it again does nothing.
 * Tombstone-only items (segments removed while the old layout was in use) hold no index entry and stay
 * where they are: the state already counts those removals.
 */
import { DeleteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { parseObjectKey } from '../core/keys.js';
import { ConflictRetriesExhaustedError, isConditionFailure, translateStoreError } from './errors.js';
import { type FactItem, getFactItems, putFactItem, type StoredFact } from './fact-items.js';
import { queryIndexPartition } from './index-pages.js';
import { newestPartition, newestSortKey, segmentFactKey } from './table.js';

/** What one migration of a cluster did. */
export interface SegmentItemMigration {
  /** Old-layout items moved (or re-indexed in place when both layouts spell the same key). */
  readonly moved: number;
}

const MAX_ATTEMPTS = 30;

/**
 * Moves every present segment item of `clusterId` still in the old layout to its WAL-file-name key.
 * Idempotent; safe to run concurrently with folds and with itself.
 *
 * @example
 * await migrateSegmentItems(db, table, 'spilo/demo/wal/15'); // { moved: 120 }
 */
export async function migrateSegmentItems(
  db: DynamoDBDocumentClient,
  table: string,
  clusterId: string,
): Promise<SegmentItemMigration> {
  let moved = 0;
  for (const pk of await listOldLayoutItems(db, table, clusterId)) {
    if (await moveItem(db, table, clusterId, pk)) moved += 1;
  }
  return { moved };
}

/** Keys of items the index still lists with an old-layout sort key. */
async function listOldLayoutItems(
  db: DynamoDBDocumentClient,
  table: string,
  clusterId: string,
): Promise<string[]> {
  const pks: string[] = [];
  const items = queryIndexPartition(db, table, {
    partition: newestPartition(clusterId),
    operation: 'Query (old segment items)',
  });
  for await (const item of items) if (isOldSortKey(String(item.gn))) pks.push(String(item.pk));
  return pks;
}

/** `<at>#<timeline>#<segno>` (old) rather than `<at>#<WAL file name>`. */
function isOldSortKey(gn: string): boolean {
  return gn.split('#').length === 3;
}

/** Moves one item; false when another writer moved it first or it holds no segment key. */
async function moveItem(
  db: DynamoDBDocumentClient,
  table: string,
  clusterId: string,
  oldPk: string,
): Promise<boolean> {
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    const old = (await getFactItems(db, table, [oldPk])).get(oldPk);
    if (!old) return false;
    const walFile = walFileOfFacts(old.facts);
    if (!walFile) return false;
    const newPk = segmentFactKey(clusterId, walFile);
    if (newPk === oldPk) {
      // Same spelling under both layouts: only the index sort key changes.
      const outcome = await putFactItem(db, table, old, indexKeyOf(clusterId, walFile, old));
      if (outcome === 'written') return true;
      continue;
    }
    const current = (await getFactItems(db, table, [newPk])).get(newPk);
    const merged: FactItem = {
      pk: newPk,
      ver: current?.ver ?? 0,
      // Facts the new item holds came from events after the upgrade: they win over the older ones.
      facts: { ...old.facts, ...current?.facts },
    };
    const outcome = await putFactItem(db, table, merged, indexKeyOf(clusterId, walFile, merged));
    if (outcome !== 'written') continue;
    if (await deleteItem(db, table, oldPk, old.ver)) return true;
  }
  throw new ConflictRetriesExhaustedError(
    `segment item ${oldPk} kept changing over ${MAX_ATTEMPTS} attempts`,
  );
}

/** The WAL file name the segment keys of an item share. */
function walFileOfFacts(facts: FactItem['facts']): string | undefined {
  for (const key of Object.keys(facts)) {
    const parsed = parseObjectKey(key);
    if (parsed?.object.kind === 'segment') return parsed.object.walFile;
  }
  return undefined;
}

/** The index key of a segment item as folds set it: present from its earliest present copy. */
function indexKeyOf(clusterId: string, walFile: string, item: FactItem): { gc: string; gn: string } | null {
  const present = Object.values(item.facts).filter((stored: StoredFact) => stored.fact.present);
  if (present.length === 0) return null;
  const at = Math.min(...present.map((stored) => stored.fact.at));
  return { gc: newestPartition(clusterId), gn: newestSortKey(walFile, at) };
}

async function deleteItem(
  db: DynamoDBDocumentClient,
  table: string,
  pk: string,
  ver: number,
): Promise<boolean> {
  try {
    await db.send(
      new DeleteCommand({
        TableName: table,
        Key: { pk },
        ConditionExpression: 'ver = :ver',
        ExpressionAttributeValues: { ':ver': ver },
      }),
    );
    return true;
  } catch (error) {
    if (isConditionFailure(error)) return false;
    throw translateStoreError('DeleteItem (old segment item)', error);
  }
}

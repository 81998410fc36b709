/**
 * Rewrites a store into the layout of older releases: segment fact items keyed by timeline and segment
 * number (`s#<timeline 8 hex><segno 16 hex>#<cluster>`, index sort key `<stored-at>#<timeline>#<segno>`)
 * and cluster state items without the mark of migrated segment items. What such a release left behind.
 */
import { DeleteCommand, type DynamoDBDocumentClient, PutCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { parseWalFileName } from '../../shared/core/lsn.js';

/** Every item of the table (a test table is small). */
export async function scanItems(
  db: DynamoDBDocumentClient,
  table: string,
): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await db.send(
      new ScanCommand({ TableName: table, ...(start ? { ExclusiveStartKey: start } : {}) }),
    );
    items.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start);
  return items;
}

const hex = (value: number, width: number): string => value.toString(16).toUpperCase().padStart(width, '0');

/** The old-layout key of a segment item, counted with `segmentSize`. */
export function oldSegmentPk(walFile: string, clusterId: string, segmentSize: number): string {
  const name = parseWalFileName(walFile, segmentSize);
  if (!name.ok) throw new Error(`${walFile} is no segment of ${segmentSize}-byte segments`);
  return `s#${hex(name.timeline, 8)}${hex(name.segno, 16)}#${clusterId}`;
}

/**
 * Moves every segment item of the table to its old-layout key (under `segmentSize`) and drops the mark of
 * migrated segment items from every cluster state. Returns how many items changed their key.
 */
export async function rewriteToOldLayout(
  db: DynamoDBDocumentClient,
  table: string,
  segmentSize: number,
): Promise<number> {
  let moved = 0;
  for (const item of await scanItems(db, table)) {
    const pk = String(item.pk);
    if (pk.startsWith('c#') && 'segmentLayout' in item) {
      const { segmentLayout: _mark, ...rest } = item;
      await db.send(new PutCommand({ TableName: table, Item: rest }));
      continue;
    }
    if (!pk.startsWith('s#')) continue;
    const walFile = pk.slice(2, 26);
    const clusterId = pk.slice(27);
    const oldPk = oldSegmentPk(walFile, clusterId, segmentSize);
    const name = parseWalFileName(walFile, segmentSize);
    const rewritten: Record<string, unknown> = { ...item, pk: oldPk };
    if (typeof item.gn === 'string' && name.ok) {
      const at = item.gn.split('#')[0];
      rewritten.gn = `${at}#${hex(name.timeline, 8)}#${hex(name.segno, 16)}`;
    }
    await db.send(new PutCommand({ TableName: table, Item: rewritten }));
    if (oldPk !== pk) {
      await db.send(new DeleteCommand({ TableName: table, Key: { pk } }));
      moved += 1;
    }
  }
  return moved;
}

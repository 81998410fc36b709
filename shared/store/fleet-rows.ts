/**
 * The fleet summary in the walwatch table: one small row item per cluster, listed in the sparse index
 * in the order of the fleet list, and one item of counts per status.
 *
 * | item | `pk` | holds | index (`gc` / `gn`) |
 * |---|---|---|---|
 * | fleet row | `f#<cluster>` | `row` (`FleetRow`), `changed`, `next` (epoch ms of the next threshold crossing), `drilled` (a drill was ever stored), `ver` | `fleet` / `<rank>#<recovery point ms, 15 digits>#<lower-case id>` |
 * | fleet counts | `h#fleet` | `counts` per status, `at` | — |
 *
 * A page of `GET /clusters` is one `Query` of the `fleet` partition (keys only, in list order; status as a
 * key range, scope and search text as a filter on the table key), one `BatchGetItem` of the page's rows and
 * one `GetItem` of the counts: three requests whatever the fleet's size. Because the list order uses the
 * time of the recovery point, not the lag, it does not change as time passes; it changes when the row does.
 *
 * `markFleetRowChanged` is the state writers' signal (every state write calls it): it sets `changed` and
 * moves `ver`, so a sweeper that analysed an older state fails its conditional row write. A row item that
 * only holds the mark (a cluster not analysed yet) has no index keys and is not listed. A drill's mark also
 * sets `drilled`, which row writes keep (they update, not replace, the item): the sweeper reads a cluster's
 * drill history only when it is set (or the row shows a drill, or drills are expected), so the clusters
 * without drills, most of a fleet, cost no drill `Query` per analysis.
 */
import {
  BatchGetCommand,
  type BatchGetCommandOutput,
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  paginateQuery,
  QueryCommand,
  type QueryCommandInput,
  type QueryCommandOutput,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import {
  type FleetCounts,
  type FleetFilter,
  type FleetRow,
  fleetOrderKey,
  matchesFleetFilter,
  STATUS_RANK,
} from '../core/fleet-row.js';
import { isConditionFailure, StoreAccessError, translateStoreError } from './errors.js';
import { CLUSTER_INDEX } from './table.js';

/** The index partition listing every fleet row. */
export const FLEET_PARTITION = 'fleet';

/** Partition key of a cluster's fleet row. */
export function fleetRowKey(clusterId: string): string {
  return `f#${clusterId}`;
}

/** Partition key of the fleet counts. */
export const FLEET_COUNTS_KEY = 'h#fleet';

/** A stored row and its bookkeeping. */
export interface StoredFleetRow {
  readonly clusterId: string;
  /** `null` while the item only holds the state writers' mark. */
  readonly row: FleetRow | null;
  /** Whether the cluster's state changed since the sweeper last settled its alerts. */
  readonly changed: boolean;
  /** Epoch ms of the next threshold crossing (`null`: none). */
  readonly nextCheckAt: number | null;
  /** Whether a restore drill of the cluster was ever stored (its mark sets it). */
  readonly drilled: boolean;
  /** Optimistic-locking version (0: no item). */
  readonly ver: number;
}

/** What a writer stores for a row. */
export interface FleetRowWrite {
  readonly row: FleetRow;
  readonly changed: boolean;
  readonly nextCheckAt: number | null;
}

/** A page query of the fleet list. */
export interface FleetQuery extends FleetFilter {
  /** Rows per page, 1 to `MAX_FLEET_PAGE`. */
  readonly limit: number;
  /** Where the previous page ended (`FleetPage.cursor`). */
  readonly cursor?: string;
}

/** One page of the fleet list, worst first. */
export interface FleetPage {
  readonly rows: FleetRow[];
  /** Where the next page starts; `null` on the last page. */
  readonly cursor: string | null;
}

/** Largest page: one `BatchGetItem` reads at most 100 items. */
export const MAX_FLEET_PAGE = 100;

/** A cursor that is not one this store wrote. */
export class InvalidCursorError extends Error {
  override readonly name = 'InvalidCursorError';
}

/** Index sort keys are limited to 1,024 bytes; long ids are cut there (the table key keeps them whole). */
const MAX_SORT_KEY_BYTES = 1024;

/** The index sort key of a row (`fleetOrderKey`, cut to 1,024 bytes of UTF-8). */
export function fleetSortKey(row: FleetRow): string {
  const key = fleetOrderKey(row);
  if (Buffer.byteLength(key) <= MAX_SORT_KEY_BYTES) return key;
  return Buffer.from(key)
    .subarray(0, MAX_SORT_KEY_BYTES)
    .toString('utf8')
    .replace(/\uFFFD+$/, '');
}

/** Encodes a position in the fleet list as an opaque cursor. */
export function encodeFleetCursor(position: { gn: string; pk: string }): string {
  return Buffer.from(JSON.stringify([position.gn, position.pk])).toString('base64url');
}

/** Decodes `encodeFleetCursor`. @throws {InvalidCursorError} */
export function decodeFleetCursor(cursor: string): { gn: string; pk: string } {
  try {
    const value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (
      Array.isArray(value) &&
      value.length === 2 &&
      typeof value[0] === 'string' &&
      typeof value[1] === 'string' &&
      value[1].startsWith('f#')
    )
      return { gn: value[0], pk: value[1] };
  } catch {
    // fall through to the error below
  }
  throw new InvalidCursorError('cursor is not one a page of GET /clusters returned');
}

/**
 * Marks that a cluster's state changed: the sweeper re-analyses it on its next run. Creates a mark-only
 * item for a cluster without a row. `drill` marks a stored restore drill (sets `drilled`).
 */
export async function markFleetRowChanged(
  db: DynamoDBDocumentClient,
  table: string,
  clusterId: string,
  options: { drill?: boolean } = {},
): Promise<void> {
  try {
    await db.send(
      new UpdateCommand({
        TableName: table,
        Key: { pk: fleetRowKey(clusterId) },
        UpdateExpression: options.drill
          ? 'SET changed = :yes, drilled = :yes ADD ver :one'
          : 'SET changed = :yes ADD ver :one',
        ExpressionAttributeValues: { ':yes': true, ':one': 1 },
      }),
    );
  } catch (error) {
    throw translateStoreError('UpdateItem (fleet row mark)', error);
  }
}

/** Writes a row if its item is still at `expectedVer` (absent when 0); false when another writer won. */
export async function putFleetRow(
  db: DynamoDBDocumentClient,
  table: string,
  write: FleetRowWrite,
  expectedVer: number,
): Promise<boolean> {
  try {
    // An update, not a put: the item's `drilled` stays as the drill marks set it.
    await db.send(
      new UpdateCommand({
        TableName: table,
        Key: { pk: fleetRowKey(write.row.id) },
        UpdateExpression: 'SET ver = :next, #row = :row, changed = :changed, #next = :at, gc = :gc, gn = :gn',
        ExpressionAttributeNames: { '#row': 'row', '#next': 'next' },
        ExpressionAttributeValues: {
          ':next': expectedVer + 1,
          ':row': write.row,
          ':changed': write.changed,
          ':at': write.nextCheckAt,
          ':gc': FLEET_PARTITION,
          ':gn': fleetSortKey(write.row),
          ...(expectedVer === 0 ? {} : { ':ver': expectedVer }),
        },
        ConditionExpression: expectedVer === 0 ? 'attribute_not_exists(pk)' : 'ver = :ver',
      }),
    );
    return true;
  } catch (error) {
    if (isConditionFailure(error)) return false;
    throw translateStoreError('UpdateItem (fleet row)', error);
  }
}

/** Deletes a row if its item is still at `expectedVer`; false when another writer won. */
export async function deleteFleetRow(
  db: DynamoDBDocumentClient,
  table: string,
  clusterId: string,
  expectedVer: number,
): Promise<boolean> {
  try {
    await db.send(
      new DeleteCommand({
        TableName: table,
        Key: { pk: fleetRowKey(clusterId) },
        ConditionExpression: 'ver = :ver',
        ExpressionAttributeValues: { ':ver': expectedVer },
      }),
    );
    return true;
  } catch (error) {
    if (isConditionFailure(error)) return false;
    throw translateStoreError('DeleteItem (fleet row)', error);
  }
}

/** Reads the rows of these clusters, 100 per request, eventually consistent; absent ones are left out. */
export async function getFleetRows(
  db: DynamoDBDocumentClient,
  table: string,
  clusterIds: readonly string[],
  options: { consistent?: boolean } = {},
): Promise<Map<string, StoredFleetRow>> {
  const found = new Map<string, StoredFleetRow>();
  const unique = [...new Set(clusterIds)];
  for (let start = 0; start < unique.length; start += 100) {
    const items = await batchGet(
      db,
      table,
      unique.slice(start, start + 100).map((id) => fleetRowKey(id)),
      options.consistent ?? false,
    );
    for (const item of items) {
      const stored = toStoredRow(item);
      found.set(stored.clusterId, stored);
    }
  }
  return found;
}

/** The ids of every listed row (keys only, in list order). */
export async function listFleetRowIds(db: DynamoDBDocumentClient, table: string): Promise<string[]> {
  const ids: string[] = [];
  try {
    const pages = paginateQuery(
      { client: db },
      {
        TableName: table,
        IndexName: CLUSTER_INDEX,
        KeyConditionExpression: 'gc = :gc',
        ExpressionAttributeValues: { ':gc': FLEET_PARTITION },
      },
    );
    for await (const page of pages)
      for (const item of page.Items ?? []) ids.push((item.pk as string).slice(2));
  } catch (error) {
    throw translateStoreError('Query (fleet rows)', error);
  }
  return ids;
}

/** Query requests one page may spend looking for rows that match its filters. */
const MAX_QUERY_REQUESTS = 2;

/**
 * One page of the fleet list: a `Query` of the index (the status as key range, the scope as a filter on the
 * table key: a necessary condition, checked exactly on the rows read; the search text matched on the keys
 * read, ignoring case), then one `BatchGetItem` of the page's rows. A filtered page reads at most two
 * `Query` pages of 1 MB of keys (about 12,000 clusters each): past that fleet size a filtered page may hold
 * fewer rows than `limit` and still have a cursor, where the next page goes on. Only a `null` cursor means
 * the list is done.
 *
 * @throws {InvalidCursorError} for a cursor this store did not write
 */
export async function queryFleetPage(
  db: DynamoDBDocumentClient,
  table: string,
  query: FleetQuery,
): Promise<FleetPage> {
  const limit = Math.max(1, Math.min(MAX_FLEET_PAGE, Math.floor(query.limit)));
  const values: Record<string, string> = { ':gc': FLEET_PARTITION };
  let keyCondition = 'gc = :gc';
  const filters: string[] = [];
  const statuses = [...new Set(query.status ?? [])].sort((a, b) => STATUS_RANK[a] - STATUS_RANK[b]);
  const ranks = statuses.map((status) => STATUS_RANK[status]);
  // The index's own keys cannot be filtered on: statuses are a key range (critical and ok together, not
  // adjacent, are read as one range and told apart on the rows).
  if (ranks.length === 1 || (ranks.length === 2 && (ranks[1] as number) - (ranks[0] as number) === 1)) {
    keyCondition += ' AND gn BETWEEN :low AND :high';
    values[':low'] = `${ranks[0]}#`;
    values[':high'] = `${ranks[ranks.length - 1]}#\uffff`;
  }
  if (query.scope !== undefined) {
    filters.push('contains(pk, :scope)');
    values[':scope'] = `spilo/${query.scope}`;
  }
  // The search text ignores case, which a filter expression cannot, and statuses that are not one key
  // range (critical and ok) are told apart by the rank the sort key starts with: keys matched as they come.
  const q = query.q?.toLowerCase();
  const allStatuses = ranks.length === 0 || ranks.length === Object.keys(STATUS_RANK).length;
  const keyRanks = allStatuses || keyCondition !== 'gc = :gc' ? undefined : new Set(ranks.map(String));
  const matchesKey = (pk: string, gn: string) =>
    (q === undefined || pk.slice(2).toLowerCase().includes(q)) &&
    (keyRanks === undefined || keyRanks.has(gn.slice(0, gn.indexOf('#'))));
  const filtered = filters.length > 0 || q !== undefined || keyRanks !== undefined;
  const input: QueryCommandInput = {
    TableName: table,
    IndexName: CLUSTER_INDEX,
    KeyConditionExpression: keyCondition,
    ExpressionAttributeValues: values,
    ...(filters.length > 0 ? { FilterExpression: filters.join(' AND ') } : {}),
    ...(filtered ? {} : { Limit: limit + 1 }),
  };
  let start: Record<string, string> | undefined = query.cursor
    ? { ...decodeFleetCursor(query.cursor), gc: FLEET_PARTITION }
    : undefined;
  const candidates: { pk: string; gn: string }[] = [];
  let more = false;
  for (let request = 0; request < MAX_QUERY_REQUESTS; request++) {
    let response: QueryCommandOutput;
    try {
      response = await db.send(
        new QueryCommand({ ...input, ...(start ? { ExclusiveStartKey: start } : {}) }),
      );
    } catch (error) {
      throw translateStoreError('Query (fleet page)', error);
    }
    for (const item of response.Items ?? [])
      if (matchesKey(item.pk as string, item.gn as string))
        candidates.push({ pk: item.pk as string, gn: item.gn as string });
    start = response.LastEvaluatedKey as Record<string, string> | undefined;
    more = start !== undefined;
    if (!more || candidates.length > limit) break;
  }
  const taken = candidates.slice(0, limit);
  const last = taken[taken.length - 1];
  const cursor =
    candidates.length > limit && last
      ? encodeFleetCursor(last)
      : more && start
        ? encodeFleetCursor({ gn: start.gn as string, pk: start.pk as string })
        : null;
  const items = await batchGet(
    db,
    table,
    taken.map((candidate) => candidate.pk),
    false,
  );
  const byKey = new Map(items.map((item) => [item.pk as string, toStoredRow(item).row]));
  const rows: FleetRow[] = [];
  for (const candidate of taken) {
    const row = byKey.get(candidate.pk);
    // The index is eventually consistent: a row that moved out of the filter since is left out.
    if (row && matchesFleetFilter(row, query)) rows.push(row);
  }
  return { rows, cursor };
}

/** Reads the fleet counts (`undefined` before the first sweep wrote them). */
export async function getFleetCounts(
  db: DynamoDBDocumentClient,
  table: string,
): Promise<{ counts: FleetCounts; at: number } | undefined> {
  try {
    const { Item } = await db.send(new GetCommand({ TableName: table, Key: { pk: FLEET_COUNTS_KEY } }));
    if (!Item) return undefined;
    return { counts: Item.counts as FleetCounts, at: Item.at as number };
  } catch (error) {
    throw translateStoreError('GetItem (fleet counts)', error);
  }
}

/** Writes the fleet counts. */
export async function putFleetCounts(
  db: DynamoDBDocumentClient,
  table: string,
  counts: FleetCounts,
  at: number,
): Promise<void> {
  try {
    await db.send(new PutCommand({ TableName: table, Item: { pk: FLEET_COUNTS_KEY, counts, at } }));
  } catch (error) {
    throw translateStoreError('PutItem (fleet counts)', error);
  }
}

function toStoredRow(item: Record<string, unknown>): StoredFleetRow {
  return {
    clusterId: (item.pk as string).slice(2),
    row: (item.row as FleetRow | undefined) ?? null,
    changed: item.changed === true,
    nextCheckAt: typeof item.next === 'number' ? item.next : null,
    drilled: item.drilled === true,
    ver: (item.ver as number | undefined) ?? 0,
  };
}

async function batchGet(
  db: DynamoDBDocumentClient,
  table: string,
  pks: readonly string[],
  consistent: boolean,
): Promise<Record<string, unknown>[]> {
  const found: Record<string, unknown>[] = [];
  let keys = pks.map((pk) => ({ pk }));
  for (let attempt = 0; keys.length > 0; attempt++) {
    if (attempt >= 8)
      throw new StoreAccessError(`BatchGetItem left ${keys.length} fleet rows unprocessed after 8 attempts`);
    if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 2 ** attempt * 10));
    let response: BatchGetCommandOutput;
    try {
      response = await db.send(
        new BatchGetCommand({
          RequestItems: { [table]: { Keys: keys, ConsistentRead: consistent } },
        }),
      );
    } catch (error) {
      throw translateStoreError('BatchGetItem (fleet rows)', error);
    }
    found.push(...(response.Responses?.[table] ?? []));
    keys = (response.UnprocessedKeys?.[table]?.Keys as { pk: string }[] | undefined) ?? [];
  }
  return found;
}

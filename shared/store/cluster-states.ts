/**
 * Cluster state items: the `ClusterState` of one cluster as gzip-compressed JSON in two items, each written
 * with its own optimistic lock, and the list of clusters through the sparse index.
 *
 * - `c#<cluster>` holds everything but the backups: segment runs, edge times, timelines, problems' inputs.
 *   Segment events rewrite only this part, about 1 KB even for a million segments with a few holes.
 * - `b#<cluster>` holds `backups` (sentinels, metadata, and per backup a summary of its parts: how many,
 *   the newest stored-at); only events of backup objects rewrite it.
 * - `p#<backup>#<cluster>` holds one backup's parts by name (WAL-G's tar partitions: one per GiB of
 *   database), read and written only when parts of that backup change, so the retained backups of a large
 *   database never add up in one item. Entries of `b#` written before this split carry their parts
 *   inline; the fold moves them out the next time it writes the backups.
 * The core's derivations never mix the two (`applyBackupObject` touches only `backups`, nothing else
 * touches `backups`), so each part is a function of its own facts and may be locked on its own.
 *
 * Every write marks the cluster's fleet row as changed (`markFleetRowChanged`), so the sweeper re-analyses
 * it on its next run.
 *
 * Two consistent reads answer "latest recoverable point", "gaps", "backups" and "timelines": the analysis
 * needs the state only. Compression keeps large archives far below the 400 KB item limit; a part that
 * would still not fit fails loudly with `StateTooLargeError` instead of being cut.
 */
import { gunzipSync, gzipSync } from 'node:zlib';
import { type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { type BackupState, type ClusterState, createClusterState, summarizeParts } from '../core/state.js';
import {
  InconsistentStateError,
  isConditionFailure,
  StateTooLargeError,
  translateStoreError,
} from './errors.js';
import { markFleetRowChanged } from './fleet-rows.js';
import { queryIndexPartition } from './index-pages.js';
import {
  backupPartsKey,
  CLUSTERS_PARTITION,
  clusterBackupsKey,
  clusterStateKey,
  parseClusterStateKey,
} from './table.js';

/** A cluster state and the versions of its two parts it was read at (0: part not stored yet). */
export interface VersionedState {
  readonly state: ClusterState;
  /** Version of the core part (everything but `backups`). */
  readonly ver: number;
  /** Version of the `backups` part (`getClusterState` always sets it; writers of the core part ignore it). */
  readonly backupsVer?: number;
  /**
   * Whether the cluster's segment items are known to be keyed by WAL file name (`migrate-segment-items.ts`):
   * the core item says so once a fold wrote it after migrating. A state stored before, or rewritten by
   * another writer since, reads `false`, and the next fold checks again (one index query when nothing is
   * left to move).
   */
  readonly segmentItemsMigrated?: boolean;
}

/** The core item attribute a fold sets once the cluster's segment items are in the current layout. */
const SEGMENT_LAYOUT_ATTRIBUTE = 'segmentLayout';
const SEGMENT_LAYOUT = 'wal-file';

/** Which parts to write, each conditional on the version it was read at. */
export interface StatePartVersions {
  readonly core?: number;
  readonly backups?: number;
  /** Backups whose parts item to write, by name → the version it was read at (0: not stored yet). */
  readonly parts?: ReadonlyMap<string, number>;
  /**
   * Marks the core item: the cluster's segment items are all keyed by WAL file name (`true`, what a fold
   * sets after migrating), or keeps the mark as the stored item has it (`keep`, for other writers).
   * @default false
   */
  readonly segmentItemsMigrated?: boolean | 'keep';
}

/** Room left for the key and the other attributes below DynamoDB's 400 KB item limit. */
export const MAX_STATE_BYTES = 390 * 1024;

/** What the backups item stores besides the backups: enough to build a state when the core is missing. */
interface BackupsPart {
  readonly id: string;
  readonly segmentSize: number;
  readonly backups: Record<string, BackupState>;
}

/** Reads a cluster's state (two strongly consistent reads); `undefined` when the cluster has none yet. */
export async function getClusterState(
  db: DynamoDBDocumentClient,
  table: string,
  clusterId: string,
): Promise<VersionedState | undefined> {
  const [core, backups] = await Promise.all([
    getPart(db, table, clusterStateKey(clusterId)),
    getPart(db, table, clusterBackupsKey(clusterId)),
  ]);
  return joinStateParts(clusterId, core, backups);
}

/**
 * The state of a cluster from its two items as read (a `GetItem` or `BatchGetItem` answer each, absent when
 * not stored); `undefined` when neither is.
 */
export function decodeClusterState(
  clusterId: string,
  coreItem: Record<string, unknown> | undefined,
  backupsItem: Record<string, unknown> | undefined,
): VersionedState | undefined {
  return joinStateParts(
    clusterId,
    coreItem ? decodePart(coreItem) : undefined,
    backupsItem ? decodePart(backupsItem) : undefined,
  );
}

function joinStateParts(
  clusterId: string,
  core: { value: unknown; ver: number; layout?: unknown } | undefined,
  backups: { value: unknown; ver: number } | undefined,
): VersionedState | undefined {
  if (!core && !backups) return undefined;
  const backupsPart = backups?.value as BackupsPart | undefined;
  const base =
    (core?.value as ClusterState | undefined) ?? createClusterState(clusterId, backupsPart?.segmentSize ?? 0);
  return {
    state: { ...base, backups: backupsPart?.backups ?? {} },
    ver: core?.ver ?? 0,
    backupsVer: backups?.ver ?? 0,
    segmentItemsMigrated: core?.layout === SEGMENT_LAYOUT,
  };
}

function decodePart(item: Record<string, unknown>): { value: unknown; ver: number; layout?: unknown } {
  return {
    value: JSON.parse(gunzipSync(item.state as Uint8Array).toString('utf8')),
    ver: item.ver as number,
    layout: item[SEGMENT_LAYOUT_ATTRIBUTE],
  };
}

async function getPart(
  db: DynamoDBDocumentClient,
  table: string,
  pk: string,
): Promise<{ value: unknown; ver: number; layout?: unknown } | undefined> {
  try {
    const { Item } = await db.send(
      new GetCommand({
        TableName: table,
        Key: { pk },
        ConsistentRead: true,
        ReturnConsumedCapacity: 'TOTAL',
      }),
    );
    if (!Item) return undefined;
    return decodePart(Item);
  } catch (error) {
    throw translateStoreError('GetItem (cluster state)', error);
  }
}

/** What a parts item stores. */
interface PartsItem {
  readonly parts: Record<string, number>;
}

/**
 * Loads the parts of the named backups into `state` (each entry's `parts` map, its summary dropped) and
 * returns the version each parts item was read at (0: none stored). An entry that still carries its parts
 * inline keeps them unless a parts item exists, which then wins.
 *
 * @throws {InconsistentStateError} when a summary counts parts that no parts item holds
 */
export async function loadBackupParts(
  db: DynamoDBDocumentClient,
  table: string,
  state: ClusterState,
  names: Iterable<string>,
): Promise<Map<string, number>> {
  const versions = new Map<string, number>();
  const wanted = [...new Set(names)];
  const items = await Promise.all(wanted.map((name) => getPart(db, table, backupPartsKey(state.id, name))));
  for (const [index, name] of wanted.entries()) {
    const item = items[index];
    versions.set(name, item?.ver ?? 0);
    const stored = (item?.value as PartsItem | undefined)?.parts ?? {};
    // A parts item written by a fold whose backups write has not landed yet still holds facts.
    if (!state.backups[name] && Object.keys(stored).length > 0)
      state.backups[name] = { sentinel: null, metadata: null, parts: {} };
    const entry = state.backups[name];
    if (!entry) continue;
    if (item) {
      entry.parts = { ...stored };
    } else if (entry.partsSummary && entry.partsSummary.count > 0) {
      throw new InconsistentStateError(
        `backup ${name} of cluster ${JSON.stringify(state.id)} counts ${entry.partsSummary.count} parts but no parts item holds them`,
      );
    }
    delete entry.partsSummary;
  }
  return versions;
}

/**
 * Reads a cluster's state with every backup's parts loaded, as a listing builds it (reconcile, checks).
 * Costs one read per backup with parts besides the two of `getClusterState`.
 */
export async function getClusterStateWithParts(
  db: DynamoDBDocumentClient,
  table: string,
  clusterId: string,
): Promise<VersionedState | undefined> {
  const stored = await getClusterState(db, table, clusterId);
  if (stored) await loadBackupParts(db, table, stored.state, Object.keys(stored.state.backups));
  return stored;
}

/** A backup entry as the backups item stores it: its parts summarized, never inline. */
export function storedBackupEntry(entry: BackupState): BackupState {
  return {
    sentinel: entry.sentinel,
    metadata: entry.metadata,
    parts: {},
    partsSummary: summarizeParts(entry),
  };
}

/** Serialises a whole state as it would be stored in one piece (for size reports). */
export function encodeClusterState(state: ClusterState): Uint8Array {
  return gzipSync(JSON.stringify(state), { level: 6 });
}

/**
 * Writes a cluster's state if the stored core part is still at version `ver` (absent when 0), as `ver + 1`.
 * A new state (`ver` 0) also creates the backups part; afterwards backups change only through
 * `putClusterStateParts` with their own version. Returns `conflict` when another writer got there first.
 *
 * @throws {StateTooLargeError} when a compressed part exceeds `MAX_STATE_BYTES`
 */
export function putClusterState(
  db: DynamoDBDocumentClient,
  table: string,
  state: ClusterState,
  ver: number,
): Promise<'written' | 'conflict'> {
  if (ver !== 0) return putClusterStateParts(db, table, state, { core: ver, segmentItemsMigrated: 'keep' });
  const parts = new Map<string, number>();
  for (const [name, entry] of Object.entries(state.backups)) if (!entry.partsSummary) parts.set(name, 0);
  // A new state has no segment items of an older layout to move.
  return putClusterStateParts(db, table, state, { core: 0, backups: 0, parts, segmentItemsMigrated: true });
}

/**
 * Writes the parts of a cluster's state named in `versions`, each conditional on its stored version.
 * Returns `conflict` when any part had moved on (parts written before it stay written: each is a
 * function of its own facts, and the caller re-reads and re-derives).
 *
 * @throws {StateTooLargeError} when a compressed part exceeds `MAX_STATE_BYTES`
 */
export async function putClusterStateParts(
  db: DynamoDBDocumentClient,
  table: string,
  state: ClusterState,
  versions: StatePartVersions,
): Promise<'written' | 'conflict'> {
  const { backups, ...core } = state;
  for (const [name, ver] of versions.parts ?? []) {
    const item: PartsItem = { parts: backups[name]?.parts ?? {} };
    const written = await putPart(db, table, state.id, backupPartsKey(state.id, name), item, ver, {});
    if (written === 'conflict') return written;
  }
  if (versions.backups !== undefined) {
    const stored: Record<string, BackupState> = {};
    for (const [name, entry] of Object.entries(backups)) stored[name] = storedBackupEntry(entry);
    const part: BackupsPart = { id: state.id, segmentSize: state.segmentSize, backups: stored };
    const written = await putPart(
      db,
      table,
      state.id,
      clusterBackupsKey(state.id),
      part,
      versions.backups,
      {},
    );
    if (written === 'conflict') return written;
  }
  if (versions.core !== undefined) {
    const pk = clusterStateKey(state.id);
    const index = { gc: CLUSTERS_PARTITION, gn: pk };
    const marked = { ...index, [SEGMENT_LAYOUT_ATTRIBUTE]: SEGMENT_LAYOUT };
    const value = { ...core, backups: {} };
    const mark = versions.segmentItemsMigrated ?? false;
    let written: 'written' | 'conflict';
    if (mark !== 'keep' || versions.core === 0) {
      written = await putPart(db, table, state.id, pk, value, versions.core, mark ? marked : index);
    } else {
      // A put replaces the item: write the mark back exactly when the stored item has it.
      written = await putPart(db, table, state.id, pk, value, versions.core, marked, 'marked');
      if (written === 'conflict')
        written = await putPart(db, table, state.id, pk, value, versions.core, index, 'unmarked');
    }
    if (written === 'conflict') return written;
  }
  // After the state: a sweeper that reads the mark then reads the new state (see `fleet-rows.ts`).
  if (versions.core !== undefined || versions.backups !== undefined || (versions.parts?.size ?? 0) > 0)
    await markFleetRowChanged(db, table, state.id);
  return 'written';
}

async function putPart(
  db: DynamoDBDocumentClient,
  table: string,
  clusterId: string,
  pk: string,
  value: unknown,
  ver: number,
  attributes: Record<string, string>,
  layout?: 'marked' | 'unmarked',
): Promise<'written' | 'conflict'> {
  const body = gzipSync(JSON.stringify(value), { level: 6 });
  if (body.byteLength > MAX_STATE_BYTES) {
    throw new StateTooLargeError(
      `state item ${pk.slice(0, 2)} of cluster ${JSON.stringify(clusterId)} is ${body.byteLength} bytes compressed, above ${MAX_STATE_BYTES}`,
    );
  }
  try {
    await db.send(
      new PutCommand({
        TableName: table,
        Item: { pk, ver: ver + 1, state: body, ...attributes },
        ...(ver === 0
          ? { ConditionExpression: 'attribute_not_exists(pk)' }
          : layout === 'marked'
            ? {
                ConditionExpression: 'ver = :ver AND #layout = :layout',
                ExpressionAttributeNames: { '#layout': SEGMENT_LAYOUT_ATTRIBUTE },
                ExpressionAttributeValues: { ':ver': ver, ':layout': SEGMENT_LAYOUT },
              }
            : layout === 'unmarked'
              ? {
                  ConditionExpression: 'ver = :ver AND attribute_not_exists(#layout)',
                  ExpressionAttributeNames: { '#layout': SEGMENT_LAYOUT_ATTRIBUTE },
                  ExpressionAttributeValues: { ':ver': ver },
                }
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
  const items = queryIndexPartition(db, table, {
    partition: CLUSTERS_PARTITION,
    operation: 'Query (clusters)',
  });
  for await (const item of items) ids.push(parseClusterStateKey(item.gn as string));
  return ids;
}

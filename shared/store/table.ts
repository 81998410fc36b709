/**
 * The walwatch table: one DynamoDB table, partition key `pk` only, and one sparse global secondary index.
 *
 * | item | `pk` | holds |
 * |---|---|---|
 * | object fact | `o#<full key>` | the key's `KeyFact`, its document body (sentinel, metadata, history), its last overwrite |
 * | segment fact | `s#<WAL file name>#<cluster>` | every key (compression variant) naming that segment → fact |
 * | cluster state | `c#<cluster>` | the `ClusterState` without its backups, gzip-compressed JSON |
 * | cluster backups | `b#<cluster>` | the state's `backups`, gzip-compressed JSON (see `cluster-states.ts`) |
 * | segment summary | `w#<WAL file name>#<cluster>` | what reading the segment found (`segment-summaries.ts`) |
 * | scan cursor | `r#<cluster>` | how far the content scan has read (`segment-summaries.ts`) |
 *
 * Every item carries `ver`, the optimistic-locking version its conditional writes check.
 *
 * The index `by-cluster` (`gc`, `gn`) is sparse: a present segment sets `gc = n#<cluster>` and
 * `gn = <stored-at 15 digits>#<WAL file name>`, so the newest present segment of a cluster is one Query
 * (descending, limit 1); a cluster state sets `gc = clusters` and `gn = c#<cluster>`, so listing the clusters
 * is one Query. Segments are keyed by their 24-hex WAL file name, which does not depend on the segment
 * size: a cluster whose size becomes known re-counts its state, never its items. (A name is the timeline,
 * then xlogid, then segment in xlogid, so names sort as segment numbers do under any size.)
 *
 * Key sizes: DynamoDB takes a partition key of at most 2,048 bytes and an index sort key of at most 1,024
 * (UTF-8), and rejects the whole write otherwise. S3 keys have at most 1,024 bytes, so every item of an S3
 * archive fits; a folder or a forged notification can name longer keys. An object key whose `o#` item id
 * would be too long is stored under `h#<SHA-256 of the key>` instead (the item still holds the full key),
 * so it keeps its meaning. A cluster id longer than `MAX_CLUSTER_ID_BYTES` cannot be stored at all (its
 * state is listed under the index sort key `c#<cluster>`): folds skip its keys and count them.
 */
import { createHash } from 'node:crypto';
import type { CreateTableCommandInput } from '@aws-sdk/client-dynamodb';

/** Name of the sparse index. */
export const CLUSTER_INDEX = 'by-cluster';

/** The index partition under which every cluster state is listed. */
export const CLUSTERS_PARTITION = 'clusters';

/** DynamoDB's limit on a partition key, in UTF-8 bytes. */
export const MAX_PARTITION_KEY_BYTES = 2048;

/** DynamoDB's limit on a sort key (also an index's), in UTF-8 bytes. */
export const MAX_SORT_KEY_BYTES = 1024;

/** The longest cluster id the table can hold: `c#<cluster>` is an index sort key. */
export const MAX_CLUSTER_ID_BYTES = MAX_SORT_KEY_BYTES - 'c#'.length;

/**
 * Partition key of a key's object fact: `o#<key>`, or `h#<SHA-256 hex of the key>` when that would exceed
 * the partition key limit (only keys no S3 bucket can hold, which are longer than 1,024 bytes).
 */
export function objectFactKey(key: string): string {
  const pk = `o#${key}`;
  if (Buffer.byteLength(pk, 'utf8') <= MAX_PARTITION_KEY_BYTES) return pk;
  return `h#${createHash('sha256').update(key, 'utf8').digest('hex')}`;
}

/** Whether the table can hold a cluster of this id (see `MAX_CLUSTER_ID_BYTES`). */
export function isStorableClusterId(clusterId: string): boolean {
  return Buffer.byteLength(clusterId, 'utf8') <= MAX_CLUSTER_ID_BYTES;
}

/** Partition key of the fact item of the segment named `walFile` (24 hex) of a cluster. */
export function segmentFactKey(clusterId: string, walFile: string): string {
  return `s#${walFile}#${clusterId}`;
}

/** Partition key of the content summary of the segment named `walFile` (24 hex) of a cluster. */
export function segmentSummaryKey(clusterId: string, walFile: string): string {
  return `w#${walFile}#${clusterId}`;
}

/** Partition key of a cluster's content scan cursor. */
export function scanCursorKey(clusterId: string): string {
  return `r#${clusterId}`;
}

/** Partition key of a cluster's state, also its sort key in the index's `clusters` partition. */
export function clusterStateKey(clusterId: string): string {
  return `c#${clusterId}`;
}

/** Partition key of the backups part of a cluster's state. */
export function clusterBackupsKey(clusterId: string): string {
  return `b#${clusterId}`;
}

/** The cluster id of a `clusterStateKey`. */
/** Key of the item holding one backup's parts (the backup name never holds `#`). */
export function backupPartsKey(clusterId: string, backupName: string): string {
  return `p#${backupName}#${clusterId}`;
}

export function parseClusterStateKey(key: string): string {
  return key.slice(2);
}

/** Index partition of a cluster's present segments. */
export function newestPartition(clusterId: string): string {
  return `n#${clusterId}`;
}

/** Index sort key ordering present segments as `isNewer` does: stored-at, then timeline, then segno. */
export function newestSortKey(walFile: string, at: number): string {
  return `${String(Math.max(0, at)).padStart(15, '0')}#${walFile}`;
}

/** Decodes `newestSortKey`. */
export function parseNewestSortKey(sortKey: string): { walFile: string; at: number } {
  const [at, walFile] = sortKey.split('#');
  return { at: Number(at), walFile: walFile ?? '' };
}

/** The table definition, for tests, the local monitor and as the reference for the CDK table. */
export function describeTable(tableName: string): CreateTableCommandInput {
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [
      { AttributeName: 'pk', AttributeType: 'S' },
      { AttributeName: 'gc', AttributeType: 'S' },
      { AttributeName: 'gn', AttributeType: 'S' },
    ],
    KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
    GlobalSecondaryIndexes: [
      {
        IndexName: CLUSTER_INDEX,
        KeySchema: [
          { AttributeName: 'gc', KeyType: 'HASH' },
          { AttributeName: 'gn', KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'KEYS_ONLY' },
      },
    ],
  };
}

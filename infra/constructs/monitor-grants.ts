import { Stack } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import type { ContentMode } from '../../shared/config/content-policy.js';
import { CLUSTER_INDEX } from '../../shared/store/table.js';
import { acknowledgeWildcardResource } from './acknowledge.js';
import type { WalwatchFunction } from './walwatch-function.js';

/**
 * DynamoDB actions per function, from the store calls each makes (`shared/store/`): ingest and
 * reconcile fold (`BatchGetItem`, `GetItem`, `PutItem`, `Query` on the index); the sweeper reads
 * states and acknowledgements and writes alert states; the API reads and writes acknowledgements; both
 * batch-read restore drill items (`drills`); the restore drill task writes them and trims the history
 * (`drillTask`).
 */
export const TABLE_ACCESS = {
  pipeline: {
    table: ['dynamodb:BatchGetItem', 'dynamodb:GetItem', 'dynamodb:PutItem'],
    index: ['dynamodb:Query'],
    /** Segment items of the older layout, deleted once moved (`migrate-segment-items.ts`). */
    deletes: ['dynamodb:DeleteItem'],
    deletePrefixes: ['s#'],
  },
  sweeper: {
    table: ['dynamodb:GetItem'],
    index: ['dynamodb:Query'],
    writes: ['dynamodb:PutItem'],
    itemPrefixes: ['a#'],
  },
  drills: {
    table: ['dynamodb:BatchGetItem'],
    index: [],
  },
  drillTask: {
    table: [],
    index: ['dynamodb:Query'],
    writes: ['dynamodb:PutItem', 'dynamodb:DeleteItem'],
    itemPrefixes: ['d#'],
  },
  api: {
    table: ['dynamodb:GetItem'],
    index: ['dynamodb:Query'],
    writes: ['dynamodb:UpdateItem'],
    itemPrefixes: ['k#'],
  },
} as const;

/**
 * The fleet summary (`shared/store/fleet-rows.ts`): every state writer marks its cluster's row
 * (`UpdateItem`); the sweeper writes and deletes rows and the counts; the API rewrites the row of a
 * cluster it acknowledged a gap of.
 */
export const FLEET_ACCESS = {
  mark: ['dynamodb:UpdateItem'],
  writes: ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'],
  rowPrefix: 'f#',
  countsPrefix: 'h#',
} as const;

/** The documents ingest and reconcile read under an archive root (`needsContent` in `shared/core/state.ts`). */
export function documentKeyPatterns(root: string): string[] {
  return [
    `${root}basebackups_005/*_backup_stop_sentinel.json`,
    `${root}basebackups_005/*/metadata.json`,
    `${root}wal_005/*.history*`,
  ];
}

/** The monitor's functions, by job; the reconcile worker exists only with an inventory. */
export interface MonitorFunctions {
  readonly ingest: WalwatchFunction;
  readonly reconcile: WalwatchFunction;
  readonly sweeper: WalwatchFunction;
  readonly api: WalwatchFunction;
  readonly sweepWorker: WalwatchFunction;
  readonly reconcileWorker?: WalwatchFunction;
}

/** What {@link grantMonitorAccess} grants access between. */
export interface MonitorAccess {
  /** The monitor's functions, by job. */
  readonly functions: MonitorFunctions;
  /** The fan-out queues: the sweeper sends shards, a full reconcile sends inventory data files. */
  readonly queues: { readonly sweep: IQueue; readonly reconcile?: IQueue | undefined; readonly key: IKey };
  /** Where the archive's inventory reports land, when reconcile reads them. */
  readonly archiveInventory?: { readonly bucket: IBucket; readonly prefix: string } | undefined;
  /** The walwatch table. */
  readonly table: ITable;
  /** The alert topic the sweeper publishes to. */
  readonly alertTopic: ITopic;
  /** The archive bucket. */
  readonly archiveBucket: IBucket;
  /** The archive's KMS key, if it has one. */
  readonly archiveKey?: IKey;
  /** The watched archive roots, each ending in `/`. */
  readonly archiveRoots: readonly string[];
  /**
   * The widest content mode any cluster uses: chain ends (ingest and the sweeper read them, commit times
   * written into cluster states), all (the sweeper also writes summaries, scan cursors and defects), or
   * none.
   */
  readonly segmentContent: ContentMode;
}

/**
 * Grants each monitor function what its code calls and nothing more: ingest and reconcile read only the
 * documents under the roots and fold into the table (ingest also reads chain-end segments unless content
 * is off), reconcile lists only the roots,
 * the sweeper writes only alert states, fleet rows and counts and publishes alerts, the API writes only
 * acknowledgements and fleet rows; every state writer may mark fleet rows.
 */
export function grantMonitorAccess(access: MonitorAccess): void {
  const { functions, table, alertTopic, archiveBucket, archiveKey, archiveRoots, segmentContent } = access;
  const readSegmentContent = segmentContent !== 'off';
  const { ingest, reconcile, sweeper, api, sweepWorker, reconcileWorker } = functions;
  const stack = Stack.of(table);
  const indexArn = `${table.tableArn}/index/${CLUSTER_INDEX}`;
  const documents = archiveRoots
    .flatMap(documentKeyPatterns)
    .map((pattern) => archiveBucket.arnForObjects(pattern));

  for (const fn of [ingest, reconcile, ...(reconcileWorker ? [reconcileWorker] : [])]) {
    fn.function.addToRolePolicy(
      new PolicyStatement({ sid: 'ReadArchiveDocuments', actions: ['s3:GetObject'], resources: documents }),
    );
    for (const resource of documents) {
      acknowledgeWildcardResource(
        fn,
        resource,
        'Only sentinels, metadata.json and timeline histories under the watched archive roots; WAL-G names them per backup and timeline.',
      );
    }
    if (archiveKey !== undefined) {
      fn.function.addToRolePolicy(
        new PolicyStatement({
          sid: 'DecryptArchiveThroughS3',
          actions: ['kms:Decrypt'],
          resources: [archiveKey.keyArn],
          conditions: { StringEquals: { 'kms:ViaService': `s3.${stack.region}.${stack.urlSuffix}` } },
        }),
      );
    }
    fn.function.addToRolePolicy(
      new PolicyStatement({
        sid: 'FoldIntoTable',
        actions: [...TABLE_ACCESS.pipeline.table],
        resources: [table.tableArn],
      }),
    );
    fn.function.addToRolePolicy(
      new PolicyStatement({
        sid: 'QueryClusterIndex',
        actions: [...TABLE_ACCESS.pipeline.index],
        resources: [indexArn],
      }),
    );
    fn.function.addToRolePolicy(
      new PolicyStatement({
        sid: 'MigrateSegmentItems',
        actions: [...TABLE_ACCESS.pipeline.deletes],
        resources: [table.tableArn],
        conditions: {
          'ForAllValues:StringLike': {
            'dynamodb:LeadingKeys': TABLE_ACCESS.pipeline.deletePrefixes.map((prefix) => `${prefix}*`),
          },
        },
      }),
    );
    // The fold reads the first bytes of one segment a cluster for the size its page header gives, and
    // backup history files for theirs: both live beside the segments.
    const segmentHeads = archiveRoots.map((root) => archiveBucket.arnForObjects(`${root}wal_005/*`));
    fn.function.addToRolePolicy(
      new PolicyStatement({ sid: 'ReadSegmentHeads', actions: ['s3:GetObject'], resources: segmentHeads }),
    );
    for (const resource of segmentHeads) {
      acknowledgeWildcardResource(
        fn,
        resource,
        'WAL under the watched archive roots only: the fold reads the first bytes of one segment per cluster (its page header tells the segment size) and backup history files.',
      );
    }
  }
  for (const fn of [ingest, reconcile, ...(reconcileWorker ? [reconcileWorker] : [])]) {
    fn.function.addToRolePolicy(
      new PolicyStatement({
        sid: 'MarkFleetRows',
        actions: [...FLEET_ACCESS.mark],
        resources: [table.tableArn],
        conditions: {
          'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [`${FLEET_ACCESS.rowPrefix}*`] },
        },
      }),
    );
  }
  reconcile.function.addToRolePolicy(
    new PolicyStatement({
      sid: 'ListArchiveRoots',
      actions: ['s3:ListBucket'],
      resources: [archiveBucket.bucketArn],
      conditions: { StringLike: { 's3:prefix': archiveRoots.map((root) => `${root}*`) } },
    }),
  );

  // With segment content on, the sweeper also writes cluster states (c#…): only their commit times and
  // defects change; reading every segment, it also writes summaries (w#…) and scan cursors (r#…) and
  // batch-reads summaries and segment facts.
  const sweeperPrefixes = {
    off: TABLE_ACCESS.sweeper.itemPrefixes,
    'chain-ends': [...TABLE_ACCESS.sweeper.itemPrefixes, 'c#'],
    all: [...TABLE_ACCESS.sweeper.itemPrefixes, 'c#', 'w#', 'r#'],
  }[segmentContent];
  // Fleet rows are read 100 at a time.
  const sweeperReads = [...TABLE_ACCESS.sweeper.table, 'dynamodb:BatchGetItem'];
  for (const [fn, access] of [
    [sweeper, { ...TABLE_ACCESS.sweeper, table: sweeperReads, itemPrefixes: sweeperPrefixes }],
    // The sweep worker reads no segments: it re-analyses and settles alerts only.
    [
      sweepWorker,
      { ...TABLE_ACCESS.sweeper, table: [...TABLE_ACCESS.sweeper.table, 'dynamodb:BatchGetItem'] },
    ],
    [api, TABLE_ACCESS.api],
  ] as const) {
    fn.function.addToRolePolicy(
      new PolicyStatement({
        sid: 'ReadTable',
        actions: [...access.table],
        resources: [table.tableArn],
      }),
    );
    fn.function.addToRolePolicy(
      new PolicyStatement({ sid: 'QueryClusterIndex', actions: [...access.index], resources: [indexArn] }),
    );
    fn.function.addToRolePolicy(
      new PolicyStatement({
        sid: 'WriteOwnItems',
        actions: [...access.writes],
        resources: [table.tableArn],
        // Only the items this function owns: alert states (a#…), acknowledgements (k#…), and with segment
        // content the cluster states whose commit times the sweeper keeps (c#…).
        conditions: {
          'ForAllValues:StringLike': {
            'dynamodb:LeadingKeys': access.itemPrefixes.map((prefix) => `${prefix}*`),
          },
        },
      }),
    );
    // Reports carry the newest restore drill and GET /clusters/{id}/drills the history: drill items (d#…)
    // are batch-read by the keys the index lists.
    fn.function.addToRolePolicy(
      new PolicyStatement({
        sid: 'ReadDrillItems',
        actions: [...TABLE_ACCESS.drills.table],
        resources: [table.tableArn],
        conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['d#*'] } },
      }),
    );
  }
  // The API batch-reads the row of a cluster it acknowledged a gap of (the sweeper reads rows 100 at a time
  // with its table-wide batch reads).
  api.function.addToRolePolicy(
    new PolicyStatement({
      sid: 'ReadFleetRows',
      actions: ['dynamodb:BatchGetItem'],
      resources: [table.tableArn],
      conditions: {
        'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [`${FLEET_ACCESS.rowPrefix}*`] },
      },
    }),
  );
  for (const [fn, prefixes] of [
    [sweeper, [FLEET_ACCESS.rowPrefix, FLEET_ACCESS.countsPrefix]],
    // A shard writes its clusters' rows; the counts item is the planning sweeper's.
    [sweepWorker, [FLEET_ACCESS.rowPrefix]],
    [api, [FLEET_ACCESS.rowPrefix]],
  ] as const) {
    fn.function.addToRolePolicy(
      new PolicyStatement({
        sid: 'WriteFleetSummary',
        actions: [...FLEET_ACCESS.writes],
        resources: [table.tableArn],
        conditions: {
          'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': prefixes.map((prefix) => `${prefix}*`) },
        },
      }),
    );
  }
  if (readSegmentContent) {
    const segments = archiveRoots.map((root) => archiveBucket.arnForObjects(`${root}wal_005/*`));
    // Ingest reads the new chain end of each batch's clusters (its cluster-state writes are the fold's);
    // its kms:Decrypt for documents covers segments too.
    ingest.function.addToRolePolicy(
      new PolicyStatement({ sid: 'ReadChainEndSegments', actions: ['s3:GetObject'], resources: segments }),
    );
    for (const resource of segments) {
      acknowledgeWildcardResource(
        ingest,
        resource,
        'WAL segments under the watched archive roots only: ingest reads the segment at the end of each recovery chain that a batch moved, for its last commit time.',
      );
    }
    sweeper.function.addToRolePolicy(
      new PolicyStatement({ sid: 'ReadChainEndSegments', actions: ['s3:GetObject'], resources: segments }),
    );
    for (const resource of segments) {
      acknowledgeWildcardResource(
        sweeper,
        resource,
        segmentContent === 'all'
          ? 'WAL segments under the watched archive roots only: the sweeper reads each archived segment once for its summary and whether recovery can read it.'
          : 'WAL segments under the watched archive roots only: the sweeper reads the segment at the end of each recovery chain for its last commit time.',
      );
    }
    if (archiveKey !== undefined) {
      sweeper.function.addToRolePolicy(
        new PolicyStatement({
          sid: 'DecryptArchiveThroughS3',
          actions: ['kms:Decrypt'],
          resources: [archiveKey.keyArn],
          conditions: { StringEquals: { 'kms:ViaService': `s3.${stack.region}.${stack.urlSuffix}` } },
        }),
      );
    }
  }
  for (const fn of [sweeper, sweepWorker]) {
    fn.function.addToRolePolicy(
      new PolicyStatement({
        sid: 'PublishAlerts',
        actions: ['sns:Publish'],
        resources: [alertTopic.topicArn],
      }),
    );
    const alertKey = alertTopic.masterKey;
    if (alertKey !== undefined) {
      fn.function.addToRolePolicy(
        new PolicyStatement({
          sid: 'EncryptAlertsThroughSns',
          actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
          resources: [alertKey.keyArn],
          conditions: { StringEquals: { 'kms:ViaService': `sns.${stack.region}.${stack.urlSuffix}` } },
        }),
      );
    }
  }
  // Send only, and the queue key's two actions a send needs (not grantSendMessages' ReEncrypt*,
  // GenerateDataKey*); the event source mappings give the workers receive and delete.
  const grantSend = (fn: WalwatchFunction, queue: IQueue): void => {
    fn.function.addToRolePolicy(
      new PolicyStatement({ sid: 'SendFanOut', actions: ['sqs:SendMessage'], resources: [queue.queueArn] }),
    );
    fn.function.addToRolePolicy(
      new PolicyStatement({
        sid: 'EncryptFanOutThroughSqs',
        actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
        resources: [access.queues.key.keyArn],
        conditions: { StringEquals: { 'kms:ViaService': `sqs.${stack.region}.${stack.urlSuffix}` } },
      }),
    );
  };
  grantSend(sweeper, access.queues.sweep);
  const inventory = access.archiveInventory;
  if (inventory !== undefined && access.queues.reconcile !== undefined && reconcileWorker !== undefined) {
    grantSend(reconcile, access.queues.reconcile);
    reconcile.function.addToRolePolicy(
      new PolicyStatement({
        sid: 'ListInventoryReports',
        actions: ['s3:ListBucket'],
        resources: [inventory.bucket.bucketArn],
        conditions: { StringLike: { 's3:prefix': [`${inventory.prefix}*`] } },
      }),
    );
    const manifests = inventory.bucket.arnForObjects(`${inventory.prefix}*/manifest.*`);
    reconcile.function.addToRolePolicy(
      new PolicyStatement({
        sid: 'ReadInventoryManifests',
        actions: ['s3:GetObject'],
        resources: [manifests],
      }),
    );
    acknowledgeWildcardResource(
      reconcile,
      manifests,
      'Only the manifest.json and manifest.checksum of the dated report folders of the archive inventory.',
    );
    const dataFiles = inventory.bucket.arnForObjects(`${inventory.prefix}data/*`);
    reconcileWorker.function.addToRolePolicy(
      new PolicyStatement({ sid: 'ReadInventoryData', actions: ['s3:GetObject'], resources: [dataFiles] }),
    );
    acknowledgeWildcardResource(
      reconcileWorker,
      dataFiles,
      "Only the archive inventory's data files; S3 names them by a random id per report.",
    );
  }
}

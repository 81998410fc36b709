/**
 * Names of the environment variables that the CDK app sets on walwatch's functions and that the
 * functions read. Defined once here so infra and handlers cannot drift apart; add new names to this
 * object rather than writing string literals elsewhere.
 *
 * @example
 * ```ts
 * import { ENV } from '../shared/config/env.js';
 * const bucket = process.env[ENV.archiveBucketName];
 * ```
 */
export const ENV = {
  /** Name of the S3 bucket that holds the WAL-G archive (`WAL_S3_BUCKET` of the Spilo nodes). */
  archiveBucketName: 'WALWATCH_ARCHIVE_BUCKET',
  /**
   * Comma-separated archive roots watched in that bucket, each ending in `/`, e.g.
   * `spilo/demo/wal/17/`; `wal_005/` and `basebackups_005/` sit directly under each root.
   */
  archiveRoots: 'WALWATCH_ARCHIVE_ROOTS',
  /** Name of the DynamoDB table of facts and cluster states (`shared/store/table.ts`). */
  tableName: 'WALWATCH_TABLE_NAME',
  /**
   * WAL segment size per cluster (`shared/config/segment-sizes.ts`): `auto` (learnt from the archive), a
   * size overriding it, or a default and overrides by cluster id pattern, `auto; 64MiB=spilo/big/*`.
   * @default auto
   */
  segmentSize: 'WALWATCH_SEGMENT_SIZE',
  /** ARN of the SNS topic the sweeper sends alert e-mails to. */
  alertTopicArn: 'WALWATCH_ALERT_TOPIC_ARN',
  /** Base URL of the query API, linked from alert messages. */
  apiUrl: 'WALWATCH_API_URL',
  /** Analysis thresholds as durations (`5m`, `1h`, `26h`): gap grace, archive age, backup age, backup staleness. */
  gapGrace: 'WALWATCH_GAP_GRACE',
  maxArchiveAge: 'WALWATCH_MAX_ARCHIVE_AGE',
  maxBackupAge: 'WALWATCH_MAX_BACKUP_AGE',
  backupStaleAfter: 'WALWATCH_BACKUP_STALE_AFTER',
  /**
   * Which segment bodies ingest and the sweeper read, per cluster (`shared/config/content-policy.ts`):
   * `chain-ends` (default: the segment at the end of each recovery chain, for exact last commit times),
   * `all` (also every segment's summary), `off`, or a default with overrides such as
   * `chain-ends; all=spilo/orders/*; off=spilo/scratch/*`. Needs `s3:GetObject` on `wal_005/` unless off.
   */
  readContent: 'WALWATCH_READ_CONTENT',
  /** `walwatch serve`: the API token, when `--api-token` is not given (required beyond loopback). */
  apiToken: 'WALWATCH_API_TOKEN',
  /** `walwatch serve`: comma-separated names accepted in `Host`, when no `--allow-host` is given. */
  allowHosts: 'WALWATCH_ALLOW_HOSTS',
  /** `walwatch serve`: comma-separated page origins allowed to call the API, when no `--allow-origin` is given. */
  allowOrigins: 'WALWATCH_ALLOW_ORIGINS',
  /**
   * How often the local monitor runs a restore drill per cluster (`shared/config/drill-policy.ts`): a
   * period, `off`, or a default with overrides such as `24h; off=spilo/scratch/*`. @default 24h where
   * PostgreSQL binaries are found, else off
   */
  drillEvery: 'WALWATCH_DRILL_EVERY',
  /**
   * `drill-stale` threshold as a duration (`72h`): a cluster with drills configured alerts when no drill has
   * verified it for longer. @default three drill periods locally, 72h on AWS
   */
  drillStaleAfter: 'WALWATCH_DRILL_STALE_AFTER',
  /**
   * Clusters the sweeper and API expect restore drills for (`drill-stale`), in the syntax of
   * `cluster-setting.ts`: `on`, `off`, or a default with overrides (`off; on=spilo/orders/*`). Set by the
   * CDK app when `restoreDrill` is on. @default off
   */
  drillClusters: 'WALWATCH_DRILL_CLUSTERS',
  /** The drill task: the clusters to drill in one run, comma-separated ids. */
  drillTargets: 'WALWATCH_DRILL_TARGETS',
  /** The drill task: the recovery target, `latest`, an ISO time or an LSN. @default latest */
  drillTarget: 'WALWATCH_DRILL_TARGET',
  /**
   * Which clusters get CloudWatch metrics with the `Cluster` dimension (`shared/config/cluster-metrics.ts`):
   * `on`, `off` or `auto` (default: on up to 50 clusters), with overrides such as `off; on=spilo/orders/*`.
   */
  clusterMetrics: 'WALWATCH_CLUSTER_METRICS',
  /** URL of the queue the sweeper sends shards of clusters to when the fleet is large (fan-out). */
  sweepQueueUrl: 'WALWATCH_SWEEP_QUEUE_URL',
  /** Fleet size above which the sweeper fans out to the sweep worker instead of sweeping itself. @default 1000 */
  sweepFanOutAbove: 'WALWATCH_SWEEP_FAN_OUT_ABOVE',
  /** Clusters per shard of a fanned-out sweep. @default 250 */
  sweepShardSize: 'WALWATCH_SWEEP_SHARD_SIZE',
  /**
   * Where the archive bucket's S3 Inventory lands: `s3://<bucket>/<prefix>/<source bucket>/<config id>/`
   * (the folder holding the dated manifest folders). Unset: full reconciles list the bucket.
   */
  inventoryLocation: 'WALWATCH_INVENTORY_LOCATION',
  /** URL of the queue reconcile sends the inventory's data files to, one message per file. */
  reconcileQueueUrl: 'WALWATCH_RECONCILE_QUEUE_URL',
} as const;

/** One of the environment variable names in {@link ENV}. */
export type EnvName = (typeof ENV)[keyof typeof ENV];

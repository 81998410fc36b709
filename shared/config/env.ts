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
} as const;

/** One of the environment variable names in {@link ENV}. */
export type EnvName = (typeof ENV)[keyof typeof ENV];

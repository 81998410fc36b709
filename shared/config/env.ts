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
  /** WAL segment size in bytes of every watched cluster. @default 16 MiB */
  segmentSize: 'WALWATCH_SEGMENT_SIZE',
} as const;

/** One of the environment variable names in {@link ENV}. */
export type EnvName = (typeof ENV)[keyof typeof ENV];

import { ETCD_TLS_FILES, HOST_LAYOUT } from './host-layout.js';

/** Where a new cluster restores from when it is created as a clone of another scope's archive. */
export interface SpiloCloneInput {
  /** `SCOPE` of the cluster whose archive is restored. */
  readonly sourceScope: string;
  /** Bucket that holds the source archive. */
  readonly sourceBucketName: string;
  /** Recovery target with a timezone (ISO 8601); `undefined` restores to the end of the archive. */
  readonly targetTime?: string;
}

/** Everything the Spilo container's environment is derived from. Values may be CDK tokens. */
export interface SpiloEnvironmentInput {
  /** Patroni scope (cluster name); also the archive folder `spilo/<scope>/`. */
  readonly scope: string;
  /** PostgreSQL major version, e.g. `17`. */
  readonly pgVersion: string;
  /** AWS region of the archive bucket. */
  readonly region: string;
  /** Name of the archive bucket (`WAL_S3_BUCKET`). */
  readonly bucketName: string;
  /** etcd v3 client endpoints as `host:port`. */
  readonly etcdHosts: readonly string[];
  /** Cron expression for Spilo's `postgres_backup.sh`. */
  readonly backupSchedule: string;
  /** `BACKUP_NUM_TO_RETAIN`: Spilo uses it both as a count of backups and as a number of days. */
  readonly backupsToRetain: number;
  /** KMS key ARN: when set, WAL-G asks for SSE-KMS with it instead of Spilo's default AES256. */
  readonly kmsKeyArn?: string;
  /** Extra `WALG_*` settings passed through unchanged. */
  readonly walgSettings?: Readonly<Record<string, string>>;
  /** Clone source; renders Spilo's `CLONE_*` variables. */
  readonly cloneFrom?: SpiloCloneInput;
}

/**
 * The non-secret variables the seed setup sets on every Spilo container. The passwords
 * (`SECRET_ENVIRONMENT_NAMES`) come from Secrets Manager at start, never from the unit.
 */
export const SEED_ENVIRONMENT_NAMES = [
  'SCOPE',
  'PGVERSION',
  'ETCD3_HOSTS',
  'ETCD3_PROTOCOL',
  'ETCD3_CACERT',
  'ETCD3_CERT',
  'ETCD3_KEY',
  'AWS_REGION',
  'WAL_S3_BUCKET',
  'USE_WALG_BACKUP',
  'USE_WALG_RESTORE',
  'BACKUP_SCHEDULE',
  'BACKUP_NUM_TO_RETAIN',
  'PGUSER_SUPERUSER',
  'PGUSER_STANDBY',
  'PGUSER_ADMIN',
] as const;

/** Password variables, written to a tmpfs env file by the fetch script before each start. */
export const SECRET_ENVIRONMENT_NAMES = [
  'PGPASSWORD_SUPERUSER',
  'PGPASSWORD_STANDBY',
  'PGPASSWORD_ADMIN',
] as const;

/** `WALG_*` names the construct sets itself; passthrough settings may not override them. */
const RESERVED_WALG_NAMES = new Set(['WALG_S3_PREFIX', 'WALG_S3_SSE', 'WALG_S3_SSE_KMS_ID']);

const WALG_NAME = /^WALG_[A-Z0-9_]+$/;

/** Raised when the Spilo environment cannot be rendered from the given input. */
export class SpiloEnvironmentError extends Error {
  override readonly name = 'SpiloEnvironmentError';
}

/**
 * Builds the Spilo container's non-secret environment: the seed's variables, then walwatch's own.
 *
 * Ours are `SPILO_PROVIDER=local` (Spilo probes the instance metadata service without an IMDSv2
 * token, which fails on nodes that require IMDSv2; `local` takes the IP from the host name, which
 * is right with `--network host`), `WALG_S3_SSE`/`WALG_S3_SSE_KMS_ID` when the bucket uses KMS
 * (otherwise Spilo sends `AES256` and overrides the bucket's default key), the `WALG_*`
 * passthrough and, for a clone, `CLONE_*`.
 *
 * @example
 * ```ts
 * const env = buildSpiloEnvironment({ scope: 'demo', pgVersion: '17', region: 'eu-central-1',
 *   bucketName: 'wal', etcdHosts: ['etcd-1:2379'], backupSchedule: '0 1 * * *', backupsToRetain: 5 });
 * env.WAL_S3_BUCKET; // 'wal'
 * ```
 */
export function buildSpiloEnvironment(input: SpiloEnvironmentInput): Record<string, string> {
  if (input.etcdHosts.length === 0) {
    throw new SpiloEnvironmentError('etcdHosts must name at least one endpoint, got []');
  }
  const tls = HOST_LAYOUT.etcdTlsInContainer;
  const env: Record<string, string> = {
    SCOPE: input.scope,
    PGVERSION: input.pgVersion,
    // Spilo's documented list format: each host:port quoted, so its YAML parse keeps them strings.
    ETCD3_HOSTS: input.etcdHosts.map((host) => `"${host}"`).join(','),
    ETCD3_PROTOCOL: 'https',
    ETCD3_CACERT: `${tls}/${ETCD_TLS_FILES.ca}`,
    ETCD3_CERT: `${tls}/${ETCD_TLS_FILES.cert}`,
    ETCD3_KEY: `${tls}/${ETCD_TLS_FILES.key}`,
    AWS_REGION: input.region,
    WAL_S3_BUCKET: input.bucketName,
    USE_WALG_BACKUP: 'true',
    USE_WALG_RESTORE: 'true',
    BACKUP_SCHEDULE: input.backupSchedule,
    BACKUP_NUM_TO_RETAIN: String(input.backupsToRetain),
    PGUSER_SUPERUSER: 'postgres',
    PGUSER_STANDBY: 'standby',
    PGUSER_ADMIN: 'admin',
    SPILO_PROVIDER: 'local',
  };
  if (input.kmsKeyArn !== undefined) {
    env.WALG_S3_SSE = 'aws:kms';
    env.WALG_S3_SSE_KMS_ID = input.kmsKeyArn;
  }
  for (const [name, value] of Object.entries(input.walgSettings ?? {})) {
    if (!WALG_NAME.test(name)) {
      throw new SpiloEnvironmentError(`walgSettings keys must match ${WALG_NAME}, got '${name}'`);
    }
    if (RESERVED_WALG_NAMES.has(name)) {
      throw new SpiloEnvironmentError(`walgSettings may not set '${name}': walwatch derives it`);
    }
    env[name] = value;
  }
  if (input.cloneFrom !== undefined) {
    Object.assign(env, buildCloneEnvironment(input.cloneFrom, input.region));
  }
  for (const [name, value] of Object.entries(env)) {
    if (/[\r\n]/.test(value)) {
      throw new SpiloEnvironmentError(`${name} may not contain a line break, got ${JSON.stringify(value)}`);
    }
  }
  return env;
}

function buildCloneEnvironment(clone: SpiloCloneInput, region: string): Record<string, string> {
  // CLONE_PGVERSION stays unset on purpose: Spilo then tries …/wal/<ver>/ for every installed
  // version, newest first, so a clone across a major upgrade still finds its backups.
  const env: Record<string, string> = {
    CLONE_METHOD: 'CLONE_WITH_WALE',
    CLONE_SCOPE: clone.sourceScope,
    CLONE_WAL_S3_BUCKET: clone.sourceBucketName,
    CLONE_AWS_REGION: region,
    CLONE_USE_WALG_RESTORE: 'true',
  };
  if (clone.targetTime !== undefined) {
    env.CLONE_TARGET_TIME = clone.targetTime;
  }
  return env;
}

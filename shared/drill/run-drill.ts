/**
 * The restore drill engine: restores one cluster's backup from its archive with real PostgreSQL, lets
 * recovery replay the archived WAL through `walwatch wal-fetch`, and holds what the server reached against
 * walwatch's own prediction for the same target. `walwatch drill`, the local monitor's schedule and the
 * AWS drill task call {@link runDrill}.
 */
import type { DrillRecord } from '../core/drill.js';
import type { ClusterReport } from '../core/report.js';
import type { ArchiveSource } from '../sources/archive-source.js';

/** Where the archive lives, in a form `walwatch wal-fetch` can be pointed at from `restore_command`. */
export type DrillArchive =
  | {
      readonly kind: 'dir';
      /** The folder standing in for the bucket. */
      readonly dir: string;
    }
  | {
      readonly kind: 's3';
      readonly bucket: string;
      /** Key prefix of the bucket the clusters live under, `''` for the whole bucket. */
      readonly prefix: string;
      /** S3-compatible endpoint; passed on to `wal-fetch` as `AWS_ENDPOINT_URL`. */
      readonly endpoint?: string;
      readonly forcePathStyle?: boolean;
      readonly region?: string;
    };

/** A step of a running drill, for progress lines. */
export type DrillProgress =
  | { readonly phase: 'plan'; readonly message: string }
  | { readonly phase: 'download'; readonly part: string; readonly bytes: number; readonly totalBytes: number }
  | { readonly phase: 'unpack'; readonly part: string; readonly done: number; readonly total: number }
  | { readonly phase: 'start'; readonly message: string }
  | { readonly phase: 'replay'; readonly lsn: string }
  | { readonly phase: 'check'; readonly message: string }
  | { readonly phase: 'stop'; readonly message: string };

/** What {@link runDrill} needs. */
export interface RunDrillOptions {
  /** Where the archive lives; `restore_command` points `walwatch wal-fetch` at it. */
  readonly archive: DrillArchive;
  /** The opened archive, when the caller has one already. @default opened from `archive` */
  readonly source?: ArchiveSource;
  /** The cluster id: its archive root below the bucket, e.g. `spilo/superman/wal/15`. */
  readonly cluster: string;
  /** `latest`, an ISO 8601 time with a zone, or an LSN. @default 'latest' */
  readonly target?: string;
  /** Restore this backup instead of the one the restore plan chooses. */
  readonly backup?: string;
  /** Folder of the PostgreSQL server binaries (`postgres`, `pg_ctl`, `psql`). @default /usr/lib/postgresql/<major>/bin */
  readonly pgBin?: string;
  /** The OS user PostgreSQL runs as when this process is root (PostgreSQL refuses root). @default 'postgres' */
  readonly pgUser?: string;
  /** SQL whose single value is kept in the record, run on the restored server. */
  readonly checkSql?: string;
  /** Keep the scratch directory (data directory, log) instead of removing it. @default false */
  readonly keep?: boolean;
  /** Parent folder of the scratch directory. @default the OS temp folder */
  readonly scratchParent?: string;
  /** WAL segment size of the cluster, in bytes. @default 16 MiB */
  readonly segmentSize?: number;
  /**
   * The prediction to hold the restore against, e.g. the monitor's stored report of the cluster.
   * @default walwatch's analysis of the archive now, with segment content read for exact commit times
   */
  readonly prediction?: ClusterReport;
  /** How `restore_command` runs walwatch: the argv before `wal-fetch`. @default this checkout's `bin/walwatch.js` under the current Node */
  readonly walwatchCommand?: readonly string[];
  /** The longest a recovery may take before the drill fails. @default 6 h */
  readonly recoveryTimeoutMs?: number;
  /** Called as the drill advances. */
  readonly onProgress?: (event: DrillProgress) => void;
  /** The clock, ms since the epoch. */
  readonly now: () => number;
}

/** The drill cannot run at all: bad options, no PostgreSQL binaries, an unreadable archive. */
export class DrillSetupError extends Error {
  override readonly name = 'DrillSetupError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/**
 * Runs one restore drill and returns its record. A restore that goes wrong is a `failed` or `mismatch`
 * record, not an exception; {@link DrillSetupError} means the drill could not start (usage or access).
 *
 * @example
 * const record = await runDrill({ archive: { kind: 'dir', dir: '/backups' }, cluster: 'spilo/demo/wal/15', now: Date.now });
 * record.verdict // 'verified'
 */
export async function runDrill(options: RunDrillOptions): Promise<DrillRecord> {
  throw new DrillSetupError(`restore drills are not available yet (cluster ${options.cluster})`);
}

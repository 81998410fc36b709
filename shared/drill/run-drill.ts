/**
 * The restore drill engine: restores one cluster's backup from its archive with real PostgreSQL, lets
 * recovery replay the archived WAL through `walwatch wal-fetch`, and holds what the server reached against
 * walwatch's own prediction for the same target. `walwatch drill`, the local monitor's schedule and the
 * AWS drill task call {@link runDrill}.
 */

import { existsSync } from 'node:fs';
import { appendFile, chmod, chown, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RestoreStep } from '../core/delta-chain.js';
import {
  type DrillPoint,
  type DrillPrefetch,
  type DrillRecord,
  judgeDrill,
  normalizeMicros,
} from '../core/drill.js';
import { formatLsn, type Lsn, parseLsn } from '../core/lsn.js';
import type { ClusterReport } from '../core/report.js';
import { parseRestoreTarget, planRestore, type RestoreTarget } from '../core/restore-plan.js';
import type { SegmentSizeSetting } from '../core/segment-size.js';
import { parseTime } from '../core/time.js';
import { analyzeArchive } from '../sources/analyze-archive.js';
import type { ArchiveSource } from '../sources/archive-source.js';
import { openDirSource } from '../sources/dir-source.js';
import { openS3Source } from '../sources/s3-source.js';
import { predictDrill, type StopTarget } from './predict-drill.js';
import { planDeltaRestore, unpackDeltaChain } from './restore-chain.js';
import {
  parseRecoveryLog,
  type RestoreServer,
  readLogTail,
  resolveServerUser,
  type ServerUser,
  startRestoreServer,
} from './restore-server.js';
import {
  createEmptyFolders,
  listTarParts,
  MissingTarPartError,
  UnpackError,
  unpackTarParts,
} from './unpack-backup.js';
import { parseWalFetchBound } from './wal-fetch.js';
import { planPrefetch, startWalPrefetch, type WalPrefetch } from './wal-prefetch.js';

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
  | ({ readonly phase: 'prefetch' } & DrillPrefetch)
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
  readonly segmentSize?: SegmentSizeSetting;
  /**
   * The prediction to hold the restore against, e.g. the monitor's stored report of the cluster.
   * @default walwatch's analysis of the archive now, with segment content read for exact commit times
   */
  readonly prediction?: ClusterReport;
  /**
   * How `restore_command` runs walwatch: the argv before `wal-fetch`, e.g. `['walwatch']`.
   * @default `wal-fetch` bundled into the scratch folder, run by the current Node
   */
  readonly walwatchCommand?: readonly string[];
  /**
   * Download the WAL segments the prediction says recovery reads while PostgreSQL replays, into a folder of
   * the scratch directory that `restore_command` takes them from before it runs `wal-fetch`.
   * @default true
   */
  readonly prefetch?: boolean;
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
 * record, not an exception; {@link DrillSetupError} means the drill could not start (usage, access, no
 * PostgreSQL binaries, a delta backup walwatch cannot restore: one without files metadata, OrioleDB
 * increments).
 *
 * Steps: analyse the archive (or take `prediction`) and plan the restore for the target; predict where
 * recovery ends; download and unpack the backup's tar partitions (for a delta backup: its chain, the full
 * backup first and each delta over it, as `wal-g backup-fetch` does); write the recovery settings
 * (`restore_command` = a move out of the prefetch folder, else `walwatch wal-fetch`; the target;
 * `recovery_target_action = 'promote'`); start the WAL prefetch (`prefetch`, see `wal-prefetch.ts`) and
 * PostgreSQL as an unprivileged user on a unix socket in a scratch folder; wait for recovery to end; read
 * what it reached; run `checkSql`; stop the server; remove the scratch folder unless `keep`.
 *
 * @example
 * const record = await runDrill({ archive: { kind: 'dir', dir: '/backups' }, cluster: 'spilo/demo/wal/15', now: Date.now });
 * record.verdict // 'verified'
 */
export async function runDrill(options: RunDrillOptions): Promise<DrillRecord> {
  const { now, cluster } = options;
  const startedAt = new Date(now()).toISOString();
  const targetText = options.target ?? 'latest';
  const parsed = parseRestoreTarget(targetText);
  if (!parsed.ok) throw new DrillSetupError(parsed.error);
  const target = parsed.target;
  const progress = options.onProgress ?? (() => undefined);
  const source = options.source ?? (await openArchive(options.archive));

  progress({ phase: 'plan', message: `analysing ${source.description} (${cluster})` });
  const report = options.prediction ?? (await analyzeCluster(source, options));
  const base = {
    startedAt,
    cluster,
    target: targetText,
    consistentLsn: null,
    checkResult: null,
    logTail: null,
    downloadedBytes: 0,
  };
  const empty: DrillPoint = { timeline: null, lsn: null, lastCommitTime: null };
  const failed = (fields: Partial<DrillRecord> & { reason: string }): DrillRecord => ({
    ...base,
    backup: null,
    predicted: empty,
    reached: empty,
    ...fields,
    verdict: 'failed',
    finishedAt: new Date(now()).toISOString(),
  });

  const choice = chooseBackup(report, target, options.backup);
  if ('reason' in choice) return failed({ reason: choice.reason });
  const { backup, recoverToEnd } = choice;
  const backupReport = report.backups.find((b) => b.name === backup);
  let chain: RestoreStep[] | null = null;
  if (backupReport?.delta || backup.includes('_D_')) {
    const planned = await planDeltaRestore(source, cluster, backup);
    if (!planned.ok) {
      if (planned.kind === 'unsupported')
        throw new DrillSetupError(`unsupported: delta backup ${backup}: ${planned.error}`);
      return failed({ backup, reason: `delta backup ${backup} cannot be restored: ${planned.error}` });
    }
    chain = planned.steps;
    progress({
      phase: 'plan',
      message: `delta chain of ${backup}: ${chain.map((step) => step.backup).join(' → ')}`,
    });
  }
  const startLsn = parseLsn(backupReport?.startLsn ?? '');
  if (startLsn === undefined)
    return failed({ backup, reason: `backup ${backup} has no start LSN in the archive` });

  const stopTarget: StopTarget = recoverToEnd ? { kind: 'latest' } : stopTargetOf(target, targetText);
  progress({ phase: 'plan', message: `restoring ${backup} to ${targetText}` });
  const prediction = await predictDrill(source, report, stopTarget, startLsn);
  const notes = [...prediction.notes];
  if (recoverToEnd && target.kind !== 'latest')
    notes.push(`${targetText} is after the last archived transaction: restored to the end of the archive`);

  const pgBin =
    options.pgBin ?? `/usr/lib/postgresql/${report.pgMajor ?? majorOf(backupReport?.pgVersion)}/bin`;
  if (!existsSync(join(pgBin, 'postgres')))
    throw new DrillSetupError(`no PostgreSQL server binaries in ${pgBin}: pass --pg-bin`);
  const user = await resolveServerUser(options.pgUser ?? 'postgres');
  if (!user)
    throw new DrillSetupError(
      `PostgreSQL refuses to run as root and there is no user ${options.pgUser ?? 'postgres'}: pass --pg-user`,
    );

  const scratch = await mkdtemp(join(options.scratchParent ?? tmpdir(), 'walwatch-drill-'));
  const paths = {
    scratch,
    dataDir: join(scratch, 'data'),
    socketDir: join(scratch, 'socket'),
    logFile: join(scratch, 'postgres.log'),
    prefetchDir: join(scratch, 'prefetch'),
  };
  let server: RestoreServer | undefined;
  let prefetch: WalPrefetch | undefined;
  let downloadedBytes = 0;
  const timings = { downloadMs: 0, unpackMs: 0, replayMs: 0 };
  const predicted = prediction.point;
  try {
    await chmod(scratch, 0o711);
    for (const dir of [paths.dataDir, paths.socketDir]) {
      await mkdir(dir, { mode: 0o700 });
      await chown(dir, user.uid, user.gid);
    }
    try {
      const unpackOptions = {
        ...(user.switchUser ? { owner: { uid: user.uid, gid: user.gid } } : {}),
        onProgress: progress,
      };
      const unpacked = chain
        ? await unpackDeltaChain(source, cluster, chain, paths.dataDir, unpackOptions)
        : await unpackTarParts(
            source,
            await listTarParts(source, cluster, backup),
            paths.dataDir,
            unpackOptions,
          );
      downloadedBytes = unpacked.downloadedBytes;
      timings.downloadMs = Math.round(unpacked.downloadMs);
      timings.unpackMs = Math.round(unpacked.unpackMs);
    } catch (error) {
      if (error instanceof MissingTarPartError || error instanceof UnpackError)
        return failed({ backup, predicted, reason: error.message, downloadedBytes, timings, notes });
      throw error;
    }
    const walFetch = options.walwatchCommand
      ? [...options.walwatchCommand, 'wal-fetch']
      : await defaultWalFetchCommand(scratch);
    const newest = newestPredictedSegments(report);
    const until = newest.length > 0 ? ['--until', newest.join(',')] : [];
    const prefetching = options.prefetch ?? true;
    if (prefetching) {
      await mkdir(paths.prefetchDir, { mode: 0o700 });
      await chown(paths.prefetchDir, user.uid, user.gid);
    }
    await prepareDataDir(
      paths,
      user,
      recoverySettings(
        options,
        target,
        targetText,
        recoverToEnd,
        paths,
        [...walFetch, ...until],
        prefetching ? paths.prefetchDir : undefined,
      ),
    );

    if (prefetching) {
      const segments = planPrefetch(
        report,
        startLsn,
        prediction.endLsn,
        newest.length > 0 ? parseWalFetchBound(newest.join(',')) : undefined,
      );
      prefetch = startWalPrefetch({
        reader: source,
        root: cluster,
        segments,
        dir: paths.prefetchDir,
        segmentSize: report.segmentSize,
        ...(user.switchUser ? { owner: { uid: user.uid, gid: user.gid } } : {}),
        onProgress: (counts) => progress({ phase: 'prefetch', ...counts }),
      });
    }
    progress({ phase: 'start', message: `starting PostgreSQL on ${paths.socketDir}` });
    const replayStarted = performance.now();
    server = await startRestoreServer({
      pgBin,
      ...paths,
      user,
      roles: [...new Set([user.name ?? process.env.USER ?? 'postgres', 'postgres'])],
    });
    const running = prefetch;
    const outcome = await waitForRecovery(server, options.recoveryTimeoutMs ?? 6 * 3600_000, (event) => {
      if (event.phase === 'replay') {
        const lsn = parseLsn(event.lsn);
        if (lsn !== undefined) running?.noteReplayed(lsn);
      }
      progress(event);
    });
    timings.replayMs = Math.round(performance.now() - replayStarted);
    const prefetched = await prefetch?.stop();
    const logText = await readFile(paths.logFile, 'utf8').catch(() => '');
    const recoveryLog = parseRecoveryLog(logText);
    const logTail = await readLogTail(paths.logFile);
    const common = {
      ...base,
      backup,
      predicted,
      consistentLsn: recoveryLog.consistentLsn,
      downloadedBytes,
      timings,
      ...(prefetched ? { prefetch: prefetched } : {}),
      notes,
    };
    if (outcome.kind !== 'promoted') {
      const reason =
        outcome.kind === 'timeout'
          ? `recovery did not end within ${Math.round((options.recoveryTimeoutMs ?? 0) / 1000)} s`
          : recoveryLog.consistentLsn === null
            ? 'PostgreSQL stopped before reaching a consistent state'
            : recoveryLog.targetNotReached
              ? 'recovery ended before reaching the target'
              : 'PostgreSQL stopped during recovery';
      const reached: DrillPoint = {
        timeline: recoveryLog.lastRestoredTimeline,
        lsn: recoveryLog.redoDoneLsn,
        lastCommitTime: normalizeMicros(recoveryLog.lastTransactionTime),
      };
      const mismatch = recoveryLog.consistentLsn !== null && outcome.kind === 'exited';
      return {
        ...common,
        verdict: mismatch ? 'mismatch' : 'failed',
        reached,
        checkResult: null,
        reason,
        logTail,
        finishedAt: new Date(now()).toISOString(),
      };
    }
    const reached = await readReached(server, paths.dataDir);
    if ('error' in reached)
      return {
        ...common,
        verdict: 'failed',
        reached: empty,
        checkResult: null,
        reason: reached.error,
        logTail,
        finishedAt: new Date(now()).toISOString(),
      };
    let checkResult: string | null = null;
    if (options.checkSql !== undefined) {
      progress({ phase: 'check', message: options.checkSql });
      const result = await server.query(options.checkSql);
      if ('text' in result) checkResult = result.text;
      else notes.push(`--check-sql failed: ${result.error}`);
    }
    const judged = judgeDrill(
      { ...predicted, lastRecordLsn: lsnText(prediction.lastRecordLsn) },
      reached.point,
    );
    return {
      ...common,
      verdict: judged.verdict,
      reached: reached.point,
      checkResult,
      reason: judged.reason,
      logTail: judged.verdict === 'verified' ? null : logTail,
      finishedAt: new Date(now()).toISOString(),
    };
  } finally {
    progress({ phase: 'stop', message: options.keep ? `kept ${scratch}` : `removing ${scratch}` });
    await prefetch?.stop();
    await server?.stop();
    if (!options.keep) await rm(scratch, { recursive: true, force: true });
  }
}

async function openArchive(archive: DrillArchive): Promise<ArchiveSource> {
  if (archive.kind === 'dir') return openDirSource(archive.dir);
  return openS3Source({
    bucket: archive.bucket,
    prefix: archive.prefix,
    ...(archive.endpoint === undefined ? {} : { endpoint: archive.endpoint }),
    ...(archive.forcePathStyle === undefined ? {} : { forcePathStyle: archive.forcePathStyle }),
    ...(archive.region === undefined ? {} : { region: archive.region }),
  });
}

async function analyzeCluster(source: ArchiveSource, options: RunDrillOptions): Promise<ClusterReport> {
  const segmentSize = options.segmentSize;
  const report = await analyzeArchive(source, {
    now: options.now(),
    cluster: options.cluster,
    content: true,
    ...(segmentSize === undefined ? {} : { segmentSizeOf: () => segmentSize }),
  });
  const found = report.clusters.find((c) => c.id === options.cluster);
  if (!found)
    throw new DrillSetupError(`no cluster ${JSON.stringify(options.cluster)} in ${source.description}`);
  return found;
}

/**
 * The backup to restore: the given one, or the restore plan's. A time after the last archived commit
 * restores the latest backup to the end of the archive: all the WAL there is lies before the target.
 */
function chooseBackup(
  report: ClusterReport,
  target: RestoreTarget,
  forced: string | undefined,
): { backup: string; recoverToEnd: boolean } | { reason: string } {
  const lastCommit = report.latestRecoverable?.lastCommitTime ?? null;
  const afterEnd = target.kind === 'time' && lastCommit !== null && target.ms >= parseTime(lastCommit);
  const plan = planRestore(report, afterEnd ? { kind: 'latest' } : target);
  const recoverToEnd = afterEnd || target.kind === 'latest';
  if (forced !== undefined) {
    if (!report.backups.some((b) => b.name === forced))
      return { reason: `backup ${forced} is not in the archive of ${report.id}` };
    return { backup: forced, recoverToEnd };
  }
  if (!plan.reachable || plan.backup === null)
    return {
      reason: `the restore plan finds no way to ${target.kind === 'latest' ? 'restore' : 'reach the target'}: ${plan.reason}`,
    };
  return { backup: plan.backup, recoverToEnd };
}

function stopTargetOf(target: RestoreTarget, text: string): StopTarget {
  if (target.kind === 'lsn') return { kind: 'lsn', lsn: target.value };
  if (target.kind === 'time') return { kind: 'time', micros: microsOf(text) };
  return { kind: 'latest' };
}

/** µs since the epoch of an ISO time with a zone, keeping fraction digits beyond milliseconds. */
function microsOf(text: string): bigint {
  const normalized = normalizeMicros(text.trim().replace(' ', 'T')) ?? '';
  const ms = Date.parse(`${normalized.slice(0, 19)}Z`);
  return BigInt(ms) * 1000n + BigInt(normalized.slice(20, 26) || '0');
}

function majorOf(pgVersion: number | null | undefined): string {
  return pgVersion ? String(Math.floor(pgVersion / 10000)) : '15';
}

function lsnText(lsn: Lsn | null): string | null {
  return lsn === null ? null : formatLsn(lsn);
}

function quoteShell(value: string): string {
  return /^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replaceAll("'", `'\\''`)}'`;
}

/**
 * A word of `restore_command`: shell-quoted, with each `%` doubled, since PostgreSQL reads `%f`, `%p`, `%r`
 * and `%%` in the whole command before the shell sees it (a folder named `100%full` would become the WAL
 * file's name).
 */
export function restoreCommandWord(value: string): string {
  return quoteShell(value).replaceAll('%', '%%');
}

/**
 * The drill's `restore_command`: `wal-fetch` with its archive options, after a move out of the prefetch
 * folder when there is one. A file the prefetch does not hold (not fetched yet, not planned, a history
 * file, one whose read failed) makes `mv` fail silently and `wal-fetch` fetch it.
 */
export function buildRestoreCommand(
  walFetch: readonly string[],
  from: readonly string[],
  prefetchDir?: string,
): string {
  const fetch = `${walFetch.map(restoreCommandWord).join(' ')} "%f" "%p" ${from.map(restoreCommandWord).join(' ')}`;
  return prefetchDir === undefined
    ? fetch
    : `mv -f ${restoreCommandWord(prefetchDir)}/"%f" "%p" 2>/dev/null || ${fetch}`;
}

function quoteSetting(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

let walFetchBundle: Promise<Uint8Array | undefined> | undefined;

/**
 * How `restore_command` runs `walwatch wal-fetch` by default: the command bundled into one JavaScript file
 * in the scratch folder (built once per process) and run by the current Node, so each call starts in about
 * 0.1 s rather than loading the TypeScript toolchain first; this checkout's launcher when bundling is not
 * possible.
 */
async function defaultWalFetchCommand(scratch: string): Promise<string[]> {
  walFetchBundle ??= bundleWalFetch();
  const bundle = await walFetchBundle;
  if (!bundle)
    return [process.execPath, fileURLToPath(new URL('../../bin/walwatch.js', import.meta.url)), 'wal-fetch'];
  const file = join(scratch, 'wal-fetch.mjs');
  await writeFile(file, bundle, { mode: 0o644 });
  return [process.execPath, file];
}

async function bundleWalFetch(): Promise<Uint8Array | undefined> {
  const entry = fileURLToPath(new URL('../../cli/wal-fetch-entry.ts', import.meta.url));
  if (!existsSync(entry)) return undefined;
  try {
    const { build } = await import('esbuild');
    const result = await build({
      entryPoints: [entry],
      write: false,
      outfile: 'wal-fetch.mjs',
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      logLevel: 'silent',
      // CommonJS packages inside an ESM bundle still call require.
      banner: {
        js: "import { createRequire as __walwatchRequire } from 'node:module'; const require = __walwatchRequire(import.meta.url);",
      },
    });
    return result.outputFiles[0]?.contents;
  } catch {
    return undefined;
  }
}

/** The `postgresql.auto.conf` lines of a drill: recovery from the archive, private socket, no archiving. */
/**
 * The newest segment of each timeline the prediction saw, for `wal-fetch --until` and the prefetch: WAL
 * archived while the drill restores (a live cluster keeps archiving) must not carry recovery past the
 * predicted point.
 */
function newestPredictedSegments(report: ClusterReport): string[] {
  return report.timelines.flatMap((timeline) => (timeline.lastSegment ? [timeline.lastSegment] : []));
}

function recoverySettings(
  options: RunDrillOptions,
  target: RestoreTarget,
  targetText: string,
  recoverToEnd: boolean,
  paths: { scratch: string; socketDir: string },
  walFetch: readonly string[],
  prefetchDir: string | undefined,
): Record<string, string> {
  const archive = options.archive;
  const root = options.cluster;
  const from =
    archive.kind === 'dir'
      ? ['--dir', join(archive.dir, ...root.split('/').filter(Boolean))]
      : [
          '--from',
          `s3://${archive.bucket}/${root}`,
          ...(archive.endpoint ? ['--endpoint', archive.endpoint] : []),
          ...(archive.forcePathStyle ? ['--path-style'] : []),
          ...(archive.region ? ['--region', archive.region] : []),
        ];
  const settings: Record<string, string> = {
    listen_addresses: '',
    unix_socket_directories: paths.socketDir,
    port: '5432',
    hba_file: join(paths.scratch, 'pg_hba.conf'),
    ident_file: join(paths.scratch, 'pg_ident.conf'),
    archive_mode: 'off',
    hot_standby: 'on',
    primary_conninfo: '',
    primary_slot_name: '',
    // Extensions of the source (Spilo's bg_mon, pg_stat_statements …) need not be installed where the drill runs.
    shared_preload_libraries: '',
    ssl: 'off',
    logging_collector: 'off',
    log_destination: 'stderr',
    log_min_messages: 'log',
    log_timezone: 'UTC',
    timezone: 'UTC',
    // Scratch data: nothing to make durable.
    fsync: 'off',
    synchronous_commit: 'off',
    restore_command: buildRestoreCommand(walFetch, from, prefetchDir),
    recovery_target_timeline: 'latest',
    recovery_target_action: 'promote',
  };
  if (!recoverToEnd) {
    // PostgreSQL's timestamp input wants a space, not ISO's T, and reads Z only as +00.
    if (target.kind === 'time')
      settings.recovery_target_time = targetText.trim().replace('T', ' ').replace(/Z$/i, '+00');
    if (target.kind === 'lsn') settings.recovery_target_lsn = target.lsn;
  }
  return settings;
}

async function prepareDataDir(
  paths: { scratch: string; dataDir: string; logFile: string },
  user: ServerUser,
  settings: Record<string, string>,
): Promise<void> {
  const { dataDir } = paths;
  await createEmptyFolders(dataDir);
  for (const stale of ['postmaster.pid', 'standby.signal', 'recovery.conf'])
    await rm(join(dataDir, stale), { force: true });
  if (!existsSync(join(dataDir, 'postgresql.conf'))) await writeFile(join(dataDir, 'postgresql.conf'), '');
  await writeFile(join(dataDir, 'recovery.signal'), '');
  const lines = Object.entries(settings).map(([key, value]) => `${key} = ${quoteSetting(value)}`);
  await appendFile(join(dataDir, 'postgresql.auto.conf'), `\n# walwatch drill\n${lines.join('\n')}\n`);
  // Only the server's own OS user may connect: the socket folder is private to it.
  await writeFile(join(paths.scratch, 'pg_hba.conf'), 'local all all trust\n');
  await writeFile(join(paths.scratch, 'pg_ident.conf'), '');
  await writeFile(paths.logFile, '');
  for (const file of ['pg_hba.conf', 'pg_ident.conf', 'postgres.log'])
    await chown(join(paths.scratch, file), user.uid, user.gid);
  await chownTree(dataDir, user);
  await chmod(dataDir, 0o700);
}

async function chownTree(dir: string, user: ServerUser): Promise<void> {
  await chown(dir, user.uid, user.gid);
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    const path = join(entry.parentPath, entry.name);
    if (entry.isSymbolicLink()) continue;
    await chown(path, user.uid, user.gid);
  }
}

const POLL_MS = 300;

async function waitForRecovery(
  server: RestoreServer,
  timeoutMs: number,
  progress: (event: DrillProgress) => void,
): Promise<{ kind: 'promoted' } | { kind: 'exited' } | { kind: 'timeout' }> {
  const deadline = performance.now() + timeoutMs;
  let lastLsn = '';
  for (;;) {
    if (server.isDone()) return { kind: 'exited' };
    if (performance.now() > deadline) return { kind: 'timeout' };
    if (await server.isReady()) {
      const state = await server.query('SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn();');
      if ('text' in state) {
        const [inRecovery, lsn = ''] = state.text.split('|');
        if (lsn && lsn !== lastLsn) {
          lastLsn = lsn;
          progress({ phase: 'replay', lsn });
        }
        if (inRecovery === 'f') return { kind: 'promoted' };
      }
    }
    await Promise.race([server.exited, new Promise((resolve) => setTimeout(resolve, POLL_MS))]);
  }
}

/** Reads the end of replay, the last transaction time, and the timeline recovery followed (history file). */
async function readReached(
  server: RestoreServer,
  dataDir: string,
): Promise<{ point: DrillPoint } | { error: string }> {
  const result = await server.query(
    `SELECT pg_last_wal_replay_lsn(), coalesce(to_char(pg_last_xact_replay_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), '');`,
  );
  if ('error' in result) return { error: `cannot read what recovery reached: ${result.error}` };
  const [lsn = '', time = ''] = result.text.split('|');
  const histories = (await readdir(join(dataDir, 'pg_wal')))
    .filter((name) => /^[0-9A-F]{8}\.history$/.test(name))
    .sort();
  const newest = histories.at(-1);
  let timeline: number | null = null;
  if (newest) {
    const entries = (await readFile(join(dataDir, 'pg_wal', newest), 'utf8'))
      .split('\n')
      .filter((line) => /^\d+\s/.test(line.trim()));
    timeline = Number(/^\s*(\d+)/.exec(entries.at(-1) ?? '')?.[1] ?? Number.NaN);
    if (!Number.isFinite(timeline)) timeline = null;
  }
  return { point: { timeline, lsn: lsn || null, lastCommitTime: time || null } };
}

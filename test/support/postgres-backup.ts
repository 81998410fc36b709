import { chown, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { type ArchiveLayout, compressLz4, quoteShell, storeObject } from './postgres-archive.js';
import { type OsUser, runCommand } from './postgres-exec.js';
import { parsePgLsn } from './postgres-wal.js';

/** What a WAL-G-style base backup stored and what PostgreSQL reported while taking it. */
export interface BaseBackupFacts {
  /** `base_<start WAL file>`. */
  readonly name: string;
  /** Timeline of the start WAL file. */
  readonly timeline: number;
  /** `pg_backup_start()`'s LSN (the checkpoint's redo pointer), `%X/%X`. */
  readonly startLsn: string;
  /** `pg_backup_stop()`'s LSN: the end of the backup, where a restore becomes consistent. */
  readonly finishLsn: string;
  /** `pg_walfile_name_offset(startLsn)`: file name and byte offset. */
  readonly startWalFile: string;
  readonly startWalOffset: number;
  /** `pg_walfile_name(finishLsn)`: the last WAL file the backup needs. */
  readonly stopWalFile: string;
  /** Sentinel `StartTime` / `FinishTime` (RFC 3339 with up to nanoseconds, UTC). */
  readonly startTime: string;
  readonly finishTime: string;
  /** `pg_controldata`'s database system identifier, exact (it exceeds 2^53). */
  readonly systemIdentifier: string;
  /** `server_version_num`. */
  readonly pgVersion: number;
  /** The `backup_label` text pg_backup_stop returned. */
  readonly backupLabel: string;
  /** Keys written, relative to the archive root, in the order written (the sentinel is last). */
  readonly keys: readonly string[];
  /** The sentinel and `metadata.json` exactly as stored. */
  readonly sentinelJson: string;
  readonly metadataJson: string;
}

/** What {@link takeWalgBaseBackup} needs from a running server. */
export interface BackupSource {
  readonly dataDir: string;
  readonly osUser: OsUser;
  /** A folder for scratch files, created when missing. */
  readonly scratchDir: string;
  runSql(sql: string): Promise<string>;
  readControlData(): Promise<Readonly<Record<string, string>>>;
}

const DATE_FMT = '%Y-%m-%dT%H:%M:%S.%fZ';
/** Microsecond UTC timestamp as PostgreSQL sees it, in a shape close to Go's RFC3339Nano. */
const NOW_UTC = `to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;
/** What WAL-G leaves out of the data tar (its exclusion list), and pg_control, which gets its own tar. */
const EXCLUDED = [
  './pg_wal/*',
  './pg_replslot/*',
  './pg_stat_tmp/*',
  './pg_dynshmem/*',
  './pg_notify/*',
  './pg_serial/*',
  './pg_snapshots/*',
  './pg_subtrans/*',
  './postmaster.pid',
  './postmaster.opts',
  './backup_label',
  './tablespace_map',
  './standby.signal',
  './recovery.signal',
  './global/pg_control',
];

/**
 * Takes a base backup the way `wal-g backup-push` does on a primary (walg-layout §2.6–2.9) and stores it in
 * `archive`:
 *
 * 1. in ONE `psql` session: `pg_backup_start(label, true)` with `pg_walfile_name_offset` of its LSN (the
 *    backup name is `base_<file_name>`), a copy of the data directory (tar, run through psql's `\!` while
 *    the backup is in progress), then `pg_backup_stop(true)`, which waits until the stop segment is
 *    archived;
 * 2. `basebackups_005/<name>/tar_partitions/part_001.tar.lz4`, `pg_control.tar.lz4`, `backup_label.tar.lz4`,
 *    then `basebackups_005/<name>/metadata.json` (ExtendedMetadataDto);
 * 3. last the sentinel `basebackups_005/<name>_backup_stop_sentinel.json` with WAL-G's current field set,
 *    `SystemIdentifier` written as exact JSON text from `pg_controldata`.
 *
 * The tar files are stored after `pg_backup_stop` (WAL-G uploads data tars before it); only the sentinel's
 * position matters to readers.
 */
export async function takeWalgBaseBackup(
  source: BackupSource,
  archive: ArchiveLayout,
  options: { permanent?: boolean } = {},
): Promise<BaseBackupFacts> {
  await mkdir(source.scratchDir, { recursive: true, mode: 0o755 });
  const scratch = await mkdtemp(join(source.scratchDir, 'backup-'));
  await chown(scratch, source.osUser.uid, source.osUser.gid);
  try {
    return await takeBackupInto(scratch, source, archive, options.permanent ?? false);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

async function takeBackupInto(
  scratch: string,
  source: BackupSource,
  archive: ArchiveLayout,
  permanent: boolean,
): Promise<BaseBackupFacts> {
  const copyScript = join(scratch, 'copy.sh');
  const statusFile = join(scratch, 'copy.status');
  await writeFile(
    copyScript,
    `#!/bin/sh
# Copies the data directory while the backup is in progress. GNU tar exits 1 when a file changed while it
# was read, which is expected for a live cluster.
cd ${quoteShell(source.dataDir)} || { echo 2 > ${quoteShell(statusFile)}; exit 2; }
tar --create --file ${quoteShell(join(scratch, 'part_001.tar'))} \\
  --warning=no-file-changed --warning=no-file-removed --warning=no-file-shrank \\
  ${EXCLUDED.map((pattern) => `--exclude=${quoteShell(pattern)}`).join(' ')} .
status=$?
if [ "$status" -le 1 ]; then
  tar --create --file ${quoteShell(join(scratch, 'pg_control.tar'))} ./global/pg_control || status=$?
fi
echo "$status" > ${quoteShell(statusFile)}
`,
    { mode: 0o755 },
  );

  const label = formatGoTime(new Date());
  const output = await source.runSql(`
    SELECT json_build_object('time', ${NOW_UTC})::text;
    SELECT json_build_object('lsn', lsn::text, 'file_name', file_name, 'file_offset', file_offset)::text
      FROM (SELECT lsn, (pg_walfile_name_offset(lsn)).* FROM pg_backup_start('${label}', true) AS lsn) AS started;
    \\! /bin/sh ${quoteShell(copyScript)}
    SELECT json_build_object('lsn', lsn::text, 'stop_file', pg_walfile_name(lsn), 'labelfile', labelfile,
        'spcmapfile', spcmapfile, 'time', ${NOW_UTC})::text
      FROM pg_backup_stop(true);
    SELECT json_build_object('pg_version', current_setting('server_version_num')::int,
        'data_dir', current_setting('data_directory'))::text;
  `);
  const [startClock, started, stopped, server] = output.split('\n').map((line) => JSON.parse(line)) as [
    { time: string },
    { lsn: string; file_name: string; file_offset: number },
    { lsn: string; stop_file: string; labelfile: string; spcmapfile: string; time: string },
    { pg_version: number; data_dir: string },
  ];
  const copyStatus = (await readFile(statusFile, 'utf8').catch(() => 'missing')).trim();
  if (copyStatus !== '0' && copyStatus !== '1')
    throw new Error(`copying the data directory failed (${copyStatus})`);

  const systemIdentifier = (await source.readControlData())['Database system identifier'] ?? '';
  if (!/^\d+$/.test(systemIdentifier)) throw new Error(`unexpected system identifier '${systemIdentifier}'`);

  const name = `base_${started.file_name}`;
  const folder = `basebackups_005/${name}`;
  const keys: string[] = [];
  let uncompressedSize = 0;
  let compressedSize = 0;
  const storeTar = async (tarName: string) => {
    const tar = join(scratch, `${tarName}.tar`);
    await compressLz4(tar, `${tar}.lz4`);
    uncompressedSize += (await stat(tar)).size;
    compressedSize += (await stat(`${tar}.lz4`)).size;
    const key = `${folder}/tar_partitions/${tarName}.tar.lz4`;
    await storeObject(archive, key, { fromPath: `${tar}.lz4` });
    keys.push(key);
  };
  const dataCatalogSize =
    (await sumTarMemberSizes(join(scratch, 'part_001.tar'))) +
    (await sumTarMemberSizes(join(scratch, 'pg_control.tar')));
  await storeTar('part_001');
  await storeTar('pg_control');

  const labelDir = join(scratch, 'label');
  await mkdir(labelDir);
  await writeFile(join(labelDir, 'backup_label'), stopped.labelfile);
  const labelMembers = ['backup_label'];
  if (stopped.spcmapfile) {
    await writeFile(join(labelDir, 'tablespace_map'), stopped.spcmapfile);
    labelMembers.push('tablespace_map');
  }
  await runCommand('tar', [
    '--create',
    '--file',
    join(scratch, 'backup_label.tar'),
    '--numeric-owner',
    `--owner=${source.osUser.uid}`,
    `--group=${source.osUser.gid}`,
    '-C',
    labelDir,
    ...labelMembers,
  ]);
  await storeTar('backup_label');

  const startTime = toRfc3339Nano(startClock.time);
  const finishTime = toRfc3339Nano(stopped.time);
  const startLsn = parsePgLsn(started.lsn).toString();
  const finishLsn = parsePgLsn(stopped.lsn).toString();
  const host = hostname();
  // Written as text: JSON.stringify cannot carry a 64-bit integer such as SystemIdentifier exactly.
  const metadataJson = writeJsonObject([
    ['start_time', JSON.stringify(startTime)],
    ['finish_time', JSON.stringify(finishTime)],
    ['date_fmt', JSON.stringify(DATE_FMT)],
    ['hostname', JSON.stringify(host)],
    ['data_dir', JSON.stringify(server.data_dir)],
    ['pg_version', String(server.pg_version)],
    ['start_lsn', startLsn],
    ['finish_lsn', finishLsn],
    ['is_permanent', String(permanent)],
    ['system_identifier', systemIdentifier],
    ['uncompressed_size', String(uncompressedSize)],
    ['compressed_size', String(compressedSize)],
  ]);
  await storeObject(archive, `${folder}/metadata.json`, { body: metadataJson });
  keys.push(`${folder}/metadata.json`);

  const sentinelJson = writeJsonObject([
    ['LSN', startLsn],
    ['PgVersion', String(server.pg_version)],
    ['FinishLSN', finishLsn],
    ['SystemIdentifier', systemIdentifier],
    ['UncompressedSize', String(uncompressedSize)],
    ['CompressedSize', String(compressedSize)],
    ['DataCatalogSize', String(dataCatalogSize)],
    // No files_metadata.json is written, which WAL-G records this way.
    ['FilesMetadataDisabled', 'true'],
    ['ChkpNum', 'null'],
    ['Version', '2'],
    ['StartTime', JSON.stringify(startTime)],
    ['FinishTime', JSON.stringify(finishTime)],
    ['DateFmt', JSON.stringify(DATE_FMT)],
    ['Hostname', JSON.stringify(host)],
    ['DataDir', JSON.stringify(server.data_dir)],
    ['IsPermanent', String(permanent)],
  ]);
  const sentinelKey = `basebackups_005/${name}_backup_stop_sentinel.json`;
  await storeObject(archive, sentinelKey, { body: sentinelJson });
  keys.push(sentinelKey);

  return {
    name,
    timeline: Number.parseInt(started.file_name.slice(0, 8), 16),
    startLsn: started.lsn,
    finishLsn: stopped.lsn,
    startWalFile: started.file_name,
    startWalOffset: started.file_offset,
    stopWalFile: stopped.stop_file,
    startTime,
    finishTime,
    systemIdentifier,
    pgVersion: server.pg_version,
    backupLabel: stopped.labelfile,
    keys,
    sentinelJson,
    metadataJson,
  };
}

/** Joins already-encoded JSON values into an object, keeping the key order given. */
function writeJsonObject(fields: ReadonlyArray<readonly [string, string]>): string {
  return `{${fields.map(([key, value]) => `${JSON.stringify(key)}:${value}`).join(',')}}`;
}

/** `2026-11-24T16:30:00.123450Z` → `2026-11-24T16:30:00.12345Z`: Go's RFC3339Nano drops trailing zeros. */
function toRfc3339Nano(timestamp: string): string {
  return timestamp.replace(/\.(\d*?)0*Z$/, (_, digits: string) => (digits ? `.${digits}Z` : 'Z'));
}

/** WAL-G's backup label is Go's `time.Time.String()` of the start, e.g. `2026-11-24 16:30:00.123 +0000 UTC`. */
function formatGoTime(date: Date): string {
  return `${date.toISOString().replace('T', ' ').replace('Z', '')} +0000 UTC`;
}

async function sumTarMemberSizes(tarPath: string): Promise<number> {
  const listing = (await runCommand('tar', ['--list', '--verbose', '--numeric-owner', '--file', tarPath]))
    .stdout;
  let total = 0;
  for (const line of listing.toString('utf8').split('\n')) {
    // -rw------- 101/104        8192 2026-11-24 16:30 ./base/1/1259
    const match = /^-\S+\s+\S+\s+(\d+)\s/.exec(line);
    if (match) total += Number(match[1]);
  }
  return total;
}

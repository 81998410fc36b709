/**
 * Restore drills with PostgreSQL 15 on archives written during the test: the drill restores the backup
 * the plan chooses, PostgreSQL replays the archive through `walwatch wal-fetch`, and what it reached is
 * held against walwatch's prediction. Each verified drill also counts, on the restored server, the rows
 * inserted before the target. LSN targets are held to `recovery_target_lsn`'s inclusive meaning: the
 * first record starting at or past the target is replayed, and nothing after it.
 */
import { spawn } from 'node:child_process';
import { chmod, cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it } from 'vitest';
import type { DrillRecord } from '../../../shared/core/drill.js';
import type { ClusterReport } from '../../../shared/core/report.js';
import { readPostmasterStatus } from '../../../shared/drill/restore-server.js';
import { DrillSetupError, type RunDrillOptions, runDrill } from '../../../shared/drill/run-drill.js';
import { analyzeArchive } from '../../../shared/sources/analyze-archive.js';
import { openDirSource } from '../../../shared/sources/dir-source.js';
import {
  type BaseBackupFacts,
  formatPgLsn,
  type PostgresHarness,
  parsePgLsn,
  startPostgres,
} from '../../support/postgres.js';
import { isRoot, POSTGRES_OS_USER } from '../../support/postgres-exec.js';

const COUNT_ROWS = 'SELECT count(*) FROM walwatch_load';
const COUNT_BOTH =
  "SELECT (SELECT count(*) FROM walwatch_load) || '/' || (SELECT count(*) FROM walwatch_single)";
const LAUNCHER = new URL('../../../bin/walwatch.js', import.meta.url).pathname;

/** Runs the `walwatch` CLI; resolves with its exit code and output. */
function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [LAUNCHER, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

function drillOptions(
  pg: PostgresHarness,
  cluster: string,
  extra: Partial<RunDrillOptions> = {},
): RunDrillOptions {
  return {
    archive: { kind: 'dir', dir: extra.archive?.kind === 'dir' ? extra.archive.dir : pg.bucketDir },
    cluster,
    segmentSize: pg.walSegmentSize,
    pgBin: '/usr/lib/postgresql/15/bin',
    ...(isRoot() ? { pgUser: POSTGRES_OS_USER } : {}),
    checkSql: COUNT_ROWS,
    scratchParent: pg.dir,
    now: Date.now,
    ...extra,
  };
}

/** Whether `lsn` lies after the start of `record` and no later than the start of the next one. */
function isAfterRecordStart(lsn: string | null, record: { lsn: string; next: string }): boolean {
  const at = parsePgLsn(String(lsn));
  return at > parsePgLsn(record.lsn) && at <= parsePgLsn(record.next);
}

async function copyBucket(pg: PostgresHarness, name: string): Promise<string> {
  const dir = join(pg.dir, name);
  await cp(pg.bucketDir, dir, { recursive: true });
  return dir;
}

// The drills run concurrently: each has its own scratch folder, server and copy of the archive.
describe.concurrent('runDrill on a steady archive', () => {
  const cluster = 'spilo/drill/wal/15';
  let pg: PostgresHarness;
  let backup: BaseBackupFacts;
  let midTime: string;
  /**
   * The three single-row transactions after the first batch: where each COMMIT record starts, where the
   * record before it starts, and where the next record starts (the COMMIT ends at or before it).
   */
  let singleCommits: Array<{ lsn: string; prev: string; next: string }>;
  /** The first and last segment of each load batch after the backup. */
  const batches: Array<{ first: string; last: string }> = [];

  beforeAll(async () => {
    pg = await startPostgres({ archivePrefix: cluster });
    const { primary } = pg;
    const batch = async (rows: number): Promise<{ first: string; last: string }> => {
      const first = await primary.runSql('SELECT pg_walfile_name(pg_current_wal_lsn() + 1)');
      await primary.generateLoad(rows);
      const last = await primary.switchWal();
      await primary.waitForArchived(last);
      return { first, last };
    };
    await batch(1000);
    backup = await primary.takeBaseBackup();
    batches.push(await batch(2000));
    await primary.runSql('CREATE TABLE walwatch_single (id int PRIMARY KEY)');
    const beforeSingles = await primary.readCurrentLsn();
    for (const id of [1, 2, 3]) await primary.runSql(`INSERT INTO walwatch_single VALUES (${id})`);
    const afterSingles = await primary.readCurrentLsn();
    const { records } = await primary.dumpWal({ startLsn: beforeSingles, endLsn: afterSingles });
    singleCommits = records
      .map((record, index) => ({ ...record, next: records[index + 1]?.lsn ?? afterSingles }))
      .filter((record) => record.rmgr === 'Transaction' && record.description.startsWith('COMMIT'))
      .map(({ lsn, prev, next }) => ({ lsn, prev, next }));
    midTime = await primary.runSql(
      `SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`,
    );
    await new Promise((resolve) => setTimeout(resolve, 20));
    batches.push(await batch(3000));
    batches.push(await batch(500));
  }, 120_000);

  afterAll(async () => {
    await pg?.stop();
  });

  it('verifies the latest point and restores every row', async ({ expect }) => {
    const scratchParent = await mkdtemp(join(pg.dir, 'kept-'));
    await chmod(scratchParent, 0o711); // the server's OS user passes through to its scratch folder
    const record = await runDrill(drillOptions(pg, cluster, { keep: true, scratchParent }));
    expect(record, JSON.stringify(record)).toMatchObject({
      verdict: 'verified',
      backup: backup.name,
      checkResult: '6500',
    });
    expect(record.reached.timeline).toBe(1);
    expect(record.reached.lastCommitTime).toBe(record.predicted.lastCommitTime);
    expect(record.consistentLsn).not.toBeNull();
    expect(record.timings?.replayMs).toBeGreaterThan(0);
    // Waiting for the server reads postmaster.pid: no connection attempts fail into the log users read.
    const [scratch] = await readdir(scratchParent);
    const log = await readFile(join(scratchParent, String(scratch), 'postgres.log'), 'utf8');
    expect(log).toContain('database system is ready to accept connections');
    expect(log.match(/.*FATAL:.*/g) ?? []).toEqual([]);
    await rm(scratchParent, { recursive: true, force: true });
  }, 60_000);

  it('reads the status a running server writes in postmaster.pid', async ({ expect }) => {
    expect(await readPostmasterStatus(pg.primary.dataDir)).toBe('ready');
    expect(await readPostmasterStatus(join(pg.dir, 'no-such-data-dir'))).toBeNull();
  });

  it('verifies a time inside the archive: rows committed after it are not restored', async ({ expect }) => {
    const record = await runDrill(drillOptions(pg, cluster, { target: midTime }));
    expect(record, JSON.stringify(record)).toMatchObject({ verdict: 'verified', checkResult: '3000' });
    expect(String(record.reached.lastCommitTime) <= midTime).toBe(true);
  }, 60_000);

  it('verifies a time after the last commit by restoring all the archive holds', async ({ expect }) => {
    const late = new Date(Date.now() + 3600_000).toISOString();
    const record = await runDrill(drillOptions(pg, cluster, { target: late }));
    expect(record, JSON.stringify(record)).toMatchObject({ verdict: 'verified', checkResult: '6500' });
    expect(record.notes?.join(' ')).toContain('after the last archived transaction');
  }, 60_000);

  it('verifies an LSN target at a COMMIT record: recovery stops just after it (inclusive)', async ({
    expect,
  }) => {
    expect(singleCommits).toHaveLength(3);
    const second = singleCommits[1] as (typeof singleCommits)[number];
    const record = await runDrill(drillOptions(pg, cluster, { target: second.lsn, checkSql: COUNT_BOTH }));
    // The second single row is restored, the third is not: the target record itself is replayed.
    expect(record, JSON.stringify(record)).toMatchObject({
      verdict: 'verified',
      target: second.lsn,
      checkResult: '3000/2',
    });
    expect(isAfterRecordStart(record.predicted.lsn, second)).toBe(true);
    expect(isAfterRecordStart(record.reached.lsn, second)).toBe(true);
    expect(record.reached.lastCommitTime).toBe(record.predicted.lastCommitTime);
  }, 60_000);

  it('walwatch drill --target with an LSN inside a record stops after the next record to start', async ({
    expect,
  }) => {
    const third = singleCommits[2] as (typeof singleCommits)[number];
    // One byte before the third COMMIT lies inside the record before it; the COMMIT is the first to start
    // at or past the target, so it is replayed too.
    const inside = formatPgLsn(parsePgLsn(third.lsn) - 1n);
    expect(parsePgLsn(inside) > parsePgLsn(third.prev)).toBe(true);
    const result = await runCli([
      'drill',
      '--dir',
      pg.bucketDir,
      '--cluster',
      cluster,
      '--target',
      inside,
      '--json',
      '--quiet',
      '--check-sql',
      COUNT_BOTH,
      '--scratch',
      pg.dir,
      '--segment-size',
      String(pg.walSegmentSize),
      ...(isRoot() ? ['--pg-user', POSTGRES_OS_USER] : []),
    ]);
    expect(result.code, result.stderr).toBe(0);
    const record = JSON.parse(result.stdout) as DrillRecord;
    expect(record).toMatchObject({ verdict: 'verified', target: inside, checkResult: '3000/3' });
    expect(isAfterRecordStart(record.predicted.lsn, third)).toBe(true);
    expect(isAfterRecordStart(record.reached.lsn, third)).toBe(true);
    expect(record.reached.lastCommitTime).toBe(record.predicted.lastCommitTime);
  }, 90_000);

  it('verifies a restore that ends at a segment deleted after the newest backup', async ({ expect }) => {
    const dir = await copyBucket(pg, 'bucket-hole');
    await rm(join(dir, cluster, 'wal_005', `${batches[1]?.first}.lz4`));
    const record = await runDrill(drillOptions(pg, cluster, { archive: { kind: 'dir', dir } }));
    expect(record, JSON.stringify(record)).toMatchObject({ verdict: 'verified', checkResult: '3000' });
  }, 60_000);

  it('holds the restore to the archive its prediction saw while WAL keeps arriving', async ({ expect }) => {
    // The prediction is made while the last batch is not archived yet; it arrives before the restore.
    const dir = await copyBucket(pg, 'bucket-growing');
    const wal = join(dir, cluster, 'wal_005');
    const later = (await readdir(wal)).filter(
      (name) => /^[0-9A-F]{24}\.lz4$/.test(name) && name.slice(0, 24) > String(batches[1]?.last),
    );
    expect(later.length).toBeGreaterThan(0);
    for (const name of later) await rm(join(wal, name));
    const earlier = (
      await analyzeArchive(await openDirSource(dir), {
        now: Date.now(),
        content: true,
        segmentSizeOf: () => pg.walSegmentSize,
      })
    ).clusters[0] as ClusterReport;
    for (const name of later) await cp(join(pg.bucketDir, cluster, 'wal_005', name), join(wal, name));
    const record = await runDrill(
      drillOptions(pg, cluster, { archive: { kind: 'dir', dir }, prediction: earlier }),
    );
    expect(record, JSON.stringify(record)).toMatchObject({ verdict: 'verified', checkResult: '6000' });
    expect(record.reached.lsn).toBe(record.predicted.lsn);
  }, 60_000);

  it('reports a mismatch when the prediction still believes a deleted segment present', async ({
    expect,
  }) => {
    const dir = await copyBucket(pg, 'bucket-stale');
    const stale = (
      await analyzeArchive(await openDirSource(dir), {
        now: Date.now(),
        content: true,
        segmentSizeOf: () => pg.walSegmentSize,
      })
    ).clusters[0] as ClusterReport;
    await rm(join(dir, cluster, 'wal_005', `${batches[2]?.first}.lz4`));
    const record = await runDrill(
      drillOptions(pg, cluster, { archive: { kind: 'dir', dir }, prediction: stale }),
    );
    expect(record.verdict).toBe('mismatch');
    expect(record.reason).toContain('end of WAL: predicted');
    expect(record.reached.lsn).not.toBe(record.predicted.lsn);
    expect(record.logTail).toContain('redo done at');
    expect(record.checkResult).toBe('6000');
  }, 60_000);

  it('reports a mismatch with the log tail when a segment in the chain is corrupt', async ({ expect }) => {
    const dir = await copyBucket(pg, 'bucket-corrupt');
    const object = join(dir, cluster, 'wal_005', `${batches[1]?.first}.lz4`);
    const body = await readFile(object);
    body.fill(0x5a, 64, Math.min(body.length - 8, 4096));
    await writeFile(object, body);
    const record = await runDrill(drillOptions(pg, cluster, { archive: { kind: 'dir', dir } }));
    expect(record.verdict).toBe('mismatch');
    expect(record.logTail).toContain(`walwatch wal-fetch: ${batches[1]?.first}`);
    expect(record.checkResult).toBe('3000');
  }, 60_000);

  it('walwatch drill --json prints a verified record, exits 0 and reports progress on stderr', async ({
    expect,
  }) => {
    const result = await runCli([
      'drill',
      '--dir',
      pg.bucketDir,
      '--cluster',
      cluster,
      '--json',
      '--check-sql',
      COUNT_ROWS,
      '--scratch',
      pg.dir,
      '--segment-size',
      String(pg.walSegmentSize),
      ...(isRoot() ? ['--pg-user', POSTGRES_OS_USER] : []),
    ]);
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({
      verdict: 'verified',
      checkResult: '6500',
      backup: backup.name,
    });
    expect(result.stderr).toMatch(/downloaded part_001\.tar: [\d.]+ of [\d.]+ MB/);
    expect(result.stderr).toMatch(/replayed to [0-9A-F]+\/[0-9A-F]+/);
  }, 90_000);

  it('walwatch drill exits 3 on a usage error', async ({ expect }) => {
    const result = await runCli(['drill', '--dir', pg.bucketDir]);
    expect(result.code).toBe(3);
    expect(result.stderr).toContain('--cluster ID is required');
  }, 30_000);

  it('refuses a delta backup without files metadata: which files are increments cannot be told', async ({
    expect,
  }) => {
    const dir = await copyBucket(pg, 'bucket-delta');
    const folder = join(dir, cluster, 'basebackups_005');
    // A delta of the full backup, named and described as WAL-G names and describes one, but taken with
    // WALG_WITHOUT_FILES_METADATA (the full backup's sentinel says FilesMetadataDisabled).
    const delta = `base_${batches[0]?.last}_D_${backup.name.slice('base_'.length)}`;
    await cp(join(folder, backup.name), join(folder, delta), { recursive: true });
    const sentinel = await readFile(join(folder, `${backup.name}_backup_stop_sentinel.json`), 'utf8');
    await writeFile(
      join(folder, `${delta}_backup_stop_sentinel.json`),
      sentinel.replace(
        /^\{"LSN":(\d+),/,
        (_, lsn: string) =>
          `{"LSN":${lsn},"DeltaLSN":${lsn},"DeltaFrom":"${backup.name}","DeltaFullName":"${backup.name}","DeltaCount":1,`,
      ),
    );
    const drill = runDrill(drillOptions(pg, cluster, { archive: { kind: 'dir', dir }, backup: delta }));
    await expect(drill).rejects.toThrow(DrillSetupError);
    await expect(drill).rejects.toThrow(
      `unsupported: delta backup ${delta}: ${delta} has no files metadata (FilesMetadataDisabled)`,
    );
  }, 60_000);

  it('fails and names the tar partition missing from the backup', async ({ expect }) => {
    const dir = await copyBucket(pg, 'bucket-part');
    const parts = join(dir, cluster, 'basebackups_005', backup.name, 'tar_partitions');
    expect(await readdir(parts)).toContain('part_001.tar.lz4');
    await rm(join(parts, 'part_001.tar.lz4'));
    const record: DrillRecord = await runDrill(drillOptions(pg, cluster, { archive: { kind: 'dir', dir } }));
    expect(record).toMatchObject({ verdict: 'failed', backup: backup.name });
    expect(record.reason).toContain('part_001.tar');
    const cli = await runCli([
      'drill',
      '--dir',
      dir,
      '--cluster',
      cluster,
      '--quiet',
      '--segment-size',
      String(pg.walSegmentSize),
    ]);
    expect(cli.code).toBe(2);
    expect(cli.stdout).toContain('FAILED');
    expect(cli.stdout).toContain('part_001.tar');
  }, 60_000);
});

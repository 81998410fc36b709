import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'lossless-json';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  computeSegmentEndLsn,
  formatPgLsn,
  type PostgresHarness,
  parsePgLsn,
  startPostgres,
} from '../support/postgres.js';
import { decompressLz4 } from '../support/postgres-archive.js';
import { isProcessRunning, runCommand } from '../support/postgres-exec.js';
import { type FailoverScenario, runFailoverScenario } from '../support/postgres-scenario.js';

const PREFIX = 'spilo/harness/wal/15';

describe('startPostgres with a failover scenario', () => {
  let pg: PostgresHarness;
  let scenario: FailoverScenario;
  let keys: string[];

  beforeAll(async () => {
    pg = await startPostgres({ archivePrefix: PREFIX });
    scenario = await runFailoverScenario(pg);
    keys = await pg.listObjectKeys();
  });

  afterAll(async () => {
    await pg?.stop();
  });

  /** `'0/700028'` → `'7340072'`, computed by PostgreSQL itself. */
  const toDecimal = (lsn: string) =>
    scenario.promoted.runSql(`SELECT ('${lsn}'::pg_lsn - '0/0'::pg_lsn)::text;`);

  describe('archive_command', () => {
    it('stores every segment PostgreSQL reports archived as wal_005/<name>.lz4 under the archive root', async () => {
      const archived = [...scenario.timeline1Switched, ...scenario.timeline2Switched];
      expect(archived.length).toBeGreaterThanOrEqual(6);
      for (const name of archived) expect(keys).toContain(`${PREFIX}/wal_005/${name}.lz4`);
      const stats = await scenario.promoted.readArchiverStats();
      expect(stats.failedCount).toBe(0);
      expect(keys).toContain(`${PREFIX}/wal_005/${stats.lastArchivedWal}.lz4`);
    });

    it('writes LZ4 frames that decompress to exactly the segment bytes in pg_wal', async () => {
      for (const name of scenario.timeline1Switched.slice(0, 2)) {
        const object = await readFile(pg.locateArchivedWal(name));
        expect(object.subarray(0, 4)).toEqual(Buffer.from([0x04, 0x22, 0x4d, 0x18]));
        const body = await decompressLz4(pg.locateArchivedWal(name));
        expect(body.length).toBe(pg.walSegmentSize);
        expect(body.equals(await pg.primary.readWalFile(name))).toBe(true);
      }
      const timeline2 = scenario.timeline2Switched[0] ?? '';
      expect(
        (await pg.readArchivedWal(timeline2)).equals(await scenario.promoted.readWalFile(timeline2)),
      ).toBe(true);
    });

    it('stores the .history, .partial and .backup files like segments, with .lz4 appended', async () => {
      const { promotion, backup } = scenario;
      expect((await pg.readArchivedWal(promotion.historyFileName)).toString('utf8')).toBe(
        promotion.historyFile,
      );
      expect(promotion.partialFileName).toMatch(/^00000001[0-9A-F]{16}\.partial$/);
      const partial = String(promotion.partialFileName);
      expect((await pg.readArchivedWal(partial)).equals(await scenario.promoted.readWalFile(partial))).toBe(
        true,
      );
      const offset = backup.startWalOffset.toString(16).toUpperCase().padStart(8, '0');
      const backupHistory = (await pg.readArchivedWal(`${backup.startWalFile}.${offset}.backup`)).toString(
        'utf8',
      );
      expect(backupHistory).toContain(`START WAL LOCATION: ${backup.startLsn} (file ${backup.startWalFile})`);
      expect(backupHistory).toContain(`STOP WAL LOCATION: ${backup.finishLsn} (file ${backup.stopWalFile})`);
    });

    it('stores segments pg_waldump reads exactly as it reads pg_wal', async () => {
      const { promotion, timeline2Switched } = scenario;
      const walDir = await pg.extractArchivedWal(timeline2Switched);
      const endLsn = formatPgLsn(computeSegmentEndLsn(String(timeline2Switched.at(-1)), pg.walSegmentSize));
      const range = { timeline: 2, startLsn: promotion.switchLsn, endLsn };
      const fromArchive = await pg.dumpWal({ walDir, ...range });
      const fromServer = await scenario.promoted.dumpWal(range);
      expect(fromArchive.records.length).toBeGreaterThan(100);
      expect(fromArchive.records).toEqual(fromServer.records);
      expect(fromArchive.records.at(-1)?.description).toBe('SWITCH');
    });

    it('leaves nothing but .lz4 objects in wal_005 and makes them readable by everyone', async () => {
      const walKeys = keys.filter((key) => key.startsWith(`${PREFIX}/wal_005/`));
      for (const key of walKeys) {
        expect(key).toMatch(
          /\/wal_005\/[0-9A-F]{8}(?:[0-9A-F]{16}(?:\.partial|\.[0-9A-F]{8}\.backup)?|\.history)\.lz4$/,
        );
        expect((await stat(join(pg.bucketDir, key))).mode & 0o444).toBe(0o444);
      }
    });
  });

  describe('takeBaseBackup', () => {
    it('names the backup base_<file> after pg_walfile_name_offset of pg_backup_start on timeline 1', async () => {
      const { backup } = scenario;
      // The promoted server computes file names on its own timeline (2); the backup started on timeline 1.
      const segment = await scenario.promoted.runSql(
        `SELECT substr(file_name, 9) FROM pg_walfile_name_offset('${backup.startLsn}');`,
      );
      expect(backup.name).toBe(`base_00000001${segment}`);
      expect(backup.backupLabel).toContain(
        `START WAL LOCATION: ${backup.startLsn} (file ${backup.startWalFile})`,
      );
      expect(backup.backupLabel).toContain('START TIMELINE: 1\n');
    });

    it('stores tar partitions, metadata.json and the sentinel, the sentinel written last', async () => {
      const { backup } = scenario;
      const base = `basebackups_005/${backup.name}`;
      const expectedKeys = [
        `${base}/tar_partitions/part_001.tar.lz4`,
        `${base}/tar_partitions/pg_control.tar.lz4`,
        `${base}/tar_partitions/backup_label.tar.lz4`,
        `${base}/metadata.json`,
        `${base}_backup_stop_sentinel.json`,
      ];
      expect(backup.keys).toEqual(expectedKeys);
      for (const key of expectedKeys) expect(keys).toContain(`${PREFIX}/${key}`);
      const modified = await Promise.all(
        expectedKeys.map(async (key) => (await stat(join(pg.archive.root, key), { bigint: true })).mtimeNs),
      );
      const sentinelTime = modified.at(-1) ?? 0n;
      for (const time of modified) expect(time <= sentinelTime).toBe(true);
    });

    it('writes tar partitions that hold the data directory, pg_control and the backup_label', async () => {
      const { backup } = scenario;
      const listTar = async (name: string) => {
        const dir = await mkdtemp(join(tmpdir(), 'walwatch-tar-'));
        try {
          const tar = join(dir, 'part.tar');
          await runCommand('lz4', [
            '-q',
            '-d',
            join(pg.archive.root, `basebackups_005/${backup.name}/tar_partitions/${name}`),
            tar,
          ]);
          await runCommand('tar', ['-x', '-f', tar, '-C', dir]);
          return dir;
        } catch (error) {
          await rm(dir, { recursive: true, force: true });
          throw error;
        }
      };
      const label = await listTar('backup_label.tar.lz4');
      const control = await listTar('pg_control.tar.lz4');
      const data = await listTar('part_001.tar.lz4');
      try {
        expect(await readFile(join(label, 'backup_label'), 'utf8')).toBe(backup.backupLabel);
        expect((await stat(join(control, 'global/pg_control'))).size).toBe(8192);
        expect(existsSync(join(data, 'PG_VERSION'))).toBe(true);
        expect(existsSync(join(data, 'global/pg_control'))).toBe(false);
        expect(await readdir(join(data, 'pg_wal'))).toEqual([]);
      } finally {
        await Promise.all([label, control, data].map((dir) => rm(dir, { recursive: true, force: true })));
      }
    });

    it('writes the sentinel with WAL-G field names, LSNs as numbers and the exact SystemIdentifier', async () => {
      const { backup } = scenario;
      const text = await readFile(
        join(pg.archive.root, `basebackups_005/${backup.name}_backup_stop_sentinel.json`),
        'utf8',
      );
      expect(text).toBe(backup.sentinelJson);
      const sentinel = parse(text) as Record<string, unknown>;
      expect(Object.keys(sentinel)).toEqual([
        'LSN',
        'PgVersion',
        'FinishLSN',
        'SystemIdentifier',
        'UncompressedSize',
        'CompressedSize',
        'DataCatalogSize',
        'FilesMetadataDisabled',
        'ChkpNum',
        'Version',
        'StartTime',
        'FinishTime',
        'DateFmt',
        'Hostname',
        'DataDir',
        'IsPermanent',
      ]);
      const control = await scenario.promoted.readControlData();
      const systemIdentifier = control['Database system identifier'];
      expect(systemIdentifier).toMatch(/^\d{19,20}$/);
      expect(String(sentinel.SystemIdentifier)).toBe(systemIdentifier);
      expect(text).toContain(`"SystemIdentifier":${systemIdentifier},`);
      expect(String(sentinel.LSN)).toBe(await toDecimal(backup.startLsn));
      expect(String(sentinel.FinishLSN)).toBe(await toDecimal(backup.finishLsn));
      expect(String(sentinel.PgVersion)).toBe(await scenario.promoted.runSql('SHOW server_version_num;'));
      expect(String(sentinel.Version)).toBe('2');
      expect(sentinel.ChkpNum).toBeNull();
      expect(sentinel.IsPermanent).toBe(false);
      expect(sentinel.DateFmt).toBe('%Y-%m-%dT%H:%M:%S.%fZ');
      expect(sentinel.DataDir).toBe(join(pg.dir, 'primary', 'data'));
      expect(String(sentinel.StartTime)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$/);
      expect(Date.parse(String(sentinel.StartTime))).toBeLessThanOrEqual(
        Date.parse(String(sentinel.FinishTime)),
      );
    });

    it('writes metadata.json with the ExtendedMetadataDto fields of the same backup', async () => {
      const { backup } = scenario;
      const text = await readFile(
        join(pg.archive.root, `basebackups_005/${backup.name}/metadata.json`),
        'utf8',
      );
      const metadata = parse(text) as Record<string, unknown>;
      expect(Object.keys(metadata)).toEqual([
        'start_time',
        'finish_time',
        'date_fmt',
        'hostname',
        'data_dir',
        'pg_version',
        'start_lsn',
        'finish_lsn',
        'is_permanent',
        'system_identifier',
        'uncompressed_size',
        'compressed_size',
      ]);
      expect(String(metadata.system_identifier)).toBe(backup.systemIdentifier);
      expect(String(metadata.start_lsn)).toBe(await toDecimal(backup.startLsn));
      expect(String(metadata.finish_lsn)).toBe(await toDecimal(backup.finishLsn));
      expect(metadata.start_time).toBe(backup.startTime);
      expect(metadata.finish_time).toBe(backup.finishTime);
    });
  });

  describe('promote', () => {
    it('switches to timeline 2 at the end of what the standby replayed, after the old primary shut down', () => {
      const { promotion, primaryShutdownCheckpoint } = scenario;
      expect(promotion).toMatchObject({
        timeline: 2,
        parentTimeline: 1,
        historyFileName: '00000002.history',
      });
      expect(promotion.switchLsn).toBe(promotion.replayedLsn);
      expect(promotion.historyFile).toBe(`1\t${promotion.switchLsn}\tno recovery target specified\n`);
      expect(parsePgLsn(promotion.switchLsn)).toBeGreaterThan(parsePgLsn(String(primaryShutdownCheckpoint)));
    });

    it('starts timeline 2 with an END_OF_RECOVERY record at the switch LSN (pg_waldump)', async () => {
      const { promotion } = scenario;
      const dump = await scenario.promoted.dumpWal({
        startLsn: promotion.switchLsn,
        endLsn: formatPgLsn(computeSegmentEndLsn(String(scenario.timeline2Switched[0]), pg.walSegmentSize)),
        timeline: 2,
      });
      expect(dump.records[0]).toMatchObject({ rmgr: 'XLOG', lsn: promotion.switchLsn });
      expect(dump.records[0]?.description).toMatch(/^END_OF_RECOVERY tli 2; prev tli 1;/);
      expect(await scenario.promoted.readCurrentWalFile()).toMatch(/^00000002/);
    });

    it('archives the old timeline tail as .partial, named for the switch LSN segment', async () => {
      const { promotion } = scenario;
      const switchFile = await scenario.promoted.runSql(`SELECT pg_walfile_name('${promotion.switchLsn}');`);
      expect(promotion.partialFileName).toBe(`00000001${switchFile.slice(8)}.partial`);
      expect(scenario.timeline2Switched[0]).toBe(switchFile);
    });

    it('restores the standby from the archive through restore_command', async () => {
      const log = await readFile(scenario.promoted.logFile, 'utf8');
      expect(log).toMatch(/restored log file "[0-9A-F]{24}" from archive/);
    });
  });

  describe('stop', () => {
    it('stops every server and removes the temp folder', async () => {
      const own = await startPostgres({ archivePrefix: 'spilo/stop/wal/15' });
      const pid = Number(
        (await readFile(join(own.primary.dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0],
      );
      expect(isProcessRunning(pid)).toBe(true);
      await own.stop();
      expect(existsSync(own.dir)).toBe(false);
      expect(isProcessRunning(pid)).toBe(false);
    });
  });
});

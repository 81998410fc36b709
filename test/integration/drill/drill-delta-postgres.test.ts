/**
 * Restore drills of WAL-G delta backups with PostgreSQL 15: real base backups, turned into deltas in
 * WAL-G's format (increments of the pages changed since the parent's start, skipped unchanged files), are
 * restored through their chain and replayed; the restored tables must equal the primary's.
 */
import { existsSync } from 'node:fs';
import { cp, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { type RunDrillOptions, runDrill } from '../../../shared/drill/run-drill.js';
import { type BaseBackupFacts, type PostgresHarness, startPostgres } from '../../support/postgres.js';
import { compressLz4, decompressLz4 } from '../../support/postgres-archive.js';
import { isRoot, POSTGRES_OS_USER } from '../../support/postgres-exec.js';
import { buildWalgDeltaBackup, type DeltaBackupFacts, removeBackup } from '../../support/walg-delta.js';

/** Row counts and a digest of every row: equal only when the restored tables hold exactly the primary's. */
const TABLES_SQL = `SELECT (SELECT count(*) FROM walwatch_load) || ',' ||
  (SELECT md5(string_agg(id || payload, ',' ORDER BY id)) FROM walwatch_load) || ',' ||
  (SELECT count(*) FROM walwatch_shrink) || ',' ||
  (SELECT md5(string_agg(id::text, ',' ORDER BY id)) FROM walwatch_shrink) || ',' ||
  (SELECT count(*) FROM pg_class WHERE relname = 'walwatch_gone')`;

describe.concurrent('runDrill on WAL-G delta backups', () => {
  const cluster = 'spilo/delta/wal/15';
  let pg: PostgresHarness;
  let full: BaseBackupFacts;
  let second: BaseBackupFacts;
  let third: BaseBackupFacts;
  let delta1: DeltaBackupFacts;
  let delta2: DeltaBackupFacts;
  let expected: string;
  let gonePath: string;

  beforeAll(async () => {
    pg = await startPostgres({ archivePrefix: cluster });
    const { primary } = pg;
    await primary.generateLoad(1000);
    await primary.runSql(`
      CREATE TABLE walwatch_gone AS SELECT g AS id FROM generate_series(1, 5000) g;
      CREATE TABLE walwatch_shrink AS SELECT g AS id FROM generate_series(1, 20000) g;
      ALTER TABLE walwatch_shrink SET (autovacuum_enabled = off);`);
    gonePath = await primary.runSql(`SELECT pg_relation_filepath('walwatch_gone')`);
    full = await primary.takeBaseBackup();
    // Between the full backup and the first delta: new rows, rows changed in old pages, a dropped table
    // (its file must not come back from the full backup) and a table whose file shrinks.
    await primary.generateLoad(2000);
    await primary.runSql(`
      UPDATE walwatch_load SET payload = 'changed ' || id WHERE id % 97 = 0;
      DROP TABLE walwatch_gone;
      DELETE FROM walwatch_shrink WHERE id > 3000;
      VACUUM walwatch_shrink;`);
    second = await primary.takeBaseBackup();
    await primary.generateLoad(700);
    await primary.runSql(`UPDATE walwatch_load SET payload = 'again ' || id WHERE id % 89 = 0;`);
    third = await primary.takeBaseBackup();
    await primary.generateLoad(300);
    await primary.waitForArchived(await primary.switchWal());
    expected = await primary.runSql(TABLES_SQL);

    const archive = primary.archive;
    const scratchDir = join(pg.dir, 'delta-build');
    await mkdir(scratchDir, { recursive: true });
    delta1 = await buildWalgDeltaBackup(archive, {
      source: second,
      parentName: full.name,
      parentContent: full,
      fullName: full.name,
      count: 1,
      scratchDir,
    });
    delta2 = await buildWalgDeltaBackup(archive, {
      source: third,
      parentName: delta1.name,
      parentContent: second,
      fullName: full.name,
      count: 2,
      scratchDir,
    });
    // Only the deltas stand for the later backups, and the WAL before each delta's start is gone: a
    // restore that did not apply the deltas could not reach the primary's rows.
    await removeBackup(archive.root, second.name);
    await removeBackup(archive.root, third.name);
  }, 180_000);

  afterAll(async () => {
    await pg?.stop();
  });

  function drillOptions(dir: string, extra: Partial<RunDrillOptions> = {}): RunDrillOptions {
    return {
      archive: { kind: 'dir', dir },
      cluster,
      segmentSize: pg.walSegmentSize,
      pgBin: '/usr/lib/postgresql/15/bin',
      ...(isRoot() ? { pgUser: POSTGRES_OS_USER } : {}),
      checkSql: TABLES_SQL,
      scratchParent: pg.dir,
      now: Date.now,
      ...extra,
    };
  }

  /** A copy of the bucket without the WAL before `startWalFile` and without the backups named. */
  async function copyBucket(
    name: string,
    startWalFile: string,
    drop: readonly string[] = [],
  ): Promise<string> {
    const dir = join(pg.dir, name);
    await cp(pg.bucketDir, dir, { recursive: true });
    const root = join(dir, cluster);
    for (const file of await readdir(join(root, 'wal_005')))
      if (/^[0-9A-F]{24}\.lz4$/.test(file) && file.slice(0, 24) < startWalFile)
        await rm(join(root, 'wal_005', file));
    for (const backup of drop) await removeBackup(root, backup);
    return dir;
  }

  it('builds deltas with increments, skipped files and whole files', ({ expect }) => {
    expect(delta1.incremented.length).toBeGreaterThan(0);
    expect(delta1.skipped.length).toBeGreaterThan(0);
    expect(delta2.incremented.length).toBeGreaterThan(0);
    expect(delta1.incremented.some((path) => path.startsWith('base/'))).toBe(true);
  });

  it('restores a delta over its full backup and verifies it with every row of the primary', async ({
    expect,
  }) => {
    const dir = await copyBucket('bucket-delta1', second.startWalFile, [delta2.name]);
    let scratch = '';
    const messages: string[] = [];
    const record = await runDrill(
      drillOptions(dir, {
        keep: true,
        onProgress: (event) => {
          if ('message' in event) messages.push(event.message);
          if (event.phase === 'stop') scratch = event.message.replace(/^kept /, '');
        },
      }),
    );
    try {
      expect(record, JSON.stringify(record)).toMatchObject({
        verdict: 'verified',
        backup: delta1.name,
        checkResult: expected,
      });
      expect(messages).toContain(`delta chain of ${delta1.name}: ${full.name} → ${delta1.name}`);
      // The table dropped before the delta is not brought back from the full backup.
      expect(existsSync(join(scratch, 'data', 'base'))).toBe(true);
      expect(existsSync(join(scratch, 'data', gonePath))).toBe(false);
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  }, 90_000);

  it('restores a delta of a delta through the chain of three', async ({ expect }) => {
    const dir = await copyBucket('bucket-delta2', third.startWalFile);
    const record = await runDrill(drillOptions(dir));
    expect(record, JSON.stringify(record)).toMatchObject({
      verdict: 'verified',
      backup: delta2.name,
      checkResult: expected,
    });
  }, 90_000);

  it('fails and names the file and backup of a corrupt increment', async ({ expect }) => {
    const dir = await copyBucket('bucket-corrupt', third.startWalFile);
    const part = join(dir, cluster, 'basebackups_005', delta2.name, 'tar_partitions', 'part_001.tar.lz4');
    const tar = await decompressLz4(part);
    // The first increment's block count (after the 4-byte magic and the 8-byte size) made impossible.
    const at = tar.indexOf(Buffer.from([0x77, 0x69, 0x31, 0x55]));
    expect(at % 512).toBe(0);
    tar.writeUInt32LE(0xffffff, at + 12);
    await writeFile(part.replace(/\.lz4$/, ''), tar);
    await rm(part);
    await compressLz4(part.replace(/\.lz4$/, ''), part);
    await rm(part.replace(/\.lz4$/, ''));
    const record = await runDrill(drillOptions(dir));
    expect(record.verdict).toBe('failed');
    expect(record.reason).toMatch(new RegExp(`^corrupt increment base/\\S+ in ${delta2.name}: `));
  }, 90_000);

  it('fails when a delta of the chain is gone', async ({ expect }) => {
    const dir = await copyBucket('bucket-orphan', third.startWalFile, [delta1.name]);
    const record = await runDrill(drillOptions(dir, { backup: delta2.name }));
    expect(record.verdict).toBe('failed');
    expect(record.reason).toContain(`${delta2.name} is a delta of ${delta1.name}, whose sentinel is gone`);
  }, 60_000);
});

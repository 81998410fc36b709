/**
 * The drill's WAL prefetch with PostgreSQL 15 on an archive written during the test: most segments reach
 * the server from the prefetch folder and the drill is verified; a target inside the archive downloads
 * nothing past the predicted end; a segment whose body cannot be decompressed gives the verdict it gives
 * without prefetch (`wal-fetch` fetches it and fails), and leaves no file behind. The scratch folder's
 * parent has a `%` in its name: `restore_command` doubles it, or PostgreSQL would read `%f` in the path.
 */
import { chmod, cp, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { type Lsn, parseLsn, parseWalFileName, segmentOfLsn } from '../../../shared/core/lsn.js';
import { type DrillProgress, type RunDrillOptions, runDrill } from '../../../shared/drill/run-drill.js';
import type { ArchiveSource } from '../../../shared/sources/archive-source.js';
import { openDirSource } from '../../../shared/sources/dir-source.js';
import { type BaseBackupFacts, type PostgresHarness, startPostgres } from '../../support/postgres.js';
import { isRoot, POSTGRES_OS_USER } from '../../support/postgres-exec.js';

const COUNT_ROWS = 'SELECT count(*) FROM walwatch_load';
const BATCHES = 16;
const ROWS = 3000;

/** A folder archive whose WAL reads are recorded once `recording` is set. */
async function recordingSource(
  dir: string,
): Promise<ArchiveSource & { walReads: string[]; recording: boolean }> {
  const inner = await openDirSource(dir);
  const source = {
    ...inner,
    walReads: [] as string[],
    recording: false,
    read: (key: string, options?: { signal?: AbortSignal }) => {
      if (source.recording && key.includes('/wal_005/')) source.walReads.push(key);
      return inner.read(key, options);
    },
  };
  return source;
}

describe.concurrent('runDrill with WAL prefetch', () => {
  const cluster = 'spilo/prefetch/wal/15';
  let pg: PostgresHarness;
  let backup: BaseBackupFacts;
  let scratchParent: string;
  let midTime: string;
  const batchSegments: string[] = [];

  beforeAll(async () => {
    pg = await startPostgres({ archivePrefix: cluster });
    const { primary } = pg;
    await primary.generateLoad(1000);
    await primary.waitForArchived(await primary.switchWal());
    backup = await primary.takeBaseBackup();
    for (let i = 0; i < BATCHES; i++) {
      batchSegments.push(await primary.runSql('SELECT pg_walfile_name(pg_current_wal_lsn() + 1)'));
      await primary.generateLoad(ROWS);
      if (i === BATCHES / 2 - 1) {
        midTime = await primary.runSql(
          `SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`,
        );
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      await primary.waitForArchived(await primary.switchWal());
    }
    scratchParent = join(pg.dir, 'scratch-100%full');
    await mkdir(scratchParent);
    await chmod(scratchParent, 0o711); // the server's OS user passes through to its scratch folder
  }, 180_000);

  afterAll(async () => {
    await pg?.stop();
  });

  function drillOptions(extra: Partial<RunDrillOptions> = {}): RunDrillOptions {
    return {
      archive: { kind: 'dir', dir: pg.bucketDir },
      cluster,
      segmentSize: pg.walSegmentSize,
      pgBin: '/usr/lib/postgresql/15/bin',
      ...(isRoot() ? { pgUser: POSTGRES_OS_USER } : {}),
      checkSql: COUNT_ROWS,
      scratchParent,
      now: Date.now,
      ...extra,
    };
  }

  it('verifies the latest point with segments served from the prefetch folder', async ({ expect }) => {
    const events: DrillProgress[] = [];
    const record = await runDrill(drillOptions({ onProgress: (event) => events.push(event) }));
    expect(record, JSON.stringify(record)).toMatchObject({
      verdict: 'verified',
      backup: backup.name,
      checkResult: String(1000 + BATCHES * ROWS),
    });
    const prefetch = record.prefetch;
    expect(prefetch, JSON.stringify(record)).toBeDefined();
    if (!prefetch) return;
    // The backup's start segment to the last one written, one per batch at least.
    expect(prefetch.planned).toBeGreaterThanOrEqual(BATCHES + 1);
    expect(prefetch).toMatchObject({ failed: 0, absent: 0 });
    expect(prefetch.fetched).toBeLessThanOrEqual(prefetch.planned);
    expect(prefetch.served).toBeLessThanOrEqual(prefetch.fetched);
    // The prefetch starts before the server, so its first segments wait in the folder when recovery asks.
    // How many more the server takes from there depends on how fast it replays against the downloads on
    // this machine (8 to 17 of 17 here, under load and quiet): a timing, measured by the drill bench.
    expect(prefetch.served, JSON.stringify(prefetch)).toBeGreaterThan(0);
    const reported = events.filter((event) => event.phase === 'prefetch');
    expect(reported[0]).toMatchObject({ planned: prefetch.planned, fetched: 0 });
    expect(reported.at(-1)).toMatchObject(prefetch);
    process.stdout.write(`prefetch of a latest drill: ${JSON.stringify(prefetch)}\n`);
  }, 120_000);

  it('without prefetch reaches the same point and carries no prefetch counts', async ({ expect }) => {
    const [withPrefetch, without] = await Promise.all([
      runDrill(drillOptions({ target: midTime })),
      runDrill(drillOptions({ target: midTime, prefetch: false })),
    ]);
    expect(without, JSON.stringify(without)).toMatchObject({ verdict: 'verified' });
    expect(without.prefetch).toBeUndefined();
    expect(withPrefetch).toMatchObject({
      verdict: 'verified',
      reached: without.reached,
      checkResult: without.checkResult,
    });
  }, 120_000);

  it('downloads no segment past the predicted end of a target inside the archive', async ({ expect }) => {
    const source = await recordingSource(pg.bucketDir);
    const record = await runDrill(
      drillOptions({
        target: midTime,
        source,
        onProgress: (event) => {
          // The analysis and the prediction read segments too; the prefetch starts after them.
          if (event.phase === 'prefetch') source.recording = true;
        },
      }),
    );
    expect(record, JSON.stringify(record)).toMatchObject({
      verdict: 'verified',
      checkResult: String(1000 + (BATCHES / 2) * ROWS),
    });
    const size = pg.walSegmentSize;
    const end = segmentOfLsn((parseLsn(String(record.predicted.lsn)) as Lsn) - 1n, size);
    const start = segmentOfLsn(parseLsn(backup.startLsn) as Lsn, size);
    const segnoOf = (name: string) => {
      const parsed = parseWalFileName(name.slice(0, 24), size);
      return parsed.ok ? parsed.segno : Number.NaN;
    };
    const archived = (await readdir(join(pg.archive.root, 'wal_005'))).filter((name) =>
      /^[0-9A-F]{24}\.lz4$/.test(name),
    );
    // The archive goes on well past the target: an unbounded prefetch would read into it.
    expect(archived.filter((name) => segnoOf(name) > end).length).toBeGreaterThanOrEqual(BATCHES / 2 - 1);
    const read = source.walReads.map((key) => segnoOf(key.slice(key.lastIndexOf('/') + 1)));
    expect(read.length).toBeGreaterThan(0);
    expect(read.filter((segno) => segno > end || segno < start)).toEqual([]);
    expect(record.prefetch).toMatchObject({ planned: end - start + 1, absent: 0, failed: 0 });
  }, 120_000);

  it('gives the verdict of a drill without prefetch when a segment cannot be decompressed', async ({
    expect,
  }) => {
    const dir = join(pg.dir, 'bucket-corrupt');
    await cp(pg.bucketDir, dir, { recursive: true });
    const corrupt = batchSegments[3] as string;
    const object = join(dir, cluster, 'wal_005', `${corrupt}.lz4`);
    const body = await readFile(object);
    body.fill(0x5a, 64, Math.min(body.length - 8, 4096));
    await writeFile(object, body);
    const kept = join(scratchParent, 'kept');
    await mkdir(kept, { mode: 0o711 });
    await chmod(kept, 0o711);
    const archive = { kind: 'dir', dir } as const;
    const [withPrefetch, without] = await Promise.all([
      runDrill(drillOptions({ archive, keep: true, scratchParent: kept })),
      runDrill(drillOptions({ archive, prefetch: false })),
    ]);
    expect(without.verdict).toBe('mismatch');
    expect(withPrefetch, JSON.stringify(withPrefetch)).toMatchObject({
      verdict: without.verdict,
      reason: without.reason,
      reached: without.reached,
      checkResult: without.checkResult,
    });
    expect(withPrefetch.checkResult).toBe(String(1000 + 3 * ROWS));
    expect(withPrefetch.logTail).toContain(`walwatch wal-fetch: ${corrupt}`);
    expect(withPrefetch.prefetch).toMatchObject({ failed: 1, absent: 0 });
    const [scratch] = await readdir(kept);
    const left = await readdir(join(kept, String(scratch), 'prefetch'));
    expect(left).not.toContain(corrupt);
    expect(left.filter((name) => !/^[0-9A-F]{24}$/.test(name))).toEqual([]);
    // What was fetched beyond the damaged segment stays within the lookahead.
    expect(left.length).toBeLessThanOrEqual(8);
  }, 120_000);
});

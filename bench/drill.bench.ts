/**
 * Restore drill benchmark: PostgreSQL 15 holds a ~1 GiB pgbench database (`WALWATCH_BENCH_DB_SCALE`,
 * default 70), a WAL-G-style base backup is taken, then ~1 GiB of WAL is written with pgbench TPC-B
 * (`WALWATCH_BENCH_WAL_MIB`, default 1024) and archived. One drill restores it all to `latest`; download,
 * unpack and replay times are printed apart. The unpack is then held against `lz4 -d | tar -x` on the same
 * parts, alternately and `WALWATCH_BENCH_UNPACK_ROUNDS` times (default 3), into fresh folders; the median
 * ratio and the spread are printed. Target: walwatch unpacks within 1.5× of the CLI pipe (median), and the
 * drill is replay-bound.
 */
import { chmod, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { runDrill } from '../shared/drill/run-drill.js';
import { unpackTar } from '../shared/drill/unpack-backup.js';
import { startPostgres } from '../test/support/postgres.js';
import { isRoot, POSTGRES_BIN, POSTGRES_OS_USER, runCommand } from '../test/support/postgres-exec.js';
import { parsePgLsn } from '../test/support/postgres-wal.js';

const TARGET_RATIO = 1.5;

export default async function benchDrill(): Promise<void> {
  const scale = Number(process.env.WALWATCH_BENCH_DB_SCALE ?? 70);
  const walMib = Number(process.env.WALWATCH_BENCH_WAL_MIB ?? 1024);
  const rounds = Number(process.env.WALWATCH_BENCH_UNPACK_ROUNDS ?? 3);
  const cluster = 'spilo/bench-drill/wal/15';
  const pg = await startPostgres({
    archivePrefix: cluster,
    walSegmentSize: 16 * 1024 * 1024,
    settings: { max_wal_size: '4GB', checkpoint_timeout: '30min', shared_buffers: '128MB' },
  });
  try {
    const { primary } = pg;
    const pgbench = (args: string[]) =>
      runCommand(
        `${POSTGRES_BIN}/pgbench`,
        ['-h', primary.socketDir, '-p', String(primary.port), ...args, 'postgres'],
        {
          asPostgresUser: true,
          cwd: pg.dir,
          timeoutMs: 3600_000,
        },
      );
    let started = performance.now();
    await pgbench(['-i', '-q', '-s', String(scale)]);
    const dbBytes = Number(await primary.runSql(`SELECT pg_database_size('postgres')`));
    process.stdout.write(
      `database: ${(dbBytes / 2 ** 20).toFixed(0)} MiB (pgbench scale ${scale}) in ${seconds(started)} s\n`,
    );
    started = performance.now();
    const backup = await primary.takeBaseBackup();
    process.stdout.write(`base backup ${backup.name} in ${seconds(started)} s\n`);

    started = performance.now();
    const from = parsePgLsn(await primary.readCurrentLsn());
    while (parsePgLsn(await primary.readCurrentLsn()) - from < BigInt(walMib) * 2n ** 20n)
      await pgbench(['-n', '-c', '2', '-j', '2', '-T', '15']);
    const walBytes = Number(parsePgLsn(await primary.readCurrentLsn()) - from);
    await primary.waitForArchived(await primary.switchWal(), 600_000);
    process.stdout.write(
      `WAL after the backup: ${(walBytes / 2 ** 20).toFixed(0)} MiB in ${seconds(started)} s\n`,
    );
    await primary.stop();

    const record = await runDrill({
      archive: { kind: 'dir', dir: pg.bucketDir },
      cluster,
      segmentSize: 16 * 1024 * 1024,
      ...(isRoot() ? { pgUser: POSTGRES_OS_USER } : {}),
      checkSql: 'SELECT count(*) FROM pgbench_history',
      scratchParent: pg.dir,
      now: Date.now,
    });
    const t = record.timings;
    process.stdout.write(
      `drill: ${record.verdict} (${record.reason ?? 'predicted = reached'}), ${record.checkResult} pgbench_history rows\n` +
        `  download ${t?.downloadMs} ms (${(record.downloadedBytes / 2 ** 20).toFixed(0)} MiB), unpack ${t?.unpackMs} ms, replay ${t?.replayMs} ms\n`,
    );

    // The bound on any prefetch of the next segments (WAL-G's wal-prefetch): the same drill with every
    // segment already decompressed on local disk, restore_command a shell cp. A prefetching wal-fetch
    // cannot beat that, and it would still start Node once per segment.
    const ready = join(pg.dir, 'prefetched');
    await mkdir(ready, { recursive: true });
    const walDir = join(pg.archive.root, 'wal_005');
    for (const name of await readdir(walDir)) {
      const path = join(walDir, name);
      if (name.endsWith('.lz4'))
        await runCommand('lz4', ['-q', '-d', '-f', path, join(ready, name.slice(0, -4))], {
          timeoutMs: 60_000,
        });
      else await runCommand('cp', [path, join(ready, name)]);
    }
    const copy = join(pg.dir, 'restore-prefetched.sh');
    // Called as: <script> wal-fetch [--option value]… <file> <dest> --dir <root>; exit 1 for a file not
    // there, as wal-fetch does.
    await writeFile(
      copy,
      '#!/bin/sh\nshift\nwhile :; do case "$1" in --*) shift 2 ;; *) break ;; esac; done\n' +
        `[ -f ${JSON.stringify(ready)}/"$1" ] || exit 1\nexec cp ${JSON.stringify(ready)}/"$1" "$2"\n`,
      { mode: 0o755 },
    );
    await chmod(pg.dir, 0o755);
    const bound = await runDrill({
      archive: { kind: 'dir', dir: pg.bucketDir },
      cluster,
      segmentSize: 16 * 1024 * 1024,
      ...(isRoot() ? { pgUser: POSTGRES_OS_USER } : {}),
      checkSql: 'SELECT count(*) FROM pgbench_history',
      scratchParent: pg.dir,
      walwatchCommand: [copy],
      now: Date.now,
    });
    const boundReplayMs = bound.timings?.replayMs ?? Number.NaN;
    process.stdout.write(
      `replay with every segment prefetched (restore_command cp): ${bound.verdict}${bound.reason ? ` (${bound.reason})` : ''}, ${boundReplayMs} ms against ${t?.replayMs} ms ` +
        `through wal-fetch: a prefetch could save at most ${t ? (((t.replayMs - boundReplayMs) / t.replayMs) * 100).toFixed(0) : '?'}% of the replay; ` +
        `load average ${loadavg()[0]?.toFixed(1)}\n`,
    );

    // The same parts unpacked by walwatch and by the CLI pipe, each into a fresh folder, alternately and
    // several times: other work on a shared machine moves single runs by a factor of two.
    const partsDir = join(pg.archive.root, 'basebackups_005', backup.name, 'tar_partitions');
    const parts = (await readdir(partsDir)).sort();
    const ratios: number[] = [];
    for (let round = 1; round <= rounds; round++) {
      let walwatchMs = 0;
      let cliMs = 0;
      let tarBytes = 0;
      for (const [index, name] of parts.entries()) {
        const path = join(partsDir, name);
        const body = await readFile(path);
        const ours = join(pg.dir, `unpack-walwatch-${index}`);
        await mkdir(ours, { recursive: true });
        started = performance.now();
        tarBytes += await unpackTar({ key: path, name }, body, ours);
        walwatchMs += performance.now() - started;
        await rm(ours, { recursive: true, force: true });
        const theirs = join(pg.dir, `unpack-cli-${index}`);
        await mkdir(theirs, { recursive: true });
        started = performance.now();
        await runCommand('sh', ['-c', 'lz4 -q -d -c "$1" | tar -x -f - -C "$2"', 'unpack', path, theirs], {
          timeoutMs: 600_000,
        });
        cliMs += performance.now() - started;
        await rm(theirs, { recursive: true, force: true });
      }
      const ratio = walwatchMs / cliMs;
      ratios.push(ratio);
      process.stdout.write(
        `unpack round ${round} of ${(tarBytes / 2 ** 20).toFixed(0)} MiB of tar: walwatch ${walwatchMs.toFixed(0)} ms (${mbps(tarBytes, walwatchMs)} MB/s), ` +
          `lz4 -d | tar -x ${cliMs.toFixed(0)} ms (${mbps(tarBytes, cliMs)} MB/s): ${ratio.toFixed(2)}× the CLI's time; ` +
          `load average ${loadavg()[0]?.toFixed(1)}\n`,
      );
    }
    const sorted = [...ratios].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)] as number;
    process.stdout.write(
      `unpack: median ${median.toFixed(2)}× the CLI's time over ${rounds} rounds (${sorted[0]?.toFixed(2)}–${sorted.at(-1)?.toFixed(2)}×; ` +
        `target ≤ ${TARGET_RATIO}×: ${median <= TARGET_RATIO ? 'met' : 'missed'}); ` +
        `replay is ${t ? ((t.replayMs / (t.downloadMs + t.unpackMs + t.replayMs)) * 100).toFixed(0) : '?'}% of the drill\n`,
    );
  } finally {
    await pg.stop();
  }
}

function seconds(since: number): string {
  return ((performance.now() - since) / 1000).toFixed(1);
}

function mbps(bytes: number, ms: number): string {
  return (bytes / 1e6 / (ms / 1000)).toFixed(0);
}

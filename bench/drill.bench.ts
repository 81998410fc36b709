/**
 * Restore drill benchmark: PostgreSQL 15 holds a ~1 GiB pgbench database (`WALWATCH_BENCH_DB_SCALE`,
 * default 70), a WAL-G-style base backup is taken, then ~1 GiB of WAL is written with pgbench TPC-B
 * (`WALWATCH_BENCH_WAL_MIB`, default 1024) and archived. Drills restore it all to `latest`, in
 * `WALWATCH_BENCH_DRILL_ROUNDS` rounds (default 3) of three, one after another: every segment through
 * `wal-fetch` (no prefetch), with the WAL prefetch (the default), and with every segment already
 * decompressed on local disk and `restore_command` a shell `cp` (the bound on any prefetch). Download,
 * unpack and replay times are printed apart, each with the load average, then the median replay of each.
 * The unpack is then held against `lz4 -d | tar -x` on the same parts, alternately and
 * `WALWATCH_BENCH_UNPACK_ROUNDS` times (default 3, 0 skips it), into fresh folders; the median ratio and the
 * spread are printed. Target: walwatch unpacks within 1.5× of the CLI pipe (median), and the drill is
 * replay-bound.
 */
import { chmod, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import type { DrillTimings } from '../shared/core/drill.js';
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
  const drillRounds = Number(process.env.WALWATCH_BENCH_DRILL_ROUNDS ?? 3);
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

    // The bound on any prefetch of the next segments: the same drill with every segment already
    // decompressed on local disk, restore_command a shell cp, started once per segment as wal-fetch is.
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

    const variants = [
      { label: 'wal-fetch, no prefetch', options: { prefetch: false } },
      { label: 'prefetch', options: {} },
      { label: 'all segments local (cp)', options: { prefetch: false, walwatchCommand: [copy] } },
    ] as const;
    const replays = new Map<string, number[]>(variants.map((variant) => [variant.label, []]));
    let t: DrillTimings | undefined;
    for (let round = 1; round <= drillRounds; round++) {
      for (const variant of variants) {
        const record = await runDrill({
          archive: { kind: 'dir', dir: pg.bucketDir },
          cluster,
          segmentSize: 16 * 1024 * 1024,
          ...(isRoot() ? { pgUser: POSTGRES_OS_USER } : {}),
          checkSql: 'SELECT count(*) FROM pgbench_history',
          scratchParent: pg.dir,
          now: Date.now,
          ...variant.options,
        });
        const timings = record.timings;
        if (variant.label === 'prefetch') t = timings;
        replays.get(variant.label)?.push(timings?.replayMs ?? Number.NaN);
        const prefetch = record.prefetch
          ? `; prefetch ${record.prefetch.served} of ${record.prefetch.planned} segments served (${record.prefetch.fetched} fetched, ${record.prefetch.failed} failed, ${record.prefetch.absent} absent)`
          : '';
        process.stdout.write(
          `drill round ${round}, ${variant.label}: ${record.verdict} (${record.reason ?? 'predicted = reached'}), ${record.checkResult} pgbench_history rows; ` +
            `download ${timings?.downloadMs} ms (${(record.downloadedBytes / 2 ** 20).toFixed(0)} MiB), unpack ${timings?.unpackMs} ms, replay ${timings?.replayMs} ms${prefetch}; ` +
            `load average ${loadavg()[0]?.toFixed(1)}\n`,
        );
      }
    }
    const medianReplay = (label: string): number => median(replays.get(label) ?? []);
    const [plain, prefetched, local] = variants.map((variant) => medianReplay(variant.label)) as [
      number,
      number,
      number,
    ];
    process.stdout.write(
      `replay, median of ${drillRounds}: through wal-fetch ${plain} ms, with prefetch ${prefetched} ms, every segment local ${local} ms: ` +
        `the prefetch saves ${(((plain - prefetched) / plain) * 100).toFixed(0)}% of the replay, of the ${(((plain - local) / plain) * 100).toFixed(0)}% a prefetch could save; ` +
        `load average ${loadavg()
          .map((value) => value.toFixed(1))
          .join(' ')}\n`,
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
    const ratio = median(ratios);
    if (rounds > 0)
      process.stdout.write(
        `unpack: median ${ratio.toFixed(2)}× the CLI's time over ${rounds} rounds (${sorted[0]?.toFixed(2)}–${sorted.at(-1)?.toFixed(2)}×; ` +
          `target ≤ ${TARGET_RATIO}×: ${ratio <= TARGET_RATIO ? 'met' : 'missed'})\n`,
      );
    process.stdout.write(
      `with prefetch, ` +
        `replay is ${t ? ((t.replayMs / (t.downloadMs + t.unpackMs + t.replayMs)) * 100).toFixed(0) : '?'}% of the drill\n`,
    );
  } finally {
    await pg.stop();
  }
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

function seconds(since: number): string {
  return ((performance.now() - since) / 1000).toFixed(1);
}

function mbps(bytes: number, ms: number): string {
  return (bytes / 1e6 / (ms / 1000)).toFixed(0);
}

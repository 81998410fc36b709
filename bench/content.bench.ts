/**
 * WAL content benchmark: PostgreSQL 15 writes real WAL with pgbench (its initial load, then 30 s of TPC-B;
 * about 1 GiB by default, `WALWATCH_BENCH_WAL_MIB` to change), and walwatch's reader scans the decompressed
 * segments for the last commit time. The same files go through `pg_waldump -r Transaction`, which finds the same last commit.
 * Targets: at least 500 MB/s scanned, faster than pg_waldump, and the same last commit.
 */
import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { decompress } from '../shared/codec/decompress.js';
import { WalReader } from '../shared/core/wal/wal-reader.js';
import { formatPgLsn } from '../test/support/postgres-wal.js';
import {
  hasPostgres,
  PG_BIN,
  parseWaldumpOutput,
  transactionEnds,
  WalCluster,
} from '../test/support/wal-fixtures.js';

const TARGET_MB_PER_S = 500;
const SEGMENT_MIB = 16;

function megabytesPerSecond(bytes: number, ms: number): number {
  return bytes / 1e6 / (ms / 1000);
}

export default async function benchContent(): Promise<void> {
  if (!hasPostgres()) {
    process.stdout.write(
      `skipped: PostgreSQL 15 is not installed in ${PG_BIN} (Debian package postgresql-15)\n`,
    );
    return;
  }
  const targetMib = Number(process.env.WALWATCH_BENCH_WAL_MIB ?? 1024);
  const cluster = await WalCluster.start(SEGMENT_MIB, { max_wal_size: '8GB', synchronous_commit: 'off' });
  try {
    const started = performance.now();
    // pgbench's initial load writes WAL fast (about 12 MiB per scale unit: big heap and index records);
    // its TPC-B transactions then add the small records and the commits of a busy OLTP cluster.
    cluster.pgbench(['-i', '-q', '-s', String(Math.max(1, Math.round((targetMib * 0.9) / 12)))]);
    cluster.pgbench(['-c', '4', '-j', '2', '-T', '30', '-n']);
    await cluster.switchAndArchive();
    const names = (await cluster.archivedFiles()).filter((name) => /^[0-9A-F]{24}$/.test(name));
    const files = await Promise.all(
      names.map(async (name) => new Uint8Array(await readFile(join(cluster.archiveDir, name)))),
    );
    const totalBytes = files.reduce((sum, file) => sum + file.length, 0);
    process.stdout.write(
      `generated ${(totalBytes / 1024 / 1024).toFixed(0)} MiB of WAL (${names.length} × ${SEGMENT_MIB} MiB segments) ` +
        `with pgbench in ${((performance.now() - started) / 1000).toFixed(0)} s\n`,
    );

    let best = Number.POSITIVE_INFINITY;
    let bestCpu = Number.POSITIVE_INFINITY;
    let last: { lsn: bigint; micros: bigint; time: string } | undefined;
    let records = 0;
    for (let round = 0; round < 3; round++) {
      const reader = new WalReader();
      const t0 = performance.now();
      const cpu0 = process.cpuUsage();
      records = 0;
      for (let i = 0; i < files.length; i++) {
        const content = reader.readSegment(files[i] as Uint8Array, { fileName: names[i] as string });
        if (content.error) throw new Error(`${names[i]}: ${content.error}`);
        records += content.recordCount;
        if (content.lastCommit) {
          last = {
            lsn: content.lastCommit.lsn,
            micros: content.lastCommit.timeMicros,
            time: content.lastCommit.time,
          };
        }
      }
      const cpu = process.cpuUsage(cpu0);
      best = Math.min(best, performance.now() - t0);
      bestCpu = Math.min(bestCpu, (cpu.user + cpu.system) / 1000);
    }
    const ours = megabytesPerSecond(totalBytes, best);

    const paths = names.map((name) => join(cluster.archiveDir, name));
    const t1 = performance.now();
    const waldump = execFileSync(
      join(PG_BIN, 'pg_waldump'),
      ['-r', 'Transaction', paths[0] as string, paths.at(-1) as string],
      {
        encoding: 'utf8',
        env: { ...process.env, TZ: 'UTC' },
        maxBuffer: 2 * 1024 * 1024 * 1024,
        stdio: ['ignore', 'pipe', 'ignore'],
      },
    );
    const waldumpMs = performance.now() - t1;
    const theirs = megabytesPerSecond(totalBytes, waldumpMs);
    const theirLast = transactionEnds(parseWaldumpOutput(waldump))
      .filter((end) => end.kind === 'commit')
      .at(-1);
    const same = theirLast?.lsn === last?.lsn && theirLast?.unixMicros === last?.micros;

    const sample = files.slice(0, Math.min(16, files.length));
    const compressed = sample.map((file) =>
      execFileSync('lz4', ['-c', '-q'], { input: file, maxBuffer: 64 << 20 }),
    );
    const t2 = performance.now();
    for (const body of compressed) await decompress(body, 'lz4');
    const lz4 = megabytesPerSecond(
      sample.reduce((sum, file) => sum + file.length, 0),
      performance.now() - t2,
    );

    process.stdout.write(
      `walwatch reader: ${records} records in ${(best / 1000).toFixed(2)} s = ${ours.toFixed(0)} MB/s ` +
        `(${megabytesPerSecond(totalBytes, bestCpu).toFixed(0)} MB/s of CPU time; load average ${loadavg()[0]?.toFixed(1)}) ` +
        `(target ≥ ${TARGET_MB_PER_S}) ${ours >= TARGET_MB_PER_S ? 'ok' : 'BELOW TARGET'}\n` +
        `pg_waldump -r Transaction: ${(waldumpMs / 1000).toFixed(2)} s = ${theirs.toFixed(0)} MB/s; ` +
        `walwatch is ${(ours / theirs).toFixed(1)}× ${ours > theirs ? 'faster' : 'SLOWER'}\n` +
        `last commit: walwatch ${last ? `${formatPgLsn(last.lsn)} ${last.time}` : 'none'}, pg_waldump ` +
        `${theirLast ? `${formatPgLsn(theirLast.lsn)} (${theirLast.unixMicros} µs)` : 'none'}: ${same ? 'same' : 'DIFFERENT'}\n` +
        `lz4 decompression (${sample.length} segments made by the lz4 CLI): ${lz4.toFixed(0)} MB/s\n`,
    );
  } finally {
    await cluster.destroy();
  }
}

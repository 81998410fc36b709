/**
 * WAL content benchmark: PostgreSQL 15 writes real WAL with pgbench — its initial bulk load (big heap and
 * index records), then TPC-B transactions (small records, many commits) — about 1 GiB in all by default
 * (`WALWATCH_BENCH_WAL_MIB` to change, `WALWATCH_BENCH_TPCB_SECONDS` for the TPC-B part, default 60).
 * walwatch's reader scans the decompressed segments for the last commit; the same files go through
 * `pg_waldump -r Transaction`, which finds the same last commit. Each part is measured alone, then all;
 * each time is the best of three, for both.
 * walwatch checks every record's CRC-32C, as pg_waldump does; long pieces go to native code when
 * `@node-rs/crc32` loads (the line "CRC-32C:" says which), the rest to the core's tables.
 * Targets: at least 500 MB/s scanned, faster than pg_waldump, and the same last commit.
 */
import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { loadNativeCrc32c } from '../shared/codec/crc32c-native.js';
import { decompress } from '../shared/codec/decompress.js';
import type { Crc32cFunction } from '../shared/core/wal/crc32c.js';
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

interface Segment {
  readonly name: string;
  readonly path: string;
  readonly bytes: Uint8Array;
}

function megabytesPerSecond(bytes: number, ms: number): number {
  return bytes / 1e6 / (ms / 1000);
}

const ROUNDS = 3;

/** One walwatch scan's best time of {@link ROUNDS}, and what it found. */
interface Scan {
  readonly ms: number;
  readonly cpuMs: number;
  readonly records: number;
  readonly last: { lsn: bigint; micros: bigint; time: string } | undefined;
}

/** Scans `segments` in order with one WalReader, {@link ROUNDS} times; keeps the best wall and CPU time. */
function scan(segments: readonly Segment[], crc32c: Crc32cFunction | undefined): Scan {
  let ms = Number.POSITIVE_INFINITY;
  let cpuMs = Number.POSITIVE_INFINITY;
  let last: Scan['last'];
  let records = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const reader = new WalReader({ crc32c });
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    records = 0;
    for (const segment of segments) {
      const content = reader.readSegment(segment.bytes, { fileName: segment.name });
      if (content.error) throw new Error(`${segment.name}: ${content.error}`);
      records += content.recordCount;
      if (content.lastCommit) {
        const { lsn, timeMicros, time } = content.lastCommit;
        last = { lsn, micros: timeMicros, time };
      }
    }
    const cpu = process.cpuUsage(cpu0);
    ms = Math.min(ms, performance.now() - t0);
    cpuMs = Math.min(cpuMs, (cpu.user + cpu.system) / 1000);
  }
  return { ms, cpuMs, records, last };
}

/** Scans `segments` with walwatch and with pg_waldump, each best of {@link ROUNDS}; prints one comparison. */
function compare(label: string, segments: readonly Segment[], crc32c: Crc32cFunction | undefined): void {
  const totalBytes = segments.reduce((sum, segment) => sum + segment.bytes.length, 0);
  const { ms: best, cpuMs: bestCpu, records, last } = scan(segments, crc32c);
  const ours = megabytesPerSecond(totalBytes, best);

  const first = segments[0]?.path as string;
  const final = segments[segments.length - 1]?.path as string;
  let waldumpMs = Number.POSITIVE_INFINITY;
  let output = '';
  for (let round = 0; round < ROUNDS; round++) {
    const t1 = performance.now();
    output = execFileSync(join(PG_BIN, 'pg_waldump'), ['-r', 'Transaction', first, final], {
      encoding: 'utf8',
      env: { ...process.env, TZ: 'UTC' },
      maxBuffer: 2 * 1024 * 1024 * 1024,
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    waldumpMs = Math.min(waldumpMs, performance.now() - t1);
  }
  const theirs = megabytesPerSecond(totalBytes, waldumpMs);
  const theirLast = transactionEnds(parseWaldumpOutput(output))
    .filter((end) => end.kind === 'commit')
    .at(-1);
  const same = theirLast?.lsn === last?.lsn && theirLast?.unixMicros === last?.micros;

  process.stdout.write(
    `${label}: ${(totalBytes / 1024 / 1024).toFixed(0)} MiB, ${records} records\n` +
      `  walwatch reader: ${(best / 1000).toFixed(2)} s = ${ours.toFixed(0)} MB/s ` +
      `(${megabytesPerSecond(totalBytes, bestCpu).toFixed(0)} MB/s of CPU time) ` +
      `(target ≥ ${TARGET_MB_PER_S}) ${ours >= TARGET_MB_PER_S ? 'ok' : 'BELOW TARGET'}\n` +
      `  pg_waldump -r Transaction: ${(waldumpMs / 1000).toFixed(2)} s = ${theirs.toFixed(0)} MB/s; ` +
      `walwatch is ${(ours / theirs).toFixed(1)}× ${ours > theirs ? 'faster' : 'SLOWER'}\n` +
      `  last commit: walwatch ${last ? `${formatPgLsn(last.lsn)} ${last.time}` : 'none'}, pg_waldump ` +
      `${theirLast ? `${formatPgLsn(theirLast.lsn)} (${theirLast.unixMicros} µs)` : 'none'}: ` +
      `${same ? 'same' : 'DIFFERENT'}\n`,
  );
}

export default async function benchContent(): Promise<void> {
  if (!hasPostgres()) {
    process.stdout.write(
      `skipped: PostgreSQL 15 is not installed in ${PG_BIN} (Debian package postgresql-15)\n`,
    );
    return;
  }
  const targetMib = Number(process.env.WALWATCH_BENCH_WAL_MIB ?? 1024);
  const tpcbSeconds = Number(process.env.WALWATCH_BENCH_TPCB_SECONDS ?? 60);
  const cluster = await WalCluster.start(SEGMENT_MIB, { max_wal_size: '8GB', synchronous_commit: 'off' });
  try {
    const started = performance.now();
    // The bulk load writes about 12 MiB of WAL per scale unit; TPC-B adds a few MiB a second here.
    const scale = Math.max(1, Math.round(Math.max(targetMib - tpcbSeconds * 3, targetMib / 4) / 12));
    cluster.pgbench(['-i', '-q', '-s', String(scale)]);
    const lastBulk = await cluster.switchAndArchive();
    cluster.pgbench(['-c', '4', '-j', '2', '-T', String(tpcbSeconds), '-n']);
    await cluster.switchAndArchive();
    const names = (await cluster.archivedFiles()).filter((name) => /^[0-9A-F]{24}$/.test(name));
    const segments: Segment[] = await Promise.all(
      names.map(async (name) => {
        const path = join(cluster.archiveDir, name);
        return { name, path, bytes: new Uint8Array(await readFile(path)) };
      }),
    );
    const totalBytes = segments.reduce((sum, segment) => sum + segment.bytes.length, 0);
    const { crc32c, description } = loadNativeCrc32c();
    process.stdout.write(
      `generated ${(totalBytes / 1024 / 1024).toFixed(0)} MiB of WAL (${names.length} × ${SEGMENT_MIB} MiB ` +
        `segments): pgbench -i -s ${scale}, then ${tpcbSeconds} s of TPC-B, in ` +
        `${((performance.now() - started) / 1000).toFixed(0)} s; load average ${loadavg()[0]?.toFixed(1)}\n` +
        `CRC-32C: ${description}\n`,
    );
    compare(
      'bulk load',
      segments.filter((segment) => segment.name <= lastBulk),
      crc32c,
    );
    compare(
      'TPC-B',
      segments.filter((segment) => segment.name > lastBulk),
      crc32c,
    );
    compare('all', segments, crc32c);
    if (crc32c !== undefined) {
      // What a Lambda bundle, which has no native module, scans at.
      const tables = scan(segments, undefined);
      process.stdout.write(
        `all, tables only: ${megabytesPerSecond(totalBytes, tables.ms).toFixed(0)} MB/s ` +
          `(${megabytesPerSecond(totalBytes, tables.cpuMs).toFixed(0)} MB/s of CPU time)\n`,
      );
    }

    const sample = segments.slice(-Math.min(16, segments.length));
    const compressed = sample.map((segment) =>
      execFileSync('lz4', ['-c', '-q'], { input: segment.bytes, maxBuffer: 64 << 20 }),
    );
    const t2 = performance.now();
    for (const body of compressed) await decompress(body, 'lz4');
    const sampleBytes = sample.reduce((sum, segment) => sum + segment.bytes.length, 0);
    const lz4 = megabytesPerSecond(sampleBytes, performance.now() - t2);
    process.stdout.write(
      `lz4 decompression (${sample.length} segments made by the lz4 CLI): ${lz4.toFixed(0)} MB/s\n`,
    );
  } finally {
    await cluster.destroy();
  }
}

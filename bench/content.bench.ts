/**
 * WAL content benchmark: PostgreSQL 15 writes real WAL with pgbench — its initial bulk load (big heap and
 * index records), then TPC-B transactions (small records, many commits) — about 1 GiB in all by default
 * (`WALWATCH_BENCH_WAL_MIB` to change, `WALWATCH_BENCH_TPCB_SECONDS` for the TPC-B part, default 60).
 * walwatch's reader scans the decompressed segments for the last commit; the same files go through
 * `pg_waldump -r Transaction`, which finds the same last commit. Each part is measured alone, then all.
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

interface Segment {
  readonly name: string;
  readonly path: string;
  readonly bytes: Uint8Array;
}

function megabytesPerSecond(bytes: number, ms: number): number {
  return bytes / 1e6 / (ms / 1000);
}

/** Scans `segments` with walwatch (best of three) and with pg_waldump; prints one comparison. */
function compare(label: string, segments: readonly Segment[]): void {
  const totalBytes = segments.reduce((sum, segment) => sum + segment.bytes.length, 0);
  let best = Number.POSITIVE_INFINITY;
  let bestCpu = Number.POSITIVE_INFINITY;
  let last: { lsn: bigint; micros: bigint; time: string } | undefined;
  let records = 0;
  for (let round = 0; round < 3; round++) {
    const reader = new WalReader();
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
    best = Math.min(best, performance.now() - t0);
    bestCpu = Math.min(bestCpu, (cpu.user + cpu.system) / 1000);
  }
  const ours = megabytesPerSecond(totalBytes, best);

  const first = segments[0]?.path as string;
  const final = segments[segments.length - 1]?.path as string;
  const t1 = performance.now();
  const output = execFileSync(join(PG_BIN, 'pg_waldump'), ['-r', 'Transaction', first, final], {
    encoding: 'utf8',
    env: { ...process.env, TZ: 'UTC' },
    maxBuffer: 2 * 1024 * 1024 * 1024,
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const waldumpMs = performance.now() - t1;
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
    process.stdout.write(
      `generated ${(totalBytes / 1024 / 1024).toFixed(0)} MiB of WAL (${names.length} × ${SEGMENT_MIB} MiB ` +
        `segments): pgbench -i -s ${scale}, then ${tpcbSeconds} s of TPC-B, in ` +
        `${((performance.now() - started) / 1000).toFixed(0)} s; load average ${loadavg()[0]?.toFixed(1)}\n`,
    );
    compare(
      'bulk load',
      segments.filter((segment) => segment.name <= lastBulk),
    );
    compare(
      'TPC-B',
      segments.filter((segment) => segment.name > lastBulk),
    );
    compare('all', segments);

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

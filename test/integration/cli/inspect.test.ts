import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { run } from '../../../cli/inspect.js';
import { formatPgLsn } from '../../support/postgres-wal.js';
import {
  type DumpedRecord,
  dumpWal,
  hasPostgres,
  transactionEnds,
  WalCluster,
} from '../../support/wal-fixtures.js';

/** Runs `walwatch inspect` in-process and captures what it prints. */
async function inspect(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    stdout += String(chunk);
    return true;
  });
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
    stderr += String(chunk);
    return true;
  });
  try {
    return { code: await run(args), stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

const COMPRESSORS: [string, string, string[]][] = [
  ['lz4', 'lz4', ['-c', '-q']],
  ['lzma', 'xz', ['--format=lzma', '-c']],
  ['zst', 'zstd', ['-c', '-q']],
  ['br', 'brotli', ['-c']],
  ['gz', 'gzip', ['-c']],
];

describe.skipIf(!hasPostgres())('walwatch inspect', () => {
  let cluster: WalCluster;
  let scratch: string;
  let segmentPath: string;
  let segmentName: string;
  let dump: DumpedRecord[];

  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'walwatch-inspect-'));
    cluster = await WalCluster.start(1);
    cluster.sql(`
      CREATE TABLE t (id int, v text);
      INSERT INTO t SELECT g, 'x' FROM generate_series(1, 100) g;
      BEGIN; INSERT INTO t VALUES (0, 'no'); ROLLBACK;
      SELECT pg_create_restore_point('before-the-last-commits');
    `);
    for (let i = 0; i < 5; i++) cluster.sql(`INSERT INTO t VALUES (${1000 + i}, 'commit');`);
    segmentName = await cluster.switchAndArchive();
    segmentPath = join(scratch, segmentName);
    await writeFile(segmentPath, await readFile(join(cluster.archiveDir, segmentName)));
    dump = dumpWal([segmentPath]).records;
    for (const [extension, command, args] of COMPRESSORS) {
      const body = execFileSync(command, args, { input: await readFile(segmentPath), maxBuffer: 64 << 20 });
      await writeFile(`${segmentPath}.${extension}`, body);
    }
  });

  afterAll(async () => {
    await cluster?.destroy();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  it('prints the last commit pg_waldump finds, as JSON, for a segment compressed with lz4', async () => {
    const { code, stdout } = await inspect([`${segmentPath}.lz4`, '--json']);
    const commits = transactionEnds(dump).filter((end) => end.kind === 'commit');
    const last = commits[commits.length - 1];
    const segment = JSON.parse(stdout).segments[0];
    expect(code).toBe(0);
    expect(segment.compression).toBe('lz4');
    expect(segment.postgresVersion).toBe(15);
    expect(segment.lastCommitLsn).toBe(formatPgLsn(last?.lsn as bigint));
    expect(segment.lastCommitTimeMicros).toBe(String(last?.unixMicros));
    expect(segment.lastCommitTime).toBe(
      `${new Date(Number((last?.unixMicros as bigint) / 1000n)).toISOString().slice(0, 19)}.${String((last?.unixMicros as bigint) % 1_000_000n).padStart(6, '0')}Z`,
    );
    expect(segment.endsWithSwitch).toBe(true);
    expect(segment.restorePoints.map((p: { name: string }) => p.name)).toEqual(['before-the-last-commits']);
  });

  it('lists every commit and abort pg_waldump finds with --records', async () => {
    const { code, stdout } = await inspect([segmentPath, '--json', '--records']);
    const listed = JSON.parse(stdout).segments[0].transactionEnds.map(
      (end: { kind: string; lsn: string; xid: number; timeMicros: string }) =>
        `${end.kind} ${end.lsn} ${end.xid} ${end.timeMicros}`,
    );
    expect(code).toBe(0);
    expect(listed).toEqual(
      transactionEnds(dump).map((e) => `${e.kind} ${formatPgLsn(e.lsn)} ${e.xid} ${e.unixMicros}`),
    );
    expect(listed.some((line: string) => line.startsWith('abort'))).toBe(true);
  });

  it.each(COMPRESSORS.map(([extension]) => [extension]))(
    'prints the same summary for a .%s object as for the plain segment',
    async (extension) => {
      const plain = JSON.parse((await inspect([segmentPath, '--json'])).stdout).segments[0];
      const { code, stdout } = await inspect([`${segmentPath}.${extension}`, '--json']);
      const compressed = JSON.parse(stdout).segments[0];
      expect(code).toBe(0);
      expect({ ...compressed, source: '', compression: '', objectSize: 0 }).toEqual({
        ...plain,
        source: '',
        compression: '',
        objectSize: 0,
      });
    },
  );

  it('prints a human summary with the last commit time', async () => {
    const { code, stdout } = await inspect([segmentPath, '--records']);
    const last = transactionEnds(dump)
      .filter((end) => end.kind === 'commit')
      .at(-1);
    expect(code).toBe(0);
    expect(stdout).toContain('PostgreSQL 15');
    expect(stdout).toContain(`at ${formatPgLsn(last?.lsn as bigint)}`);
    expect(stdout).toContain('ends with XLOG_SWITCH');
  });

  it('exits 2 and names the record when a byte of the segment is damaged', async () => {
    const bytes = new Uint8Array(await readFile(segmentPath));
    const victim = dump[Math.floor(dump.length / 2)] as DumpedRecord;
    const offset = Number(victim.lsn % 1048576n) + 20;
    bytes[offset] = (bytes[offset] as number) ^ 0xff;
    const damaged = join(scratch, segmentName);
    await writeFile(`${damaged}.damaged`, bytes);
    const { code, stdout } = await inspect([`${damaged}.damaged`, '--compression', 'none']);
    expect(code).toBe(2);
    expect(stdout).toContain(`error: record at ${formatPgLsn(victim.lsn)} fails its CRC-32C check`);
  });

  it('exits 2 for a truncated lz4 object and for a WAL-E .lzo object', async () => {
    const body = await readFile(`${segmentPath}.lz4`);
    await writeFile(join(scratch, 'cut.lz4'), body.subarray(0, body.length >> 1));
    await writeFile(
      join(scratch, 'old.lzo'),
      Uint8Array.from([0x89, 0x4c, 0x5a, 0x4f, 0, 0x0d, 0x0a, 0x1a, 0x0a]),
    );
    const cut = await inspect([join(scratch, 'cut.lz4')]);
    const lzo = await inspect([join(scratch, 'old.lzo'), '--json']);
    expect(cut.code).toBe(2);
    expect(cut.stdout).toContain('unreadable: lz4 frame is truncated');
    expect(lzo.code).toBe(2);
    expect(JSON.parse(lzo.stdout).segments[0].error).toMatch(/lzop/);
  });

  it('exits 3 with a one-line message for a missing file, a bad option and no argument', async () => {
    for (const args of [
      [join(scratch, 'nothing-here')],
      [segmentPath, '--bogus'],
      [],
      [segmentPath, '--compression', 'rar'],
    ]) {
      const { code, stderr } = await inspect(args);
      expect(code).toBe(3);
      expect(stderr).toMatch(/^walwatch inspect: /);
      expect(stderr).not.toMatch(/\n\s+at /);
    }
  });

  describe.skipIf(spawnSync('moto_server', ['--help']).error !== undefined)('on S3', () => {
    let moto: ChildProcess;
    let endpoint: string;

    beforeAll(async () => {
      const port = await new Promise<number>((resolve) => {
        const server = createServer().listen(0, '127.0.0.1', () => {
          const { port } = server.address() as { port: number };
          server.close(() => resolve(port));
        });
      });
      endpoint = `http://127.0.0.1:${port}`;
      moto = spawn('moto_server', ['-H', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
      const deadline = Date.now() + 20_000;
      while (Date.now() < deadline) {
        if (
          await fetch(endpoint).then(
            () => true,
            () => false,
          )
        )
          break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      vi.stubEnv('AWS_ACCESS_KEY_ID', 'walwatch');
      vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'walwatch');
      const client = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true });
      await client.send(new CreateBucketCommand({ Bucket: 'archive' }));
      await client.send(
        new PutObjectCommand({
          Bucket: 'archive',
          Key: `spilo/demo/wal/15/wal_005/${segmentName}.lz4`,
          Body: await readFile(`${segmentPath}.lz4`),
        }),
      );
    });

    afterAll(() => {
      vi.unstubAllEnvs();
      moto?.kill();
    });

    it('reads an object from an S3-compatible endpoint', async () => {
      const local = JSON.parse((await inspect([`${segmentPath}.lz4`, '--json'])).stdout).segments[0];
      const key = `s3://archive/spilo/demo/wal/15/wal_005/${segmentName}.lz4`;
      const { code, stdout } = await inspect([
        key,
        '--json',
        '--endpoint',
        endpoint,
        '--path-style',
        '--region',
        'us-east-1',
      ]);
      expect(code).toBe(0);
      expect(JSON.parse(stdout).segments[0]).toEqual({ ...local, source: key });
    });

    it('exits 3 when the object does not exist', async () => {
      const { code, stderr } = await inspect([
        's3://archive/missing.lz4',
        '--endpoint',
        endpoint,
        '--path-style',
        '--region',
        'us-east-1',
      ]);
      expect(code).toBe(3);
      expect(stderr).toMatch(/cannot read s3:\/\/archive\/missing.lz4/);
    });
  });
});

/**
 * `walwatch wal-fetch` as PostgreSQL's `restore_command`: bodies written by the real compression CLIs come
 * back byte for byte, an absent file exits 1, and a failed download leaves nothing at DEST.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { run } from '../../../cli/wal-fetch.js';
import { readWalFile } from '../../../shared/drill/wal-fetch.js';
import { openS3Source } from '../../../shared/sources/s3-source.js';
import {
  type LocalMoto,
  MOTO_CREDENTIALS,
  MOTO_REGION,
  motoAvailable,
  startMoto,
} from '../../support/moto.js';

const SEGMENT = '00000001000000000000002A';
const LAUNCHER = fileURLToPath(new URL('../../../bin/walwatch.js', import.meta.url));

/** The CLIs WAL-G's compressors match, and the extension each gets. */
const COMPRESSORS: ReadonlyArray<{ name: string; extension: string; command: string[] | null }> = [
  { name: 'lz4', extension: '.lz4', command: ['lz4', '-q', '-z', '-c'] },
  { name: 'zstd', extension: '.zst', command: ['zstd', '-q', '-c'] },
  { name: 'brotli', extension: '.br', command: ['brotli', '-c'] },
  { name: 'xz --format=lzma', extension: '.lzma', command: ['xz', '--format=lzma', '-c'] },
  { name: 'gzip', extension: '.gz', command: ['gzip', '-c'] },
  { name: 'no compression', extension: '', command: null },
];

describe('walwatch wal-fetch', () => {
  let dir: string;
  let segment: Buffer;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'walwatch-wal-fetch-test-'));
    // Half random, half zeros: compressible like a real segment, and any decoding slip shows.
    segment = Buffer.concat([randomBytes(256 * 1024), Buffer.alloc(256 * 1024)]);
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function archiveRoot(name: string): Promise<string> {
    const root = join(dir, name, 'spilo', 'demo', 'wal', '15');
    await mkdir(join(root, 'wal_005'), { recursive: true });
    return root;
  }

  it.each(COMPRESSORS)('decompresses a body written by $name', async ({ extension, command }) => {
    const root = await archiveRoot(`root${extension || '-none'}`);
    const body = command
      ? execFileSync(command[0] as string, command.slice(1), { input: segment, maxBuffer: 1 << 24 })
      : segment;
    await writeFile(join(root, 'wal_005', `${SEGMENT}${extension}`), body);
    const dest = join(dir, `restored${extension || '-none'}`);
    expect(await run([SEGMENT, dest, '--dir', root])).toBe(0);
    expect((await readFile(dest)).equals(segment)).toBe(true);
  });

  it('fetches a timeline history file', async () => {
    const root = await archiveRoot('history');
    const history = '1\t0/3000158\tno recovery target specified\n';
    await writeFile(
      join(root, 'wal_005', '00000002.history.lz4'),
      execFileSync('lz4', ['-q', '-z', '-c'], { input: history }),
    );
    const dest = join(dir, 'RECOVERYHISTORY');
    expect(await run(['00000002.history', dest, '--dir', root])).toBe(0);
    expect(await readFile(dest, 'utf8')).toBe(history);
  });

  it('--until serves the archive as it was: later segments, unlisted timelines and newer histories are absent', async () => {
    const root = await archiveRoot('until');
    const names = [
      '000000010000000000000029',
      SEGMENT,
      '00000001000000000000002B',
      '000000020000000000000029',
      '00000002.history',
      '00000003.history',
    ];
    for (const name of names) await writeFile(join(root, 'wal_005', name), segment);
    const fetch = (name: string, until: string) =>
      run([name, join(dir, `until-${name}`), '--dir', root, '--until', until]);
    const until = `000000010000000000000028,${SEGMENT}`;
    expect(await fetch('000000010000000000000029', until)).toBe(0);
    expect(await fetch(SEGMENT, until)).toBe(0);
    expect(await fetch('00000001000000000000002B', until)).toBe(1);
    expect(await fetch('000000020000000000000029', until)).toBe(1);
    expect(await fetch('00000002.history', until)).toBe(1);
    expect(await fetch('00000002.history', `${until},000000020000000000000029`)).toBe(0);
    expect(await fetch('00000003.history', `${until},000000020000000000000029`)).toBe(1);
    expect(await fetch('00000001000000000000002B', '')).toBe(3);
    expect(await fetch('00000001000000000000002B', 'not-a-segment')).toBe(3);
  });

  it('exits 1 and writes nothing when the file is not in the archive, as PostgreSQL expects', async () => {
    const root = await archiveRoot('absent');
    const dest = join(dir, 'absent-dest');
    const result = spawnSync(
      process.execPath,
      [LAUNCHER, 'wal-fetch', '00000001000000000000002B', dest, '--dir', root],
      {
        encoding: 'utf8',
      },
    );
    expect(result.status).toBe(1);
    await expect(readFile(dest)).rejects.toThrow(/ENOENT/);
  });

  it('exits 2 with one line and writes nothing when a body is damaged', async () => {
    const root = await archiveRoot('damaged');
    const body = execFileSync('lz4', ['-q', '-z', '-c'], { input: segment });
    await writeFile(join(root, 'wal_005', `${SEGMENT}.lz4`), body.subarray(0, body.length - 100));
    const dest = join(dir, 'damaged-dest');
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      expect(await run([SEGMENT, dest, '--dir', root])).toBe(2);
      const lines = stderr.mock.calls.map(([text]) => String(text));
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^walwatch wal-fetch: 00000001000000000000002A: .*\n$/);
      expect(lines[0]?.trimEnd()).not.toContain('\n');
    } finally {
      stderr.mockRestore();
    }
    await expect(readFile(dest)).rejects.toThrow(/ENOENT/);
    expect((await readdir(dir)).filter((name) => name.includes('damaged-dest'))).toEqual([]);
  });

  it('exits 3 on a usage error', async () => {
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      expect(await run([SEGMENT, join(dir, 'x')])).toBe(3);
    } finally {
      stderr.mockRestore();
    }
  });
});

describe('walwatch wal-fetch from S3', () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'walwatch-wal-fetch-s3-'));
    vi.stubEnv('AWS_ACCESS_KEY_ID', MOTO_CREDENTIALS.accessKeyId);
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', MOTO_CREDENTIALS.secretAccessKey);
    vi.stubEnv('AWS_REGION', MOTO_REGION);
  });

  afterAll(async () => {
    vi.unstubAllEnvs();
    await rm(dir, { recursive: true, force: true });
  });

  it('leaves nothing at DEST when the download is cut off midway', async () => {
    // No S3 stand-in here can cut a body short, so a plain HTTP server plays one: it answers the GET with
    // the full length announced and closes the connection after the first bytes.
    const server: Server = createServer((request, response) => {
      if (request.method !== 'GET' || !request.url?.includes(`${SEGMENT}.lz4`)) {
        response
          .writeHead(404, { 'content-type': 'application/xml' })
          .end('<Error><Code>NoSuchKey</Code></Error>');
        return;
      }
      response.writeHead(200, {
        'content-length': String(1 << 20),
        'content-type': 'application/octet-stream',
      });
      response.write(Buffer.from([0x04, 0x22, 0x4d, 0x18, ...randomBytes(4000)]), () => response.destroy());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const dest = join(dir, 'cut-dest');
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      const code = await run([
        SEGMENT,
        dest,
        '--from',
        's3://bucket/spilo/demo/wal/15',
        '--endpoint',
        endpoint,
        '--path-style',
      ]);
      expect(code).toBe(2);
    } finally {
      stderr.mockRestore();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
    expect(await readdir(dir)).toEqual([]);
  });

  it('aborts an S3 read that hangs when its signal fires, closing the connection of the GET', async () => {
    // A store that takes the request and never answers, as a hung GET does.
    let closed = false;
    const server: Server = createServer((request) => {
      request.socket.on('close', () => {
        closed = true;
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const source = openS3Source({ bucket: 'bucket', prefix: '', endpoint, forcePathStyle: true });
      const abort = new AbortController();
      const reason = new Error('the drill ended');
      setTimeout(() => abort.abort(reason), 200);
      // Rejected with the drill's own reason: the signal ended the read, not a timeout of the SDK's.
      await expect(readWalFile(source, 'spilo/demo/wal/15', SEGMENT, undefined, abort.signal)).rejects.toBe(
        reason,
      );
      await vi.waitFor(() => expect(closed).toBe(true));
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it.runIf(motoAvailable())(
    'fetches a segment from a bucket and exits 1 for one that is not there',
    async () => {
      let moto: LocalMoto | undefined;
      try {
        moto = await startMoto();
        const segment = randomBytes(64 * 1024);
        await moto.s3.send(
          new CreateBucketCommand({
            Bucket: 'wal',
            CreateBucketConfiguration: { LocationConstraint: MOTO_REGION },
          }),
        );
        await moto.s3.send(
          new PutObjectCommand({
            Bucket: 'wal',
            Key: `spilo/demo/wal/15/wal_005/${SEGMENT}.zst`,
            Body: execFileSync('zstd', ['-q', '-c'], { input: segment }),
          }),
        );
        const from = ['--from', 's3://wal/spilo/demo/wal/15', '--endpoint', moto.endpoint, '--path-style'];
        const dest = join(dir, 'from-s3');
        expect(await run([SEGMENT, dest, ...from])).toBe(0);
        expect((await readFile(dest)).equals(segment)).toBe(true);
        expect(await run(['00000001000000000000002B', join(dir, 'none'), ...from])).toBe(1);
      } finally {
        await moto?.stop();
      }
    },
    30_000,
  );
});

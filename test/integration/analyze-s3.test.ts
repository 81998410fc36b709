/**
 * `walwatch analyze s3://…` through the AWS SDK against moto's S3: paginated listing (more than one page),
 * the endpoint and path-style options, documents read and decompressed, and the same report as `--dir`
 * over the same objects.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { walFileName } from '../../shared/core/lsn.js';
import type { Report } from '../../shared/core/report.js';
import { type GeneratedObject, generateArchive } from '../support/archive-generator.js';
import { type LocalMoto, MOTO_CREDENTIALS, MOTO_REGION, motoAvailable, startMoto } from '../support/moto.js';

const ROOT = join(import.meta.dirname, '..', '..');
const MIB = 1024 * 1024;

async function walwatch(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = {
    ...process.env,
    AWS_ACCESS_KEY_ID: MOTO_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: MOTO_CREDENTIALS.secretAccessKey,
    AWS_REGION: MOTO_REGION,
  };
  try {
    const { stdout, stderr } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', 'cli/main.ts', 'analyze', ...args],
      {
        cwd: ROOT,
        env,
        maxBuffer: 64 * MIB,
      },
    );
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

describe.runIf(motoAvailable())('walwatch analyze s3://', () => {
  let moto: LocalMoto;
  let dir: string;
  let objects: GeneratedObject[];
  // moto stamps objects with the upload time: analyse two hours later, so the hole is lost, not pending.
  const now = new Date(Date.now() + 2 * 3_600_000).toISOString();

  beforeAll(async () => {
    moto = await startMoto();
    await moto.s3.send(
      new CreateBucketCommand({
        Bucket: 'walg',
        CreateBucketConfiguration: { LocationConstraint: MOTO_REGION },
      }),
    );
    // Two clusters, 1,200+ objects: listing takes two pages.
    objects = [
      ...generateArchive({
        clusterId: 'spilo/alpha/wal/15',
        segmentSize: 16 * MIB,
        segments: 1100,
        switches: [600],
        backups: [10, 700],
        holes: [900],
      }),
      ...generateArchive({
        clusterId: 'spilo/beta/uid-1/wal/16',
        segmentSize: 16 * MIB,
        segments: 100,
        switches: [],
        backups: [1],
      }),
    ].map((object) =>
      object.key.endsWith('.history.lz4') ? { ...object, key: object.key.replace(/\.lz4$/, '') } : object,
    );
    dir = await mkdtemp(join(tmpdir(), 'walwatch-s3-'));
    for (const object of objects) {
      const body = object.content ?? `segment ${object.key}`;
      await moto.s3.send(new PutObjectCommand({ Bucket: 'walg', Key: object.key, Body: body }));
      const path = join(dir, ...object.key.split('/'));
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, body);
    }
  }, 120_000);

  afterAll(async () => {
    await moto?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('lists every page and finds both clusters with their Spilo fields', async () => {
    const run = await walwatch([
      's3://walg',
      '--endpoint',
      moto.endpoint,
      '--path-style',
      '--json',
      '--now',
      now,
    ]);
    expect(run.code).toBe(2);
    const report = JSON.parse(run.stdout) as Report;
    expect(report.clusters.map((c) => [c.id, c.scope, c.uid, c.pgMajor])).toEqual([
      ['spilo/alpha/wal/15', 'alpha', null, '15'],
      ['spilo/beta/uid-1/wal/16', 'beta', 'uid-1', '16'],
    ]);
    const alpha = report.clusters[0];
    expect(alpha?.timelines.map((t) => [t.id, t.segments])).toEqual([
      [1, 600],
      [2, 499],
    ]);
    // The hole is segment 901 (relative 900 + the first, 1), on timeline 2 after the switch at 601.
    expect(alpha?.gaps.map((g) => g.firstSegment)).toEqual([walFileName(2, 901, 16 * MIB)]);
    expect(run.stderr).toContain('listing s3://walg/');
  });

  it('gives the same report as --dir over the same objects, apart from storage times', async () => {
    const fromS3 = JSON.parse(
      (
        await walwatch([
          's3://walg/spilo/alpha/',
          '--endpoint',
          moto.endpoint,
          '--path-style',
          '--json',
          '--now',
          now,
          '--quiet',
        ])
      ).stdout,
    ) as Report;
    // Folder mtimes stand in for LastModified: give them the bucket's times (moto stamps uploads now).
    for (const object of objects) await utimes(join(dir, ...object.key.split('/')), new Date(), new Date());
    const fromDir = JSON.parse(
      (await walwatch(['--dir', dir, '--cluster', 'spilo/alpha/wal/15', '--json', '--now', now, '--quiet']))
        .stdout,
    ) as Report;
    const shape = (report: Report) =>
      report.clusters.map((c) => ({
        id: c.id,
        timelines: c.timelines,
        backups: c.backups.map((b) => [b.name, b.status, b.startLsn, b.finishLsn]),
        gaps: c.gaps.map((g) => [g.firstSegment, g.lastSegment, g.count]),
        intervals: c.recoverableIntervals.map((i) => [i.fromLsn, i.toLsn]),
        latest: c.latestRecoverable?.lsn,
      }));
    expect(shape(fromS3)).toEqual(shape(fromDir));
  });

  it('exits 3 with one clear line when the bucket does not exist', async () => {
    const run = await walwatch([
      's3://no-such-bucket',
      '--endpoint',
      moto.endpoint,
      '--path-style',
      '--quiet',
    ]);
    expect(run.code).toBe(3);
    expect(run.stderr).toMatch(/^walwatch analyze: cannot list s3:\/\/no-such-bucket\/: NoSuchBucket/m);
    expect(run.stderr).not.toContain('    at ');
  });
});

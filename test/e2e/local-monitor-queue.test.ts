/**
 * The local monitor fed by S3 notifications through SQS (`walwatch serve --bucket … --queue …`), the AWS
 * event shape end to end: PostgreSQL 15's archive, in WAL-G's layout, is stored into moto's S3 object by
 * object as WAL-G would upload it; moto sends each ObjectCreated/ObjectRemoved to the queue.
 */
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { ClusterReport } from '../../shared/core/report.js';
import { type LocalMonitor, startLocalMonitor } from '../../shared/local/local-monitor.js';
import { analyzeArchive } from '../../shared/sources/analyze-archive.js';
import { openDirSource } from '../../shared/sources/dir-source.js';
import {
  createNotifiedBucket,
  type LocalMoto,
  MOTO_CREDENTIALS,
  MOTO_REGION,
  motoAvailable,
  startMoto,
} from '../support/moto.js';
import { type PostgresHarness, startPostgres } from '../support/postgres.js';
import { type FailoverScenario, runFailoverScenario } from '../support/postgres-scenario.js';
import { computeSegmentEndLsn, formatPgLsn } from '../support/postgres-wal.js';

const CLUSTER = 'spilo/queued/wal/15';

/** Every file of a folder, oldest first, as keys relative to it. */
async function filesByAge(root: string): Promise<Array<{ key: string; path: string }>> {
  const found: Array<{ key: string; path: string; at: number }> = [];
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await walk(path);
      else
        found.push({ key: relative(root, path).split(sep).join('/'), path, at: (await stat(path)).mtimeMs });
    }
  };
  await walk(root);
  return found.sort((a, b) => a.at - b.at);
}

describe.runIf(motoAvailable())(
  'walwatch serve --queue on S3 notifications of a PostgreSQL 15 archive',
  () => {
    let moto: LocalMoto;
    let pg: PostgresHarness;
    let scenario: FailoverScenario;
    let monitor: LocalMonitor;
    let dataDir: string;
    let bucket: string;

    async function report(): Promise<ClusterReport | undefined> {
      const response = await fetch(`${monitor.url}/clusters/${encodeURIComponent(CLUSTER)}`);
      return response.status === 200
        ? ((await response.json()) as { cluster: ClusterReport }).cluster
        : undefined;
    }

    async function waitFor(accept: (r: ClusterReport) => boolean): Promise<ClusterReport> {
      const deadline = Date.now() + 30_000;
      let last: ClusterReport | undefined;
      while (Date.now() < deadline) {
        last = await report();
        if (last && accept(last)) return last;
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      throw new Error(`no convergence; last report ${JSON.stringify(last)?.slice(0, 1500)}`);
    }

    beforeAll(async () => {
      moto = await startMoto();
      const notified = await createNotifiedBucket(moto, 'wal-archive', {
        maxReceiveCount: 5,
        visibilityTimeoutSeconds: 30,
      });
      bucket = notified.bucket;
      vi.stubEnv('AWS_REGION', MOTO_REGION);
      vi.stubEnv('AWS_ACCESS_KEY_ID', MOTO_CREDENTIALS.accessKeyId);
      vi.stubEnv('AWS_SECRET_ACCESS_KEY', MOTO_CREDENTIALS.secretAccessKey);
      pg = await startPostgres({ archivePrefix: CLUSTER });
      scenario = await runFailoverScenario(pg, { timeline2Segments: 3 });
      dataDir = await mkdtemp(join(tmpdir(), 'walwatch-queue-'));
      monitor = await startLocalMonitor({
        dataDir,
        bucket: { name: bucket, prefix: '', endpoint: moto.endpoint, forcePathStyle: true },
        queueUrl: notified.queueUrl,
        host: '127.0.0.1',
        port: 0,
        segmentSize: pg.walSegmentSize,
        // No sweep during the test: what the API shows comes from queue batches alone.
        sweepIntervalMs: 3_600_000,
        log: () => undefined,
      });
      // Upload the archive the way WAL-G stores it: object by object, in the order PostgreSQL archived them.
      for (const { key, path } of await filesByAge(pg.bucketDir)) {
        await moto.s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: await readFile(path) }));
      }
    }, 180_000);

    afterAll(async () => {
      await monitor?.stop();
      await pg?.stop();
      await moto?.stop();
      vi.unstubAllEnvs();
      if (dataDir) await rm(dataDir, { recursive: true, force: true });
    });

    it('reaches what PostgreSQL archived, from notifications alone, and agrees with a full analysis', async () => {
      const last = scenario.timeline2Switched.at(-1) as string;
      const live = await waitFor((r) => r.latestRecoverable?.segment === last && r.backups.length === 1);
      expect(live).toMatchObject({ targetTimeline: 2, id: CLUSTER });
      expect(live.latestRecoverable).toMatchObject({
        backup: scenario.backup.name,
        lsn: formatPgLsn(computeSegmentEndLsn(last, pg.walSegmentSize)),
      });
      expect(live.timelines.find((t) => t.id === 2)).toMatchObject({
        parent: 1,
        switchLsn: scenario.promotion.switchLsn,
      });
      const full = await analyzeArchive(await openDirSource(pg.bucketDir), {
        now: Date.now(),
        segmentSizeOf: () => pg.walSegmentSize,
        content: true,
      });
      const expected = full.clusters[0] as ClusterReport;
      // The exact last commit, read from the chain-end segment right after the batch that moved it.
      expect(expected.latestRecoverable?.lastCommitTime).toMatch(/^\d{4}-/);
      const exact = await waitFor(
        (r) => r.latestRecoverable?.lastCommitTime === expected.latestRecoverable?.lastCommitTime,
      );
      expect(exact.latestRecoverable?.lastCommitLsn).toBe(expected.latestRecoverable?.lastCommitLsn);
      expect(live.gaps).toEqual(expected.gaps);
      expect(live.backups.map((b) => [b.name, b.status, b.startLsn, b.finishLsn])).toEqual(
        expected.backups.map((b) => [b.name, b.status, b.startLsn, b.finishLsn]),
      );
      expect(live.recoverableIntervals.map((i) => [i.fromLsn, i.toLsn])).toEqual(
        expected.recoverableIntervals.map((i) => [i.fromLsn, i.toLsn]),
      );
    });

    it('turns an ObjectRemoved of a needed segment into a gap and wal-deleted', async () => {
      const [, middle] = scenario.timeline2Switched as [string, string, string];
      await moto.s3.send(
        new DeleteObjectCommand({ Bucket: bucket, Key: `${CLUSTER}/wal_005/${middle}.lz4` }),
      );
      const live = await waitFor((r) => r.problems.some((p) => p.kind === 'wal-deleted'));
      expect(live.problems).toEqual(
        expect.arrayContaining([expect.objectContaining({ kind: 'wal-deleted', subject: middle })]),
      );
      expect(live.gaps).toEqual([expect.objectContaining({ firstSegment: middle, count: 1 })]);
    });
  },
);

/**
 * `walwatch analyze --dir … --content` with no segment size on the archive of a PostgreSQL 15 cluster
 * initialised with `initdb --wal-segsize=64`: the size is learnt from the archive, and the backup, the
 * latest recoverable point and its last commit are the ones PostgreSQL reports, as with the size given.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { run as analyze } from '../../cli/analyze.js';
import { formatLsn } from '../../shared/core/lsn.js';
import type { ClusterReport } from '../../shared/core/report.js';
import { type BaseBackupFacts, type PostgresHarness, startPostgres } from '../support/postgres.js';

const MIB = 1024 * 1024;
const ROOT = 'spilo/sixty-four/wal/15';

describe('walwatch analyze on a 64 MiB cluster with no segment size given', () => {
  let pg: PostgresHarness;
  let backup: BaseBackupFacts;
  const switched: string[] = [];
  let detected: ClusterReport;
  let configured: ClusterReport;
  let lastCommit: { time: string; lsn: string };

  beforeAll(async () => {
    pg = await startPostgres({ archivePrefix: ROOT, walSegmentSize: 64 * MIB });
    const { primary } = pg;
    const writeSegment = async () => {
      await primary.generateLoad(2000);
      const completed = await primary.switchWal();
      await primary.waitForArchived(completed, 60_000);
      switched.push(completed);
    };
    await writeSegment();
    backup = await primary.takeBaseBackup();
    await writeSegment();
    await writeSegment();

    const now = new Date().toISOString();
    detected = await analyzeJson(['--dir', pg.bucketDir, '--content', '--now', now]);
    configured = await analyzeJson([
      '--dir',
      pg.bucketDir,
      '--content',
      '--now',
      now,
      '--segment-size',
      '64MiB',
    ]);

    // PostgreSQL's own reading of the last segment archived, where the last commit lies.
    const last = switched.at(-1) as string;
    const walDir = await pg.extractArchivedWal([last]);
    const startLsn = formatLsn(
      (BigInt(`0x${last.slice(8, 16)}`) << 32n) + BigInt(`0x${last.slice(16)}`) * BigInt(64 * MIB),
    );
    const dump = await pg.dumpWal({ walDir, timeline: 1, startLsn });
    const commits = dump.records.flatMap((record) => {
      const match = /^COMMIT (\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)(\.\d+)? UTC/.exec(record.description);
      if (record.rmgr !== 'Transaction' || !match) return [];
      const fraction = (match[3] ?? '.').slice(1).padEnd(6, '0');
      return [{ time: `${match[1]}T${match[2]}.${fraction}Z`, lsn: record.lsn }];
    });
    lastCommit = commits.at(-1) as { time: string; lsn: string };
  }, 240_000);

  afterAll(async () => {
    await pg?.stop();
  });

  it('learns 64 MiB from the backup history file PostgreSQL archived', () => {
    expect(detected).toMatchObject({ segmentSize: 64 * MIB, segmentSizeSource: 'backup-label' });
    expect(detected.problems.map((problem) => problem.kind)).not.toContain('segment-size-mismatch');
  });

  it('reports the backup restorable with the LSNs PostgreSQL gave', () => {
    expect(detected.backups).toEqual([
      expect.objectContaining({
        name: backup.name,
        status: 'restorable',
        startLsn: backup.startLsn,
        finishLsn: backup.finishLsn,
      }),
    ]);
  });

  it('reaches the last commit pg_waldump finds, as with the size given', () => {
    expect(detected.latestRecoverable).toMatchObject({
      segment: switched.at(-1),
      lastCommitTime: lastCommit.time,
      lastCommitLsn: lastCommit.lsn,
    });
    expect({ ...detected, segmentSizeSource: 'configured' }).toEqual(configured);
  });
});

async function analyzeJson(args: string[]): Promise<ClusterReport> {
  const out: string[] = [];
  const stdout = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    out.push(String(chunk));
    return true;
  });
  try {
    await analyze([...args, '--json', '--quiet']);
  } finally {
    stdout.mockRestore();
  }
  const report = JSON.parse(out.join('')) as { clusters: ClusterReport[] };
  expect(report.clusters.map((cluster) => cluster.id)).toEqual([ROOT]);
  return report.clusters[0] as ClusterReport;
}

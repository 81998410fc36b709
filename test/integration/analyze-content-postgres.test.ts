/**
 * `walwatch analyze --content` on WAL written by PostgreSQL 15: the latest recoverable point's last commit
 * time and LSN are the ones `pg_waldump` finds in the same archived segments, to the microsecond.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterReport } from '../../shared/core/report.js';
import { planRestore } from '../../shared/core/restore-plan.js';
import { analyzeArchive } from '../../shared/sources/analyze-archive.js';
import { openDirSource } from '../../shared/sources/dir-source.js';
import { type PostgresHarness, startPostgres } from '../support/postgres.js';
import { type FailoverScenario, runFailoverScenario } from '../support/postgres-scenario.js';

describe('walwatch analyze --content on an archive written by PostgreSQL 15', () => {
  let pg: PostgresHarness;
  let scenario: FailoverScenario;
  let cluster: ClusterReport;
  let lastCommit: { time: string; lsn: string };

  beforeAll(async () => {
    pg = await startPostgres({ archivePrefix: 'spilo/content/wal/15' });
    scenario = await runFailoverScenario(pg, { timeline2Segments: 3 });
    const report = await analyzeArchive(await openDirSource(pg.bucketDir), {
      now: Date.now(),
      segmentSizeOf: () => pg.walSegmentSize,
      content: true,
    });
    cluster = report.clusters[0] as ClusterReport;

    // PostgreSQL's own reading of the same archived segments.
    const walDir = await pg.extractArchivedWal(scenario.timeline2Switched);
    const dump = await pg.dumpWal({
      walDir,
      timeline: 2,
      startLsn: scenario.promotion.switchLsn,
      endLsn: cluster.latestRecoverable?.lsn as string,
    });
    const ends = dump.records.flatMap((record) => {
      const match = /^(?:COMMIT|ABORT) (\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)(\.\d+)? UTC/.exec(
        record.description,
      );
      if (record.rmgr !== 'Transaction' || !match) return [];
      const fraction = (match[3] ?? '.').slice(1).padEnd(6, '0');
      return [{ time: `${match[1]}T${match[2]}.${fraction}Z`, lsn: record.lsn }];
    });
    lastCommit = ends.at(-1) as { time: string; lsn: string };
  }, 180_000);

  afterAll(async () => {
    await pg?.stop();
  });

  it('reports the last commit pg_waldump finds in the chain, to the microsecond', () => {
    expect(lastCommit).toBeDefined();
    expect(cluster.latestRecoverable).toMatchObject({
      timeline: 2,
      lastCommitTime: lastCommit.time,
      lastCommitLsn: lastCommit.lsn,
    });
    expect(cluster.recoverableIntervals.at(-1)?.toTime).toBe(lastCommit.time);
    expect(cluster.problems.map((p) => p.kind)).not.toContain('content-unreadable');
  });

  it('plans restores against the exact commit time', () => {
    const commitMs = Date.parse(lastCommit.time);
    const before = planRestore(cluster, {
      kind: 'time',
      time: new Date(commitMs - 1).toISOString(),
      ms: commitMs - 1,
    });
    expect(before).toMatchObject({ reachable: true, certainty: 'exact', backup: scenario.backup.name });
    const after = planRestore(cluster, {
      kind: 'time',
      time: new Date(commitMs + 252_000).toISOString(),
      ms: commitMs + 252_000,
    });
    expect(after.reachable).toBe(false);
    expect(after.reason).toContain('after the last archived commit');
    expect(after.reason).toContain('by 4 min 12 s');
  });
});

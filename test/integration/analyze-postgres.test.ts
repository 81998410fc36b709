import { cp, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  computeSegmentEndLsn,
  formatPgLsn,
  type PostgresHarness,
  type RecoveryFacts,
  startPostgres,
} from '../support/postgres.js';
import { locateArchivedWal } from '../support/postgres-archive.js';
import { runCommand } from '../support/postgres-exec.js';
import { type FailoverScenario, runFailoverScenario } from '../support/postgres-scenario.js';

// Every expected value below comes from PostgreSQL (function results, pg_controldata, the history file,
// pg_stat_archiver) or from what the harness stored, never from walwatch's own code.

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TSX = join(REPO_ROOT, 'node_modules', '.bin', 'tsx');
const SCOPE = 'analyze-it';
const MINUTE_MS = 60_000;

/** The fields of the JSON report (spec/report.md) this test reads. */
interface ClusterReport {
  id: string;
  scope: string | null;
  uid: string | null;
  pgMajor: string | null;
  segmentSize: number;
  status: string;
  targetTimeline: number;
  timelines: Array<{
    id: number;
    parent: number | null;
    switchLsn: string | null;
    firstSegment: string | null;
    lastSegment: string | null;
    segments: number;
  }>;
  backups: Array<{
    name: string;
    timeline: number;
    startLsn: string;
    finishLsn: string;
    startTime: string | null;
    finishTime: string | null;
    status: string;
    permanent: boolean;
    delta: unknown;
    systemIdentifier?: string;
    pgVersion?: number;
  }>;
  gaps: Array<{
    timeline: number;
    firstSegment: string;
    lastSegment: string;
    count: number;
    status: string;
    severity: string;
  }>;
  earliestRecoverable: { backup: string; timeline: number; lsn: string; time: string | null } | null;
  latestRecoverable: {
    backup: string;
    timeline: number;
    segment: string;
    lsn: string;
    archivedAt: string | null;
    lastCommitTime: string | null;
    lastCommitLsn: string | null;
  } | null;
  recoverableIntervals: Array<{ timeline: number; fromLsn: string; toLsn: string }>;
  archiveAgeSeconds: number | null;
  backupAgeSeconds: number | null;
  recoveryPointLagSeconds: number | null;
  problems: Array<{ kind: string; severity: string; subject: string }>;
}

interface AnalyzeRun {
  readonly exitCode: number;
  readonly clusters: ClusterReport[];
  readonly stderr: string;
}

/** Runs `walwatch analyze --dir DIR --json --segment-size N --now ISO [more]` as a user would. */
async function analyze(dir: string, segmentSize: number, now: Date, ...more: string[]): Promise<AnalyzeRun> {
  const args = [
    '--dir',
    dir,
    '--json',
    '--segment-size',
    String(segmentSize),
    '--now',
    now.toISOString(),
    ...more,
  ];
  const result = await runCommand(TSX, ['cli/main.ts', 'analyze', ...args], {
    cwd: REPO_ROOT,
    allowedExitCodes: [0, 1, 2, 3],
  });
  const stdout = result.stdout.toString('utf8');
  if (result.exitCode === 3)
    throw new Error(`walwatch analyze ${args.join(' ')}: usage error\n${result.stderr}`);
  return {
    exitCode: result.exitCode,
    clusters: (JSON.parse(stdout) as { clusters: ClusterReport[] }).clusters,
    stderr: result.stderr,
  };
}

async function modifiedAt(path: string): Promise<Date> {
  return (await stat(path)).mtime;
}

describe('walwatch analyze --dir on an archive written by PostgreSQL 15', () => {
  let pg: PostgresHarness;
  let scenario: FailoverScenario;
  /** Facts PostgreSQL reports about the promoted cluster. */
  let pgMajor: string;
  let segmentSize: number;
  let systemIdentifier: string;
  let checkpointTimeline: number;
  let lastArchivedWal: string;
  let switchSegment: string;
  let lastTimeline1Segment: string;
  /** Where PostgreSQL's archive recovery of the backup becomes consistent (`recovery_target = 'immediate'`). */
  let consistentAt: RecoveryFacts;

  beforeAll(async () => {
    pg = await startPostgres({ archivePrefix: `spilo/${SCOPE}/wal/15` });
    scenario = await runFailoverScenario(pg, { timeline2Segments: 3 });
    const server = scenario.promoted;
    pgMajor = String(Math.floor(Number(await server.runSql('SHOW server_version_num;')) / 10_000));
    segmentSize = Number(
      await server.runSql(`SELECT setting FROM pg_settings WHERE name = 'wal_segment_size';`),
    );
    await server.runSql('CHECKPOINT;');
    const control = await server.readControlData();
    checkpointTimeline = Number(control["Latest checkpoint's TimeLineID"]);
    systemIdentifier = String(control['Database system identifier']);
    lastArchivedWal = (await server.readArchiverStats()).lastArchivedWal;
    const switchLsn = scenario.promotion.switchLsn;
    switchSegment = await server.runSql(`SELECT pg_walfile_name('${switchLsn}');`);
    // pg_walfile_name of a segment's first byte names the segment before it (XLByteToPrevSeg).
    lastTimeline1Segment = `00000001${(
      await server.runSql(
        `SELECT pg_walfile_name('0/0'::pg_lsn + div('${switchLsn}'::pg_lsn - '0/0'::pg_lsn, ${segmentSize}) * ${segmentSize});`,
      )
    ).slice(8)}`;
    consistentAt = await restoreAndStop(scenario.backup.name, pg.archive.root, {
      recovery_target: 'immediate',
      recovery_target_action: 'promote',
    });
  });

  afterAll(async () => {
    await pg?.stop();
  });

  /** Restores the backup from an archive with PostgreSQL itself, notes where recovery ended, stops it. */
  async function restoreAndStop(
    backupName: string,
    archiveRoot: string,
    settings: Record<string, string> = {},
  ): Promise<RecoveryFacts> {
    const recovery = await pg.restoreBackup(backupName, { archiveRoot, settings });
    await recovery.server.stop();
    return recovery;
  }

  /** The end of a segment as an LSN, checked against PostgreSQL: its `pg_walfile_name` is the segment. */
  async function segmentEnd(fileName: string): Promise<string> {
    const lsn = formatPgLsn(computeSegmentEndLsn(fileName, segmentSize));
    const named = await scenario.promoted.runSql(`SELECT pg_walfile_name('${lsn}');`);
    expect(named.slice(8), `pg_walfile_name(${lsn})`).toBe(fileName.slice(8));
    return lsn;
  }

  /**
   * The last commit or abort record `pg_waldump` finds in a bucket's archived timeline 2 segments up to
   * `endLsn` (every transaction after the backup ran on timeline 2, so this is the newest in the chain).
   */
  async function findLastCommit(archiveRoot: string, endLsn: string): Promise<{ time: number; lsn: string }> {
    const walDir = await pg.extractArchivedWal(scenario.timeline2Switched, { archiveRoot });
    const dump = await pg.dumpWal({ walDir, timeline: 2, startLsn: scenario.promotion.switchLsn, endLsn });
    const commits = dump.records.flatMap((record) => {
      const match = /^(?:COMMIT|ABORT) (\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d(?:\.\d+)?) UTC/.exec(
        record.description,
      );
      return record.rmgr === 'Transaction' && match
        ? [{ time: Date.parse(`${match[1]}T${match[2]}Z`), lsn: record.lsn }]
        : [];
    });
    const last = commits.at(-1);
    if (!last) throw new Error('pg_waldump found no commit on timeline 2');
    return last;
  }

  /** `lastCommitTime`/`lastCommitLsn` stay null unless segment content is read; if read, they are PostgreSQL's. */
  function expectLastCommit(
    latest: ClusterReport['latestRecoverable'] | undefined,
    expected: { time: number; lsn: string },
  ): void {
    const reported =
      latest?.lastCommitTime == null
        ? null
        : { time: Date.parse(latest.lastCommitTime), lsn: latest.lastCommitLsn };
    expect([null, expected]).toContainEqual(reported);
  }

  function expectedClusterId(): string {
    return `spilo/${SCOPE}/wal/${pgMajor}`;
  }

  function expectBackupAndTimelines(cluster: ClusterReport | undefined): void {
    const { backup, promotion } = scenario;
    expect(cluster).toMatchObject({
      id: expectedClusterId(),
      scope: SCOPE,
      uid: null,
      pgMajor,
      segmentSize,
      targetTimeline: checkpointTimeline,
    });
    expect(checkpointTimeline).toBe(promotion.timeline);
    const timelines = cluster?.timelines ?? [];
    expect(timelines.find((timeline) => timeline.id === 1)).toMatchObject({
      parent: null,
      switchLsn: null,
      lastSegment: lastTimeline1Segment,
    });
    expect(timelines.find((timeline) => timeline.id === promotion.timeline)).toMatchObject({
      parent: promotion.parentTimeline,
      switchLsn: promotion.switchLsn,
      firstSegment: switchSegment,
    });
    expect(promotion.switchLsn).toBe(promotion.replayedLsn);
    expect(cluster?.backups).toHaveLength(1);
    expect(cluster?.backups[0]).toMatchObject({
      name: backup.name,
      timeline: backup.timeline,
      startLsn: backup.startLsn,
      finishLsn: backup.finishLsn,
      status: 'restorable',
      permanent: false,
      delta: null,
    });
    expect(Date.parse(String(cluster?.backups[0]?.finishTime))).toBe(Date.parse(backup.finishTime));
    expect(cluster?.earliestRecoverable).toMatchObject({
      backup: backup.name,
      timeline: backup.timeline,
      lsn: backup.finishLsn,
    });
    expect(consistentAt.endOfRecoveryLsn).toBe(backup.finishLsn);
    expect(Date.parse(String(cluster?.earliestRecoverable?.time))).toBe(Date.parse(backup.finishTime));
  }

  describe('with every archived object in place', () => {
    let run: AnalyzeRun;
    let cluster: ClusterReport | undefined;
    let newestArchivedAt: Date;
    let now: Date;
    /** Where PostgreSQL's own archive recovery of the backup runs out of WAL. */
    let recovered: RecoveryFacts;

    beforeAll(async () => {
      newestArchivedAt = await modifiedAt(pg.locateArchivedWal(lastArchivedWal));
      now = new Date(newestArchivedAt.getTime() + MINUTE_MS);
      run = await analyze(pg.bucketDir, segmentSize, now);
      cluster = run.clusters[0];
      recovered = await restoreAndStop(scenario.backup.name, pg.archive.root);
    });

    it('finds one cluster, spilo/<scope>/wal/<major>, following timeline 2 from its history file', () => {
      expect(run.clusters.map((found) => found.id)).toEqual([expectedClusterId()]);
      expectBackupAndTimelines(cluster);
    });

    it('reads the exact 64-bit system identifier pg_controldata reports from the sentinel', () => {
      expect(systemIdentifier).toMatch(/^\d{19,20}$/);
      expect(cluster?.backups[0]).toMatchObject({
        systemIdentifier,
        pgVersion: scenario.backup.pgVersion,
      });
    });

    it('ends timeline 2 at the last segment pg_stat_archiver reports archived', () => {
      expect(lastArchivedWal).toBe(scenario.timeline2Switched.at(-1));
      expect(cluster?.timelines.find((timeline) => timeline.id === 2)).toMatchObject({
        lastSegment: lastArchivedWal,
        segments: scenario.timeline2Switched.length,
      });
    });

    it('puts the latest recoverable point at the end of the last archived segment on timeline 2', async () => {
      const end = await segmentEnd(lastArchivedWal);
      expect(cluster?.latestRecoverable).toMatchObject({
        backup: scenario.backup.name,
        timeline: 2,
        segment: lastArchivedWal,
        lsn: end,
      });
      // The object's store time (file mtime here, S3 LastModified in a bucket), to the millisecond.
      const archivedAt = Date.parse(String(cluster?.latestRecoverable?.archivedAt));
      expect(Math.abs(archivedAt - newestArchivedAt.getTime())).toBeLessThanOrEqual(1);
      expect(cluster?.recoverableIntervals).toEqual([
        expect.objectContaining({ fromLsn: scenario.backup.finishLsn, toLsn: end }),
      ]);
    });

    it('puts the latest recoverable point where PostgreSQL restoring the backup from the archive stops', () => {
      expect(recovered.recoveredTimeline).toBe(cluster?.latestRecoverable?.timeline);
      expect(recovered.endOfRecoveryLsn).toBe(cluster?.latestRecoverable?.lsn);
    });

    it('reports no commit time, or the last one pg_waldump finds in the archive', async () => {
      expectLastCommit(
        cluster?.latestRecoverable,
        await findLastCommit(pg.archive.root, recovered.endOfRecoveryLsn),
      );
    });

    it('reports no gap, no problem, status ok and exit code 0', () => {
      expect(cluster?.gaps).toEqual([]);
      expect(cluster?.problems).toEqual([]);
      expect(cluster?.status).toBe('ok');
      expect(run.exitCode).toBe(0);
    });

    it('measures archive age and recovery point lag from the last store time, backup age from FinishTime', () => {
      expect(cluster?.archiveAgeSeconds).toBeCloseTo(60, 1);
      expect(cluster?.recoveryPointLagSeconds).toBeCloseTo(60, 1);
      expect(cluster?.backupAgeSeconds).toBeCloseTo(
        (now.getTime() - Date.parse(scenario.backup.finishTime)) / 1000,
        1,
      );
    });
  });

  describe('after one timeline 2 segment object is deleted', () => {
    let gapBucket: string;
    let archiveRoot: string;
    let deleted: string;
    let before: string;
    let nextStoredAt: Date;
    let recovered: RecoveryFacts;

    beforeAll(async () => {
      // A copy keeps the intact archive for the other cases; timestamps are the objects' store times.
      gapBucket = join(pg.dir, 'bucket-with-gap');
      await cp(pg.bucketDir, gapBucket, { recursive: true, preserveTimestamps: true });
      const [first, second, third] = scenario.timeline2Switched as [string, string, string];
      before = first;
      deleted = second;
      archiveRoot = join(gapBucket, ...`spilo/${SCOPE}/wal/15`.split('/'));
      const archive = { root: archiveRoot, stagingDir: '' };
      nextStoredAt = await modifiedAt(locateArchivedWal(archive, third));
      await rm(locateArchivedWal(archive, deleted));
      recovered = await restoreAndStop(scenario.backup.name, archive.root);
    });

    it('leaves PostgreSQL unable to restore past the end of the segment before the deleted one', async () => {
      expect(recovered).toMatchObject({ recoveredTimeline: 2, endOfRecoveryLsn: await segmentEnd(before) });
    });

    describe('once the hole is older than the 5 minute grace', () => {
      let run: AnalyzeRun;
      let cluster: ClusterReport | undefined;

      beforeAll(async () => {
        const now = new Date(nextStoredAt.getTime() + 10 * MINUTE_MS);
        run = await analyze(gapBucket, segmentSize, now, '--cluster', expectedClusterId());
        cluster = run.clusters[0];
      });

      it('still reads the backup and the timelines as PostgreSQL wrote them', () => {
        expectBackupAndTimelines(cluster);
      });

      it('reports exactly the deleted segment as one lost, critical gap on timeline 2', () => {
        expect(cluster?.gaps).toEqual([
          expect.objectContaining({
            timeline: 2,
            firstSegment: deleted,
            lastSegment: deleted,
            count: 1,
            status: 'lost',
            severity: 'critical',
          }),
        ]);
      });

      it('cuts the latest recoverable point where PostgreSQL restoring the backup stops: the end of the segment before the gap', async () => {
        const end = await segmentEnd(before);
        expect(cluster?.latestRecoverable).toMatchObject({
          backup: scenario.backup.name,
          timeline: recovered.recoveredTimeline,
          segment: before,
          lsn: recovered.endOfRecoveryLsn,
        });
        expect(cluster?.recoverableIntervals).toEqual([
          expect.objectContaining({ fromLsn: scenario.backup.finishLsn, toLsn: end }),
        ]);
      });

      it('reports no commit time, or the last one pg_waldump finds before the gap', async () => {
        expectLastCommit(
          cluster?.latestRecoverable,
          await findLastCommit(archiveRoot, recovered.endOfRecoveryLsn),
        );
      });

      it('rates the cluster critical and exits with 2', () => {
        expect(cluster?.status).toBe('critical');
        expect(cluster?.problems.some((problem) => problem.severity === 'critical')).toBe(true);
        expect(run.exitCode).toBe(2);
      });
    });

    describe('while the hole is younger than the 5 minute grace', () => {
      let run: AnalyzeRun;
      let cluster: ClusterReport | undefined;

      beforeAll(async () => {
        run = await analyze(gapBucket, segmentSize, new Date(nextStoredAt.getTime() + MINUTE_MS));
        cluster = run.clusters[0];
      });

      it('reports the deleted segment as a pending gap', () => {
        expect(cluster?.gaps).toEqual([
          expect.objectContaining({
            timeline: 2,
            firstSegment: deleted,
            lastSegment: deleted,
            count: 1,
            status: 'pending',
          }),
        ]);
      });

      it('ends the latest recoverable point before the gap all the same', () => {
        expect(cluster?.latestRecoverable).toMatchObject({
          timeline: 2,
          segment: before,
          lsn: recovered.endOfRecoveryLsn,
        });
      });

      it('does not rate the cluster critical yet', () => {
        expect(cluster?.status).not.toBe('critical');
        expect(run.exitCode).not.toBe(2);
      });
    });
  });
});

describe('walwatch analyze --dir when the old primary keeps archiving after the failover', () => {
  let pg: PostgresHarness;
  let scenario: FailoverScenario;
  let run: AnalyzeRun;
  let cluster: ClusterReport | undefined;
  /** Where PostgreSQL's own archive recovery of the backup runs out of WAL. */
  let recovered: RecoveryFacts;
  let lastArchivedWal: string;
  let switchSegment: string;

  beforeAll(async () => {
    pg = await startPostgres({ archivePrefix: `spilo/${SCOPE}/wal/15` });
    scenario = await runFailoverScenario(pg, { timeline2Segments: 2, divergedSegments: 2 });
    const server = scenario.promoted;
    const segmentSize = Number(
      await server.runSql(`SELECT setting FROM pg_settings WHERE name = 'wal_segment_size';`),
    );
    lastArchivedWal = (await server.readArchiverStats()).lastArchivedWal;
    switchSegment = await server.runSql(`SELECT pg_walfile_name('${scenario.promotion.switchLsn}');`);
    const storedAt = await modifiedAt(pg.locateArchivedWal(lastArchivedWal));
    run = await analyze(pg.bucketDir, segmentSize, new Date(storedAt.getTime() + 10 * MINUTE_MS));
    cluster = run.clusters[0];
    recovered = await pg.restoreBackup(scenario.backup.name);
    await recovered.server.stop();
  });

  afterAll(async () => {
    await pg?.stop();
  });

  it('has timeline 1 segments in the archive from the switch segment on, beside timeline 2', () => {
    expect(scenario.timeline1Diverged).toHaveLength(2);
    for (const name of scenario.timeline1Diverged) {
      expect(name.slice(0, 8)).toBe('00000001');
      expect(name.slice(8) >= switchSegment.slice(8)).toBe(true);
    }
  });

  it("reports the old primary's tail as neither a gap nor a problem: status ok, exit code 0", () => {
    expect(cluster?.targetTimeline).toBe(2);
    expect(cluster?.gaps).toEqual([]);
    expect(cluster?.problems).toEqual([]);
    expect(cluster?.status).toBe('ok');
    expect(run.exitCode).toBe(0);
  });

  it('ends the latest recoverable point on timeline 2 where PostgreSQL restoring the backup stops', () => {
    expect(recovered.recoveredTimeline).toBe(2);
    expect(cluster?.latestRecoverable).toMatchObject({
      backup: scenario.backup.name,
      timeline: 2,
      segment: lastArchivedWal,
      lsn: recovered.endOfRecoveryLsn,
    });
  });
});

/**
 * `walwatch serve` end to end: real PostgreSQL 15 archives into the monitor's folder in WAL-G's layout; the
 * API must agree with PostgreSQL and with a full `walwatch analyze` of the same folder, within seconds of the
 * last file — also after the monitor was killed (SIGKILL) mid-stream and restarted.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterReport, Report } from '../../shared/core/report.js';
import { analyzeArchive } from '../../shared/sources/analyze-archive.js';
import { openDirSource } from '../../shared/sources/dir-source.js';
import { type PostgresHarness, startPostgres } from '../support/postgres.js';
import { type FailoverScenario, runFailoverScenario } from '../support/postgres-scenario.js';
import { computeSegmentEndLsn, formatPgLsn } from '../support/postgres-wal.js';

const CLUSTER = 'spilo/e2e/wal/15';
const ROOT = join(import.meta.dirname, '..', '..');

/** `walwatch serve` as a user runs it, in its own process. */
class ServeProcess {
  private child: ChildProcess | undefined;
  url = '';

  constructor(
    private readonly archiveDir: string,
    private readonly dataDir: string,
    private readonly segmentSize: number,
  ) {}

  async start(): Promise<void> {
    const child = spawn(
      process.execPath,
      [
        // One process (no tsx CLI wrapper), so SIGKILL really kills the monitor.
        '--import',
        'tsx',
        join(ROOT, 'cli', 'main.ts'),
        'serve',
        '--dir',
        this.archiveDir,
        '--data',
        this.dataDir,
        '--listen',
        '127.0.0.1:0',
        '--segment-size',
        String(this.segmentSize),
        '--sweep-every',
        '2s',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'], cwd: ROOT },
    );
    this.child = child;
    let stderr = '';
    this.url = await new Promise<string>((resolve, reject) => {
      child.stderr?.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        const match = /API\s+(http:\/\/\S+)\/clusters/.exec(stderr);
        if (match) resolve(match[1] as string);
      });
      child.once('exit', (code) => reject(new Error(`walwatch serve exited with ${code}:\n${stderr}`)));
    });
  }

  kill(): Promise<void> {
    return new Promise((resolve) => {
      if (!this.child || this.child.exitCode !== null) return resolve();
      this.child.once('exit', () => resolve());
      this.child.kill('SIGKILL');
    });
  }

  async report(): Promise<ClusterReport | undefined> {
    const response = await fetch(`${this.url}/clusters/${encodeURIComponent(CLUSTER)}`);
    if (response.status === 404) return undefined;
    return ((await response.json()) as { cluster: ClusterReport }).cluster;
  }

  /** Polls until `accept` holds (the monitor picks files up within seconds); returns the report. */
  async waitFor(accept: (report: ClusterReport) => boolean, timeoutMs = 20_000): Promise<ClusterReport> {
    const deadline = Date.now() + timeoutMs;
    let last: ClusterReport | undefined;
    while (Date.now() < deadline) {
      last = await this.report();
      if (last && accept(last)) return last;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    throw new Error(
      `the monitor did not converge within ${timeoutMs} ms; last report: ${JSON.stringify(last)?.slice(0, 2000)}`,
    );
  }
}

/** What must match between the live monitor and a full analysis (time-dependent fields aside). */
function comparable(report: ClusterReport | undefined) {
  if (!report) return undefined;
  const {
    archiveAgeSeconds: _a,
    backupAgeSeconds: _b,
    recoveryPointLagSeconds: _c,
    // Restore drills live in the monitor's store; an analysis of the folder alone has none.
    lastDrill: _d,
    latestRecoverable,
    recoverableIntervals,
    ...rest
  } = report;
  // Commit times come from segment content, which the live monitor reads and a plain analysis does not.
  return {
    ...rest,
    latestRecoverable: latestRecoverable && {
      ...latestRecoverable,
      lastCommitTime: null,
      lastCommitLsn: null,
    },
    recoverableIntervals: recoverableIntervals.map(({ toTime: _t, ...interval }) => interval),
    problems: rest.problems.filter((p) => p.kind !== 'wal-deleted'),
    status: undefined,
  };
}

describe('walwatch serve on an archive written by PostgreSQL 15', () => {
  let pg: PostgresHarness;
  let scenario: FailoverScenario;
  let dataDir: string;
  let serve: ServeProcess;
  let segmentSize: number;

  beforeAll(async () => {
    pg = await startPostgres({ archivePrefix: CLUSTER });
    segmentSize = pg.walSegmentSize;
    dataDir = await mkdtemp(join(tmpdir(), 'walwatch-e2e-'));
    serve = new ServeProcess(pg.bucketDir, dataDir, segmentSize);
    await serve.start();
    // Mid-stream: the monitor dies without warning after the first segments and comes back later.
    await pg.primary.generateLoad(500);
    await pg.primary.waitForArchived(await pg.primary.switchWal());
    await serve.waitFor((report) => report.timelines.length > 0);
    await serve.kill();
    scenario = await runFailoverScenario(pg, { timeline2Segments: 3 });
    await serve.start();
  }, 180_000);

  afterAll(async () => {
    await serve?.kill();
    await pg?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('reaches the latest recoverable point PostgreSQL archived, on timeline 2, after a kill and restart', async () => {
    const last = scenario.timeline2Switched.at(-1) as string;
    const report = await serve.waitFor((r) => r.latestRecoverable?.segment === last);
    expect(report).toMatchObject({
      id: CLUSTER,
      scope: 'e2e',
      pgMajor: '15',
      targetTimeline: 2,
      segmentSize,
    });
    expect(report.latestRecoverable).toMatchObject({
      backup: scenario.backup.name,
      timeline: 2,
      lsn: formatPgLsn(computeSegmentEndLsn(last, segmentSize)),
    });
    expect(report.earliestRecoverable).toMatchObject({
      backup: scenario.backup.name,
      lsn: scenario.backup.finishLsn,
    });
    expect(report.timelines.find((t) => t.id === 2)).toMatchObject({
      parent: 1,
      switchLsn: scenario.promotion.switchLsn,
    });
    expect(report.backups).toEqual([
      expect.objectContaining({
        name: scenario.backup.name,
        status: 'restorable',
        startLsn: scenario.backup.startLsn,
      }),
    ]);
  });

  it('agrees with a full analysis of the same folder, field for field', async () => {
    const live = await serve.report();
    const full: Report = await analyzeArchive(await openDirSource(pg.bucketDir), {
      now: Date.now(),
      segmentSizeOf: () => segmentSize,
    });
    expect(comparable(live)).toEqual(comparable(full.clusters[0]));
  });

  it('reads the exact last commit time from the archived segments, as pg_waldump finds it', async () => {
    const last = scenario.timeline2Switched.at(-1) as string;
    const walDir = await pg.extractArchivedWal(scenario.timeline2Switched);
    const dump = await pg.dumpWal({
      walDir,
      timeline: 2,
      startLsn: scenario.promotion.switchLsn,
      endLsn: formatPgLsn(computeSegmentEndLsn(last, segmentSize)),
    });
    const ends = dump.records.flatMap((record) => {
      const match = /^(?:COMMIT|ABORT) (\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)(\.\d+)? UTC/.exec(
        record.description,
      );
      if (record.rmgr !== 'Transaction' || !match) return [];
      return [
        { time: `${match[1]}T${match[2]}.${(match[3] ?? '.').slice(1).padEnd(6, '0')}Z`, lsn: record.lsn },
      ];
    });
    const expected = ends.at(-1) as { time: string; lsn: string };
    const report = await serve.waitFor((r) => r.latestRecoverable?.lastCommitTime != null);
    expect(report.latestRecoverable).toMatchObject({
      lastCommitTime: expected.time,
      lastCommitLsn: expected.lsn,
    });
  });

  it('reports a deleted segment as a gap and wal-deleted within seconds', async () => {
    const [, middle] = scenario.timeline2Switched as [string, string, string];
    await unlink(pg.locateArchivedWal(middle));
    const report = await serve.waitFor((r) => r.gaps.length > 0);
    expect(report.gaps).toEqual([
      expect.objectContaining({ timeline: 2, firstSegment: middle, lastSegment: middle, count: 1 }),
    ]);
    expect(report.problems).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ kind: 'wal-deleted', severity: 'critical', subject: middle }),
      ]),
    );
    const before = scenario.timeline2Switched[0] as string;
    expect(report.latestRecoverable).toMatchObject({
      segment: before,
      lsn: formatPgLsn(computeSegmentEndLsn(before, segmentSize)),
    });
  });

  it('serves the metrics of the cluster in Prometheus format', async () => {
    const text = await (await fetch(`${serve.url}/metrics`)).text();
    expect(text).toMatch(new RegExp(`walwatch_lost_gap_segments\\{cluster="${CLUSTER}"\\} [01]`));
    expect(text).toContain(`walwatch_archive_age_seconds{cluster="${CLUSTER}"}`);
  });
});

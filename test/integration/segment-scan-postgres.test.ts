/**
 * The content scan (`--content all`) on WAL written by PostgreSQL 15, through the local monitor (dynalite,
 * the folder watcher, the API): every archived segment gets a summary that agrees with `pg_controldata`
 * and `pg_waldump`; no sound segment is reported as a defect across a failover; and a segment with one
 * corrupted byte is found, cuts the latest recoverable point, and says where replay stops — the place
 * PostgreSQL's own archive recovery of the same archive ends.
 */
import { execFileSync } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterReport } from '../../shared/core/report.js';
import type { SegmentSummary } from '../../shared/core/segment-summary.js';
import { readSegment } from '../../shared/core/wal/wal-reader.js';
import { type LocalMonitor, startLocalMonitor } from '../../shared/local/local-monitor.js';
import { type PostgresHarness, startPostgres } from '../support/postgres.js';
import { runCommand } from '../support/postgres-exec.js';
import { type FailoverScenario, runFailoverScenario } from '../support/postgres-scenario.js';
import { parsePgLsn } from '../support/postgres-wal.js';

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TSX = join(REPO_ROOT, 'node_modules', '.bin', 'tsx');

const CLUSTER = 'spilo/scan/wal/15';

interface SegmentRead {
  readonly segment: string;
  readonly key: string;
  readonly summary: SegmentSummary | null;
  readonly readError: string | null;
  readonly defect: { kind: string; message: string; stopLsn: string } | null;
}

async function monitorOf(
  archiveDir: string,
  segmentSize: number,
): Promise<{ monitor: LocalMonitor; dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'walwatch-scan-'));
  const monitor = await startLocalMonitor({
    dataDir: dir,
    archiveDir,
    host: '127.0.0.1',
    port: 0,
    segmentSize,
    readContent: { default: 'all', clusters: [] },
    sweepIntervalMs: 3_600_000,
    log: () => undefined,
  });
  await monitor.syncNow();
  await monitor.sweepNow();
  return { monitor, dir };
}

async function getJson<T>(monitor: LocalMonitor, path: string): Promise<{ status: number; body: T }> {
  const response = await fetch(`${monitor.url}${path}`);
  return { status: response.status, body: (await response.json()) as T };
}

const clusterPath = `/clusters/${encodeURIComponent(CLUSTER)}`;

describe('the content scan on an archive written by PostgreSQL 15', () => {
  let pg: PostgresHarness;
  let scenario: FailoverScenario;
  let systemIdentifier: string;
  const cleanup: Array<() => Promise<unknown>> = [];

  beforeAll(async () => {
    pg = await startPostgres({ archivePrefix: CLUSTER });
    scenario = await runFailoverScenario(pg, { timeline2Segments: 4 });
    systemIdentifier = (await scenario.promoted.readControlData())['Database system identifier'] as string;
  }, 180_000);

  afterAll(async () => {
    for (const step of cleanup.reverse()) await step();
    await pg?.stop();
  });

  it('summarizes every archived segment and finds no defect in a sound archive with a failover', async () => {
    const { monitor, dir } = await monitorOf(pg.bucketDir, pg.walSegmentSize);
    cleanup.push(
      () => monitor.stop(),
      () => rm(dir, { recursive: true, force: true }),
    );
    const { body } = await getJson<{ cluster: ClusterReport }>(monitor, clusterPath);
    const report = body.cluster;
    expect(report.problems.filter((p) => p.kind === 'wal-corrupt')).toEqual([]);
    expect(report.latestRecoverable?.timeline).toBe(2);

    const segments = (await pg.listObjectKeys())
      .map((key) => /wal_005\/([0-9A-F]{24})\.lz4$/.exec(key)?.[1])
      .filter((name): name is string => name !== undefined);
    expect(segments.length).toBeGreaterThanOrEqual(6);
    for (const name of segments) {
      const { status, body: read } = await getJson<SegmentRead>(monitor, `${clusterPath}/segments/${name}`);
      expect(status, name).toBe(200);
      expect(read.defect, name).toBeNull();
      expect(read.summary, name).toMatchObject({
        systemIdentifier,
        segmentSize: pg.walSegmentSize,
        postgresVersion: 15,
      });
      // The first page keeps the parent's timeline in the segment where a new timeline begins.
      expect(read.summary?.timeline, name).toBeLessThanOrEqual(Number.parseInt(name.slice(0, 8), 16));
      expect(read.summary?.timeline, name).toBeGreaterThanOrEqual(1);
      expect(['switch', 'segment-end'], name).toContain(read.summary?.end);
    }

    // A timeline 2 segment: its commits are the ones pg_waldump lists in the same file.
    const name = scenario.timeline2Switched[1] as string;
    const { body: read } = await getJson<SegmentRead>(monitor, `${clusterPath}/segments/${name}`);
    const walDir = await pg.extractArchivedWal([name]);
    const dump = await pg.dumpWal({
      walDir,
      timeline: 2,
      startLsn: read.summary?.startLsn as string,
    });
    const commits = dump.records.filter(
      (record) => record.rmgr === 'Transaction' && record.description.startsWith('COMMIT'),
    );
    expect(read.summary?.commitCount).toBe(commits.length);
    expect(read.summary?.lastCommitLsn).toBe(commits.at(-1)?.lsn);

    // Unknown and malformed segment names are answered clearly.
    expect((await getJson(monitor, `${clusterPath}/segments/NOTAWALNAME`)).status).toBe(400);
    expect((await getJson(monitor, `${clusterPath}/segments/0000000900000000000000FF`)).status).toBe(404);
  }, 120_000);

  it('finds a corrupted byte, cuts the latest recoverable point there, and stops where PostgreSQL stops', async () => {
    // A copy of the archive in which one timeline 2 segment has one byte flipped inside its valid WAL.
    const copy = await mkdtemp(join(tmpdir(), 'walwatch-corrupt-archive-'));
    cleanup.push(() => rm(copy, { recursive: true, force: true }));
    await cp(pg.bucketDir, copy, { recursive: true });
    // PostgreSQL (an unprivileged user) restores from the copy.
    execFileSync('chmod', ['-R', 'a+rX', copy]);
    const victim = scenario.timeline2Switched[1] as string;
    const before = scenario.timeline2Switched[0] as string;
    const object = join(copy, CLUSTER, 'wal_005', `${victim}.lz4`);
    const bytes = execFileSync('lz4', ['-d', '-c', '-q', object], { maxBuffer: 64 << 20 });
    const stored = execFileSync('lz4', ['-d', '-c', '-q', pg.locateArchivedWal(before)], {
      maxBuffer: 64 << 20,
    });
    expect(stored.length).toBe(pg.walSegmentSize);
    // Halfway into its valid WAL (the rest after its XLOG_SWITCH is padding, which recovery never reads).
    const original = readSegment(new Uint8Array(bytes), { fileName: victim });
    expect(original.end).toBe('switch');
    const middle = Number(((original.endLsn as bigint) - (original.startLsn as bigint)) / 2n) + 3;
    bytes[middle] = (bytes[middle] as number) ^ 0xff;
    await writeFile(object, execFileSync('lz4', ['-c', '-q'], { input: bytes, maxBuffer: 64 << 20 }));
    expect((await readFile(object)).length).toBeGreaterThan(0);

    const { monitor, dir } = await monitorOf(copy, pg.walSegmentSize);
    cleanup.push(
      () => monitor.stop(),
      () => rm(dir, { recursive: true, force: true }),
    );
    const report = (await getJson<{ cluster: ClusterReport }>(monitor, clusterPath)).body.cluster;
    expect(report.status).toBe('critical');
    expect(report.problems).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ kind: 'wal-corrupt', severity: 'critical', subject: victim }),
      ]),
    );
    expect(report.problems.map((p) => p.kind)).not.toContain('wal-gap');
    expect(report.latestRecoverable?.segment).toBe(before);

    const read = (await getJson<SegmentRead>(monitor, `${clusterPath}/segments/${victim}`)).body;
    expect(read.defect?.kind).toBe('corrupt');

    // `walwatch analyze --content --all-segments` finds the same from a listing, with exit code 2.
    const analyze = async (dir: string) => {
      const run = await runCommand(
        TSX,
        ['cli/main.ts', 'analyze', '--dir', dir, '--json', '--content', '--all-segments', '--quiet'].concat([
          '--segment-size',
          String(pg.walSegmentSize),
        ]),
        { cwd: REPO_ROOT, allowedExitCodes: [0, 1, 2, 3] },
      );
      const clusters = (JSON.parse(run.stdout.toString('utf8')) as { clusters: ClusterReport[] }).clusters;
      return { exitCode: run.exitCode, cluster: clusters[0] as ClusterReport };
    };
    const analyzed = await analyze(copy);
    expect(analyzed.exitCode).toBe(2);
    expect(analyzed.cluster.latestRecoverable?.segment).toBe(before);
    expect(analyzed.cluster.problems.filter((p) => p.kind === 'wal-corrupt').map((p) => p.subject)).toEqual([
      victim,
    ]);
    const sound = await analyze(pg.bucketDir);
    expect(sound.cluster.problems.map((p) => p.kind)).not.toContain('wal-corrupt');
    expect(sound.cluster.latestRecoverable?.timeline).toBe(2);

    // PostgreSQL's archive recovery of the same archive ends where the defect says replay stops.
    const recovery = await pg.restoreBackup(scenario.backup.name, { archiveRoot: join(copy, CLUSTER) });
    cleanup.push(() => recovery.server.stop());
    expect(recovery.recoveredTimeline).toBe(2);
    const align8 = (lsn: bigint): bigint => (lsn + 7n) & ~7n;
    expect(align8(parsePgLsn(read.defect?.stopLsn as string))).toBe(parsePgLsn(recovery.endOfRecoveryLsn));
  }, 180_000);
});

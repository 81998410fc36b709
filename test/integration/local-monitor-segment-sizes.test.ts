/**
 * Segment sizes per cluster: one folder archive holds a cluster of 1 MiB segments and one of 2 MiB
 * segments. The local monitor given a default and an override reads both right, as the API shows; given one
 * size for the whole deployment it places the 2 MiB cluster's WAL wrong. Given none, both learn each
 * cluster's size from its sentinel, and a cluster with only WAL from a segment's page header or from the
 * size of its uncompressed objects.
 * `walwatch analyze` reads the same setting.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { run as analyze } from '../../cli/analyze.js';
import { run as serve } from '../../cli/serve.js';
import { parseSegmentSizes } from '../../shared/config/segment-sizes.js';
import { formatLsn, segmentStartLsn, walFileName } from '../../shared/core/lsn.js';
import { type LocalMonitor, startLocalMonitor } from '../../shared/local/local-monitor.js';
import { buildCommitSegment } from '../support/wal-builder.js';

const MiB = 1024 * 1024;
const SMALL = { id: 'spilo/small/wal/15', size: MiB };
const BIG = { id: 'spilo/big/wal/15', size: 2 * MiB };
const PER_CLUSTER = '1MiB; 2MiB=spilo/big/*';
const commitTime = (segno: number): number => Date.parse('2026-11-20T08:00:00Z') + segno * 60_000;

interface ClusterReport {
  readonly id: string;
  readonly segmentSize: number;
  readonly segmentSizeSource: string;
  readonly headSegment: string | null;
  readonly latestRecoverable: { readonly lsn: string; readonly lastCommitLsn?: string | null } | null;
  readonly problems: readonly { readonly type: string }[];
}

describe('segment sizes per cluster', () => {
  let root: string;
  let archive: string;
  const monitors: LocalMonitor[] = [];

  const start = async (
    name: string,
    segmentSize: ReturnType<typeof parseSegmentSizes>['default'] | ReturnType<typeof parseSegmentSizes>,
  ) => {
    const monitor = await startLocalMonitor({
      dataDir: join(root, name),
      archiveDir: archive,
      host: '127.0.0.1',
      port: 0,
      segmentSize,
      sweepIntervalMs: 3_600_000,
      log: () => undefined,
    });
    monitors.push(monitor);
    await monitor.syncNow();
    await monitor.sweepNow();
    return monitor;
  };
  const report = async (monitor: LocalMonitor, clusterId: string): Promise<ClusterReport> => {
    const response = await fetch(`${monitor.url}/clusters/${encodeURIComponent(clusterId)}`);
    expect(response.status).toBe(200);
    return ((await response.json()) as { cluster: ClusterReport }).cluster;
  };

  let perCluster: LocalMonitor;
  let deploymentWide: LocalMonitor;
  let detecting: LocalMonitor;
  /** A folder with one 2 MiB cluster that has archived WAL but no backup yet. */
  let walOnly: string;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'walwatch-sizes-'));
    archive = join(root, 'archive');
    const write = async (key: string, body: Uint8Array | string) => {
      await mkdir(dirname(join(archive, key)), { recursive: true });
      await writeFile(join(archive, key), body);
    };
    for (const { id, size } of [SMALL, BIG]) {
      await write(
        `${id}/basebackups_005/base_000000010000000000000001_backup_stop_sentinel.json`,
        JSON.stringify({ LSN: size + 40, FinishLSN: 2 * size + 80 }),
      );
      for (let segno = 1; segno <= 4; segno++)
        await write(
          `${id}/wal_005/${walFileName(1, segno, size)}`,
          buildCommitSegment(segno, size, 7_400_000_000_000_000_005n, commitTime(segno)),
        );
    }
    walOnly = join(root, 'wal-only');
    for (let segno = 1; segno <= 3; segno++) {
      const key = join(walOnly, `${BIG.id}/wal_005/${walFileName(1, segno, BIG.size)}`);
      await mkdir(dirname(key), { recursive: true });
      await writeFile(
        key,
        buildCommitSegment(segno, BIG.size, 7_400_000_000_000_000_005n, commitTime(segno)),
      );
    }
    perCluster = await start('per-cluster', parseSegmentSizes(PER_CLUSTER, '--segment-size'));
    deploymentWide = await start('deployment-wide', MiB);
    detecting = await start('detecting', 'auto');
  }, 60_000);

  afterAll(async () => {
    for (const monitor of monitors) await monitor.stop();
    await rm(root, { recursive: true, force: true });
  });

  /** Where the WAL of `cluster` (segments 1 … 4) ends, and the commit the last segment holds, at `size`. */
  const expected = (size: number) => ({
    lsn: formatLsn(segmentStartLsn(5, size)),
    lastCommitLsn: formatLsn(segmentStartLsn(4, size) + 40n),
  });

  it('reads each cluster with its own segment size', async () => {
    const small = await report(perCluster, SMALL.id);
    const big = await report(perCluster, BIG.id);
    expect(small.segmentSize).toBe(MiB);
    expect(big.segmentSize).toBe(2 * MiB);
    expect(small.latestRecoverable).toMatchObject(expected(MiB));
    expect(big.latestRecoverable).toMatchObject(expected(2 * MiB));
    expect(big.latestRecoverable?.lsn).toBe('0/A00000');
    expect(big.latestRecoverable?.lastCommitLsn).toBe('0/800028');
    expect([...small.problems, ...big.problems]).toEqual([]);
  });

  it('with one size for the whole deployment, places the 2 MiB cluster wrong and says so', async () => {
    expect(await report(deploymentWide, SMALL.id)).toMatchObject({
      segmentSize: MiB,
      latestRecoverable: expected(MiB),
    });
    const big = await report(deploymentWide, BIG.id);
    expect(big.segmentSize).toBe(MiB);
    expect(big.latestRecoverable?.lsn).not.toBe(expected(2 * MiB).lsn);
    expect(big.latestRecoverable?.lastCommitLsn ?? null).toBeNull();
    expect(big.problems).toContainEqual(
      expect.objectContaining({ kind: 'segment-size-mismatch', severity: 'critical' }),
    );
  });

  it('with no setting, learns the size of each cluster from its sentinel', async () => {
    const small = await report(detecting, SMALL.id);
    const big = await report(detecting, BIG.id);
    expect(small).toMatchObject({ segmentSize: MiB, segmentSizeSource: 'sentinel' });
    expect(big).toMatchObject({ segmentSize: 2 * MiB, segmentSizeSource: 'sentinel' });
    expect(small.latestRecoverable).toMatchObject(expected(MiB));
    expect(big.latestRecoverable).toMatchObject(expected(2 * MiB));
    expect([...small.problems, ...big.problems]).toEqual([]);

    const json = await capture(() => analyze(['--dir', archive, '--content', '--json', '--quiet']));
    expect(json.code).toBe(0);
    const clusters = (JSON.parse(json.stdout) as { clusters: ClusterReport[] }).clusters;
    const byId = new Map(clusters.map((cluster) => [cluster.id, cluster]));
    expect(byId.get(BIG.id)).toMatchObject({
      segmentSize: 2 * MiB,
      segmentSizeSource: 'sentinel',
      latestRecoverable: expected(2 * MiB),
    });
  });

  it('with only uncompressed WAL archived, takes the size of its objects, and with --content reads a page header', async () => {
    const listed = await capture(() => analyze(['--dir', walOnly, '--json', '--quiet']));
    const bySize = (JSON.parse(listed.stdout) as { clusters: ClusterReport[] }).clusters[0];
    expect(bySize).toMatchObject({
      segmentSize: 2 * MiB,
      segmentSizeSource: 'object-size',
      headSegment: walFileName(1, 3, 2 * MiB),
    });
    expect(bySize?.problems.map((problem) => (problem as { kind?: string }).kind)).not.toContain(
      'segment-size-assumed',
    );
    const read = await capture(() => analyze(['--dir', walOnly, '--content', '--json', '--quiet']));
    const detected = (JSON.parse(read.stdout) as { clusters: ClusterReport[] }).clusters[0];
    expect(detected).toMatchObject({
      segmentSize: 2 * MiB,
      segmentSizeSource: 'page-header',
      headSegment: walFileName(1, 3, 2 * MiB),
    });
  });

  it('walwatch analyze reads the same per-cluster setting', async () => {
    const json = await capture(() =>
      analyze(['--dir', archive, '--segment-size', PER_CLUSTER, '--content', '--json', '--quiet']),
    );
    expect(json.code).toBe(0);
    const clusters = (JSON.parse(json.stdout) as { clusters: ClusterReport[] }).clusters;
    const byId = new Map(clusters.map((cluster) => [cluster.id, cluster]));
    expect(byId.get(SMALL.id)).toMatchObject({ segmentSize: MiB, latestRecoverable: expected(MiB) });
    expect(byId.get(BIG.id)).toMatchObject({ segmentSize: 2 * MiB, latestRecoverable: expected(2 * MiB) });

    const wide = await capture(() =>
      analyze(['--dir', archive, '--segment-size', '1MiB', '--json', '--quiet']),
    );
    expect(wide.code).toBe(2);
    const wrong = (JSON.parse(wide.stdout) as { clusters: ClusterReport[] }).clusters.find(
      (cluster) => cluster.id === BIG.id,
    );
    expect(wrong?.problems.map((problem) => (problem as { kind?: string }).kind)).toContain(
      'segment-size-mismatch',
    );
  });

  it.each([
    [
      analyze,
      ['--segment-size', '1MiB; 1000=spilo/big/*'],
      '--segment-size: "1000" is not a WAL segment size',
    ],
    [serve, ['--segment-size', '1MiB; 2MiB'], '--segment-size names two default sizes: 1MiB and 2MiB'],
  ])(
    'the commands refuse a setting they cannot read, naming the option (%#)',
    async (command, args, message) => {
      const result = await capture(() => command(['--dir', archive, ...args]));
      expect(result.code).toBe(3);
      expect(result.stderr).toContain(message);
    },
  );
});

/** Runs a command's `run` with its stdout and stderr captured. */
async function capture(
  command: () => Promise<number>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const stdout = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    out.push(String(chunk));
    return true;
  });
  const stderr = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
    err.push(String(chunk));
    return true;
  });
  try {
    return { code: await command(), stdout: out.join(''), stderr: err.join('') };
  } finally {
    stdout.mockRestore();
    stderr.mockRestore();
  }
}

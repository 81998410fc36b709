/**
 * A per-cluster content policy in the local monitor: a folder archive with three clusters, one reading
 * chain ends (the default), one reading every segment, one off. Read through the API, as the dashboard
 * does. `walwatch serve` refuses a policy it cannot read.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { run } from '../../cli/serve.js';
import { parseContentPolicy } from '../../shared/config/content-policy.js';
import { walFileName } from '../../shared/core/lsn.js';
import { type LocalMonitor, startLocalMonitor } from '../../shared/local/local-monitor.js';
import { buildCommitSegment } from '../support/wal-builder.js';

const SEGMENT_SIZE = 1024 * 1024;
const CLUSTERS = { ends: 'spilo/ends/wal/15', every: 'spilo/every/wal/15', off: 'spilo/off/wal/15' };
const commitTime = (segno: number): number => Date.parse('2026-11-20T08:00:00Z') + segno * 60_000;

interface Report {
  readonly cluster: { readonly latestRecoverable: { readonly lastCommitTime?: string | null } | null };
}

describe('local monitor with a per-cluster content policy', () => {
  let root: string;
  let monitor: LocalMonitor;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'walwatch-policy-'));
    const archive = join(root, 'archive');
    const write = async (key: string, body: Uint8Array | string) => {
      await mkdir(dirname(join(archive, key)), { recursive: true });
      await writeFile(join(archive, key), body);
    };
    for (const cluster of Object.values(CLUSTERS)) {
      await write(
        `${cluster}/basebackups_005/base_000000010000000000000001_backup_stop_sentinel.json`,
        JSON.stringify({ LSN: SEGMENT_SIZE + 40, FinishLSN: 2 * SEGMENT_SIZE + 80 }),
      );
      for (let segno = 1; segno <= 4; segno++)
        await write(
          `${cluster}/wal_005/${walFileName(1, segno, SEGMENT_SIZE)}`,
          buildCommitSegment(segno, SEGMENT_SIZE, 7_400_000_000_000_000_004n, commitTime(segno)),
        );
    }
    monitor = await startLocalMonitor({
      dataDir: join(root, 'data'),
      archiveDir: archive,
      host: '127.0.0.1',
      port: 0,
      segmentSize: SEGMENT_SIZE,
      readContent: parseContentPolicy('chain-ends; all=spilo/every/*; off=spilo/off/*', '--content'),
      sweepIntervalMs: 3_600_000,
      log: () => undefined,
    });
    await monitor.syncNow();
    await monitor.sweepNow();
  }, 60_000);

  afterAll(async () => {
    await monitor?.stop();
    await rm(root, { recursive: true, force: true });
  });

  const get = async (path: string) => fetch(`${monitor.url}${path}`);
  const report = async (cluster: string) =>
    (await (await get(`/clusters/${encodeURIComponent(cluster)}`)).json()) as Report;
  const segment = (cluster: string, segno: number) =>
    get(`/clusters/${encodeURIComponent(cluster)}/segments/${walFileName(1, segno, SEGMENT_SIZE)}`);

  it('reads chain ends for the default and for all, and nothing for a cluster turned off', async () => {
    const last = new Date(commitTime(4)).toISOString().replace(/Z$/, '000Z');
    expect((await report(CLUSTERS.ends)).cluster.latestRecoverable?.lastCommitTime).toBe(last);
    expect((await report(CLUSTERS.every)).cluster.latestRecoverable?.lastCommitTime).toBe(last);
    expect((await report(CLUSTERS.off)).cluster.latestRecoverable?.lastCommitTime ?? null).toBeNull();
  });

  it('stores segment summaries only for the cluster that reads every segment', async () => {
    const summary = await segment(CLUSTERS.every, 2);
    expect(summary.status).toBe(200);
    expect(await summary.json()).toMatchObject({ summary: { systemIdentifier: '7400000000000000004' } });
    expect((await segment(CLUSTERS.ends, 2)).status).toBe(404);
    expect((await segment(CLUSTERS.off, 2)).status).toBe(404);
  });

  it('walwatch serve refuses a policy it cannot read, naming the option', async () => {
    const errors: string[] = [];
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
      errors.push(String(chunk));
      return true;
    });
    try {
      expect(await run(['--content', 'all=spilo/a; off=spilo/a', '--dir', join(root, 'unused')])).toBe(3);
    } finally {
      spy.mockRestore();
    }
    expect(errors.join('')).toContain('--content gives spilo/a twice (all and off)');
  });
});

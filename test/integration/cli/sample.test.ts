/**
 * `walwatch sample` as a newcomer uses it: the archive it writes is what it says — one healthy cluster
 * with a failover, one with a lost gap, one that stopped archiving — for `walwatch analyze` and for the
 * local monitor watching the folder live; a second run into the same folder is refused.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Report } from '../../../shared/core/report.js';
import { type LocalMonitor, startLocalMonitor } from '../../../shared/local/local-monitor.js';

const ROOT = join(import.meta.dirname, '..', '..', '..');
const NOW = '2026-11-20T12:00:00Z';

function walwatch(args: string[]) {
  const result = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'cli', 'main.ts'), ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1' },
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('walwatch sample', () => {
  let root: string;
  let archive: string;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'walwatch-sample-'));
    archive = join(root, 'archive');
    const written = walwatch(['sample', archive, '--now', NOW]);
    expect(written.stderr).toMatch(/wrote \d+ objects .* of 3 clusters/);
    expect(written.code).toBe(0);
  }, 60_000);

  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('writes WAL-G objects with brotli segments and sentinels', async () => {
    const wal = await readdir(join(archive, 'spilo', 'orders', 'wal', '15', 'wal_005'));
    expect(wal).toContain('000000020000000000000028.br');
    expect(wal).toContain('00000002.history.br');
    expect(wal).toContain('00000001000000000000001E.partial.br');
    const backups = await readdir(join(archive, 'spilo', 'orders', 'wal', '15', 'basebackups_005'));
    expect(backups).toContain('base_000000010000000000000002_backup_stop_sentinel.json');
  });

  it('is analysed as one healthy cluster, one with a lost gap and one that stopped archiving', () => {
    const analysed = walwatch([
      'analyze',
      '--dir',
      archive,
      '--now',
      '2026-11-20T12:00:00Z',
      '--json',
      '--content',
    ]);
    expect(analysed.code).toBe(2);
    const report = JSON.parse(analysed.stdout) as Report;
    const byId = new Map(report.clusters.map((c) => [c.id, c]));
    const orders = byId.get('spilo/orders/wal/15');
    expect(orders).toMatchObject({ status: 'ok', targetTimeline: 2, segmentSize: 16 * 1024 * 1024 });
    expect(orders?.latestRecoverable).toMatchObject({
      timeline: 2,
      segment: '000000020000000000000028',
      lastCommitTime: '2026-11-20T11:58:40.000000Z',
    });
    expect(orders?.backups.map((b) => b.status)).toEqual(['restorable', 'restorable']);
    const payments = byId.get('spilo/payments/wal/15');
    expect(payments?.status).toBe('critical');
    expect(payments?.gaps).toMatchObject([
      { firstSegment: '000000010000000000000018', status: 'lost', severity: 'critical' },
    ]);
    const reports = byId.get('spilo/reports/wal/14');
    expect(reports?.problems.map((p) => [p.kind, p.severity])).toEqual(
      expect.arrayContaining([
        ['archive-stale', 'critical'],
        ['backup-stale', 'warning'],
      ]),
    );
  });

  it('refuses to write into a folder that already holds it', () => {
    const again = walwatch(['sample', archive]);
    expect(again.code).toBe(3);
    expect(again.stderr).toContain('already holds the sample archive');
  });

  describe('written now and watched by the local monitor', () => {
    let monitor: LocalMonitor;
    beforeAll(async () => {
      const live = join(root, 'live');
      expect(walwatch(['sample', live, '--quiet']).code).toBe(0);
      monitor = await startLocalMonitor({
        dataDir: join(root, 'data'),
        archiveDir: live,
        host: '127.0.0.1',
        port: 0,
        segmentSize: 16 * 1024 * 1024,
        sweepIntervalMs: 3_600_000,
        log: () => undefined,
      });
      await monitor.syncNow();
    }, 60_000);
    afterAll(async () => {
      await monitor?.stop();
    });

    it('lists the three clusters, worst first', async () => {
      const fleet = (await (await fetch(`${monitor.url}/clusters`)).json()) as {
        clusters: Array<{ id: string; status: string }>;
      };
      expect(fleet.clusters.map((c) => c.id).sort()).toEqual([
        'spilo/orders/wal/15',
        'spilo/payments/wal/15',
        'spilo/reports/wal/14',
      ]);
      expect(fleet.clusters.at(-1)).toMatchObject({ id: 'spilo/orders/wal/15', status: 'ok' });
    });
  });
});

/**
 * The local monitor's restore drill schedule with the real engine: PostgreSQL 15 archives into the
 * watched folder during the test, the monitor ingests it, and its schedule restores the archive with
 * PostgreSQL 15, holding the result against the monitor's own stored report. The record reaches the API,
 * the report's lastDrill and /metrics.
 */
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDrillPolicy } from '../../shared/config/drill-policy.js';
import type { DrillRecord } from '../../shared/core/drill.js';
import type { ClusterReport } from '../../shared/core/report.js';
import { type LocalMonitor, startLocalMonitor } from '../../shared/local/local-monitor.js';
import { type PostgresHarness, startPostgres } from '../support/postgres.js';
import { isRoot, POSTGRES_OS_USER } from '../support/postgres-exec.js';

const CLUSTER = 'spilo/drilled/wal/15';
const PG15 = '/usr/lib/postgresql/15/bin';

describe('the local monitor’s drill schedule on a real PostgreSQL 15 archive', () => {
  let pg: PostgresHarness;
  let dataDir: string;
  let monitor: LocalMonitor;
  const log: string[] = [];

  beforeAll(async () => {
    pg = await startPostgres({ archivePrefix: CLUSTER });
    await pg.primary.generateLoad(500);
    await pg.primary.takeBaseBackup();
    await pg.primary.generateLoad(1500);
    await pg.primary.waitForArchived(await pg.primary.switchWal());
    dataDir = await mkdtemp(join(tmpdir(), 'walwatch-drills-'));
    // mkdtemp makes a 0700 folder; the drill's server runs as another user and must reach its scratch folder.
    await chmod(dataDir, 0o755);
    monitor = await startLocalMonitor({
      dataDir,
      archiveDir: pg.bucketDir,
      host: '127.0.0.1',
      port: 0,
      segmentSize: pg.walSegmentSize,
      // The test asks for checks itself; the sweeper runs when told to.
      sweepIntervalMs: 3_600_000,
      drills: {
        every: parseDrillPolicy('24h', '--drill-every', 'off'),
        binaries: new Map([[15, PG15]]),
        ...(isRoot() ? { pgUser: POSTGRES_OS_USER } : {}),
        checkEveryMs: 3_600_000,
      },
      log: (line) => log.push(line),
    });
    await monitor.syncNow();
  }, 180_000);

  afterAll(async () => {
    await monitor?.stop();
    await pg?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  const get = async <T>(path: string): Promise<T> =>
    (await (await fetch(`${monitor.url}${path}`)).json()) as T;

  it('restores the cluster once when due, verifies the prediction, and serves the record', async () => {
    expect(monitor.drills.summary).toBe(
      `Restore drills: 24h (--drill-every), one at a time; PostgreSQL binaries found: 15 (${PG15}).`,
    );
    await monitor.drills.runDue();
    // Not due again for 24 h: a second check drills nothing.
    await monitor.drills.runDue();
    const { drills } = await get<{ drills: DrillRecord[] }>(
      `/clusters/${encodeURIComponent(CLUSTER)}/drills`,
    );
    expect(drills, log.join('\n')).toHaveLength(1);
    const [drill] = drills;
    expect(drill, JSON.stringify(drill)).toMatchObject({
      cluster: CLUSTER,
      target: 'latest',
      verdict: 'verified',
    });
    expect(drill?.reached.lsn).not.toBeNull();

    await monitor.sweepNow();
    const { cluster } = await get<{ cluster: ClusterReport }>(`/clusters/${encodeURIComponent(CLUSTER)}`);
    expect(cluster.lastDrill).toMatchObject({ verdict: 'verified', lastVerifiedAt: drill?.finishedAt });
    expect(cluster.problems.map((p) => p.kind)).not.toContain('drill-failed');
    const metrics = await (await fetch(`${monitor.url}/metrics`)).text();
    expect(metrics).toContain(`walwatch_last_drill_verified{cluster="${CLUSTER}"} 1`);
    expect(metrics).toContain(
      `walwatch_last_drill_timestamp_seconds{cluster="${CLUSTER}"} ${Date.parse(drill?.finishedAt ?? '') / 1000}`,
    );
  }, 180_000);
});

/**
 * Restore drills with PostgreSQL 15 across a promotion (timeline 2) and on 64 MiB segments: each drill is
 * verified against walwatch's prediction, and the restored server holds every row committed.
 */
import { afterAll, beforeAll, describe, it } from 'vitest';
import { runDrill } from '../../../shared/drill/run-drill.js';
import { type PostgresHarness, startPostgres } from '../../support/postgres.js';
import { isRoot, POSTGRES_OS_USER } from '../../support/postgres-exec.js';
import { runFailoverScenario } from '../../support/postgres-scenario.js';

const COUNT_ROWS = 'SELECT count(*) FROM walwatch_load';

function drill(pg: PostgresHarness, cluster: string, target = 'latest') {
  return runDrill({
    archive: { kind: 'dir', dir: pg.bucketDir },
    cluster,
    target,
    segmentSize: pg.walSegmentSize,
    ...(isRoot() ? { pgUser: POSTGRES_OS_USER } : {}),
    checkSql: COUNT_ROWS,
    scratchParent: pg.dir,
    now: Date.now,
  });
}

describe.concurrent('runDrill across timelines and segment sizes', () => {
  const promoted = 'spilo/drill-promoted/wal/15';
  const large = 'spilo/drill-64mib/wal/15';
  let failover: PostgresHarness;
  let big: PostgresHarness;
  let midTime: string;

  beforeAll(async () => {
    [failover, big] = await Promise.all([
      startPostgres({ archivePrefix: promoted }),
      startPostgres({ archivePrefix: large, walSegmentSize: 64 * 1024 * 1024 }),
    ]);
    const bigLoad = (async () => {
      const { primary } = big;
      await primary.generateLoad(1000);
      await primary.takeBaseBackup();
      await primary.generateLoad(2000);
      midTime = await primary.runSql(
        `SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`,
      );
      await new Promise((resolve) => setTimeout(resolve, 20));
      await primary.generateLoad(500);
      await primary.waitForArchived(await primary.switchWal());
    })();
    await Promise.all([runFailoverScenario(failover, { timeline2Segments: 2 }), bigLoad]);
  }, 120_000);

  afterAll(async () => {
    await Promise.all([failover?.stop(), big?.stop()]);
  });

  it('verifies the latest point on the timeline a promotion started', async ({ expect }) => {
    const record = await drill(failover, promoted);
    expect(record, JSON.stringify(record)).toMatchObject({ verdict: 'verified', checkResult: '10500' });
    expect(record.reached.timeline).toBe(2);
  }, 90_000);

  it('verifies the latest point of a cluster with 64 MiB segments', async ({ expect }) => {
    const record = await drill(big, large);
    expect(record, JSON.stringify(record)).toMatchObject({ verdict: 'verified', checkResult: '3500' });
  }, 90_000);

  it('verifies a time inside 64 MiB segments', async ({ expect }) => {
    const record = await drill(big, large, midTime);
    expect(record, JSON.stringify(record)).toMatchObject({ verdict: 'verified', checkResult: '3000' });
  }, 90_000);
});

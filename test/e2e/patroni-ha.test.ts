/**
 * walwatch against a real Patroni HA cluster: one etcd member and three PostgreSQL 15 nodes run by Debian's
 * Patroni as Spilo configures them, archiving in WAL-G's layout into the folder `walwatch serve` watches
 * (and, mirrored object by object, into moto's S3, whose notifications reach a second monitor through
 * SQS). The scenarios share one cluster and run in order; after each, within seconds, the API must show
 * what PostgreSQL says: the leader's timeline and history files, its archiver's last segment, the last
 * commit pg_waldump finds in the archive, the backups taken, no gaps and no false alarm.
 *
 * Without the `patroni`/`etcd-server` packages the file is skipped, loudly; on CI (`CI` set) it fails.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DrillRecord } from '../../shared/core/drill.js';
import type { ClusterReport } from '../../shared/core/report.js';
import {
  createNotifiedBucket,
  type LocalMoto,
  MOTO_CREDENTIALS,
  MOTO_REGION,
  motoAvailable,
  startMoto,
} from '../support/moto.js';
import {
  factsOfReport,
  type RecoverabilityFacts,
  readClusterFacts,
  segmentNumber,
} from '../support/patroni/cluster-truth.js';
import {
  findMissingPatroniPackages,
  type PatroniCluster,
  type PatroniNode,
  startPatroniCluster,
} from '../support/patroni/patroni-cluster.js';
import { sleep } from '../support/patroni/processes.js';
import { mirrorFolderToBucket, WalwatchServe } from '../support/patroni/walwatch-serve.js';
import type { BaseBackupFacts } from '../support/postgres-backup.js';
import { isRoot, POSTGRES_OS_USER, runCommand } from '../support/postgres-exec.js';
import { parsePgLsn } from '../support/postgres-wal.js';

const SCOPE = 'ha';
const CLUSTER = `spilo/${SCOPE}/wal/15`;
const MAX_ARCHIVE_AGE_S = 10;
const missing = findMissingPatroniPackages();
const onCi = Boolean(process.env.CI);
if (missing.length > 0) {
  const verdict = onCi ? 'FAIL (CI is set)' : 'be SKIPPED';
  console.error(
    `\n!!! the Patroni HA scenarios need the Debian packages ${missing.join(', ')} (scripts/test-deps.sh installs them); they ${verdict} !!!\n`,
  );
}
const withQueue = motoAvailable() || onCi;

describe.runIf(missing.length === 0 || onCi)('walwatch serve following a Patroni HA cluster', () => {
  let ha: PatroniCluster;
  let folderMonitor: WalwatchServe;
  let queueMonitor: WalwatchServe | undefined;
  let moto: LocalMoto | undefined;
  let stopMirror: (() => Promise<void>) | undefined;
  const backups: BaseBackupFacts[] = [];
  const commitCache = new Map();
  let heartbeat: (() => Promise<void>) | undefined;

  const startHeartbeat = (intervalMs = 3_000) => {
    heartbeat ??= ha.startHeartbeat(intervalMs);
  };
  const stopHeartbeat = async () => {
    await heartbeat?.();
    heartbeat = undefined;
  };

  /**
   * Waits (bounded) until the monitor's report shows what PostgreSQL says at the same moment, and returns
   * those facts. The heartbeat pauses meanwhile, so that the archive can settle.
   */
  async function expectAgreement(monitor: WalwatchServe = folderMonitor): Promise<RecoverabilityFacts> {
    const beating = heartbeat !== undefined;
    await stopHeartbeat();
    let expected: RecoverabilityFacts | undefined;
    let actual: RecoverabilityFacts | undefined;
    const deadline = Date.now() + 45_000;
    try {
      while (Date.now() < deadline) {
        expected = await readClusterFacts(ha, backups, commitCache).catch(() => undefined);
        if (expected) {
          actual = factsOfReport(await monitor.report(CLUSTER));
          if (isDeepStrictEqual(actual, expected)) return expected;
        }
        await sleep(500);
      }
      expect(actual).toEqual(expected);
      throw new Error('PostgreSQL never settled');
    } finally {
      if (beating) startHeartbeat();
    }
  }

  const report = async (): Promise<ClusterReport> => {
    const found = await folderMonitor.report(CLUSTER);
    if (!found) throw new Error('the monitor does not know the cluster');
    return found;
  };

  const segmentObjects = async (): Promise<string[]> =>
    (await readdir(join(ha.archive.root, 'wal_005')))
      .filter((name) => /^[0-9A-F]{24}\.lz4$/.test(name))
      .sort();

  beforeAll(async () => {
    ha = await startPatroniCluster({
      scope: SCOPE,
      archivePrefix: CLUSTER,
      archiveTimeoutSeconds: 1,
      timeBoundMs: 420_000,
    });
    folderMonitor = new WalwatchServe([
      '--dir',
      ha.bucketDir,
      '--data',
      join(ha.dir, 'monitor-folder'),
      '--segment-size',
      '1MiB',
      '--sweep-every',
      '1s',
      '--max-archive-age',
      `${MAX_ARCHIVE_AGE_S}s`,
      // Scenario 4 runs its own drill; the monitor's schedule would restore the cluster while it fails over.
      '--drill-every',
      'off',
    ]);
    await folderMonitor.start();
    if (withQueue) {
      moto = await startMoto();
      const notified = await createNotifiedBucket(moto, 'patroni-archive', {
        maxReceiveCount: 5,
        visibilityTimeoutSeconds: 30,
      });
      stopMirror = mirrorFolderToBucket({ folder: ha.bucketDir, s3: moto.s3, bucket: notified.bucket });
      queueMonitor = new WalwatchServe(
        [
          '--bucket',
          `s3://${notified.bucket}`,
          '--endpoint',
          moto.endpoint,
          '--path-style',
          '--queue',
          notified.queueUrl,
          '--data',
          join(ha.dir, 'monitor-queue'),
          '--segment-size',
          '1MiB',
          '--sweep-every',
          '1s',
          '--drill-every',
          'off',
        ],
        {
          AWS_REGION: MOTO_REGION,
          AWS_ACCESS_KEY_ID: MOTO_CREDENTIALS.accessKeyId,
          AWS_SECRET_ACCESS_KEY: MOTO_CREDENTIALS.secretAccessKey,
        },
      );
      await queueMonitor.start();
    }
  }, 180_000);

  afterAll(async () => {
    await stopHeartbeat().catch(() => undefined);
    await stopMirror?.().catch(() => undefined);
    await queueMonitor?.stop();
    await folderMonitor?.stop();
    await moto?.stop();
    await ha?.stop();
  }, 120_000);

  it('1: under steady load with two backups, then idle on archive_timeout and the heartbeat, shows what PostgreSQL archived, without a false archive-stale', async () => {
    const leader = await ha.waitForHealthy();
    const stopLoad = ha.startLoad();
    await sleep(2_000);
    backups.push(await ha.takeBaseBackup(leader));
    await sleep(2_000);
    backups.push(await ha.takeBaseBackup(leader));
    await sleep(2_000);
    expect(await stopLoad()).toBeGreaterThan(10);
    const loaded = await expectAgreement();
    expect(loaded).toMatchObject({ targetTimeline: 1, gaps: [], problems: [] });
    expect(loaded.latest?.lastCommitTime).toMatch(/^\d{4}-/);

    // Idle for longer than --max-archive-age: only the heartbeat writes, archive_timeout ships it.
    const before = (await segmentObjects()).length;
    // A beat a second: many segments with little more than heartbeats in them.
    startHeartbeat(1_000);
    const seen = new Set<string>();
    const idleUntil = Date.now() + (MAX_ARCHIVE_AGE_S + 4) * 1_000;
    while (Date.now() < idleUntil) {
      for (const problem of (await report()).problems) seen.add(problem.kind);
      await sleep(500);
    }
    expect([...seen]).not.toContain('archive-stale');
    expect((await segmentObjects()).length).toBeGreaterThanOrEqual(before + 9);
    const idle = await expectAgreement();
    expect(idle.latest?.segment).not.toBe(loaded.latest?.segment);
  }, 120_000);

  it('4: two failovers within a minute (timelines 1 → 2 → 3) with a backup on timeline 2, and a restore drill reaching the same point', async () => {
    const stopLoad = ha.startLoad();
    const first = await ha.waitForHealthy();
    await sleep(1_000);
    const started = Date.now();
    await first.crash();
    const second = await ha.waitForHealthy({ replicas: 1 });
    expect(second.name).not.toBe(first.name);
    await first.start();
    await ha.waitForHealthy();
    const onTimeline2 = await ha.takeBaseBackup(second);
    expect(onTimeline2.timeline).toBe(2);
    backups.push(onTimeline2);
    await sleep(1_000);
    await second.crash();
    const third = await ha.waitForHealthy({ replicas: 1 });
    expect(Date.now() - started).toBeLessThan(60_000);
    await second.start();
    await ha.waitForHealthy();
    await stopLoad();
    const facts = await expectAgreement();
    expect(third.name).not.toBe(second.name);
    expect(facts.targetTimeline).toBe(3);
    expect(facts.timelines.map(([id, parent]) => [id, parent])).toEqual([
      [1, null],
      [2, 1],
      [3, 2],
    ]);
    expect(facts.backups.find(([name]) => name === onTimeline2.name)?.[1]).toBe('restorable');

    // A real restore from the folder (walwatch drill) reaches the point PostgreSQL and the API show, on
    // timeline 3, with every committed row.
    // The heartbeat pauses meanwhile, so that recovery does not chase new segments; the cluster may still
    // archive (autovacuum, checkpoints), so the point reached lies between the facts before and after.
    const rows = await third.runSql('SELECT count(*) FROM walwatch_load');
    await stopHeartbeat();
    const drill = await runDrill(ha, 'SELECT count(*) FROM walwatch_load');
    startHeartbeat();
    const after = await expectAgreement();
    expect(drill, JSON.stringify(drill).slice(0, 3000)).toMatchObject({
      verdict: 'verified',
      checkResult: rows,
      reached: { timeline: 3 },
    });
    const lsnOf = (text: string | null | undefined) => parsePgLsn(text ?? '0/0');
    expect(lsnOf(drill.reached.lsn)).toBeGreaterThanOrEqual(lsnOf(facts.latest?.lsn));
    expect(lsnOf(drill.reached.lsn)).toBeLessThanOrEqual(lsnOf(after.latest?.lsn));
    expect(String(drill.reached.lastCommitTime) >= String(facts.latest?.lastCommitTime)).toBe(true);
    expect(String(drill.reached.lastCommitTime) <= String(after.latest?.lastCommitTime)).toBe(true);
  }, 150_000);

  it('2: a patronictl switchover under load, seen through the folder and through S3 → SQS --queue', async () => {
    const leader = await ha.waitForHealthy();
    const timeline = (await expectAgreement()).targetTimeline;
    const stopLoad = ha.startLoad();
    await sleep(1_500);
    const candidate = ha.nodes.find((node) => node !== leader) as PatroniNode;
    await ha.switchover(candidate);
    await ha.waitForHealthy();
    await sleep(1_500);
    await stopLoad();
    const facts = await expectAgreement();
    expect(facts.targetTimeline).toBe(timeline + 1);
    if (queueMonitor) expect((await expectAgreement(queueMonitor)).targetTimeline).toBe(timeline + 1);
  }, 150_000);

  it('3: a crashed leader (SIGKILL to postgres and patroni) rejoins through pg_rewind; its diverged segments are diverged, never gaps', async () => {
    const stopLoad = ha.startLoad();
    const leader = await ha.waitForHealthy();
    const timeline = (await expectAgreement()).targetTimeline;
    await sleep(1_000);
    await stopLoad();
    // What the leader writes from now on reaches no replica (and, its archive being unreachable, no
    // restore_command either); then it dies.
    await leader.setArchiveOutage(true);
    expect(await leader.freezeWalSenders()).toBe(2);
    await leader.runSql(
      "INSERT INTO walwatch_load (payload) SELECT repeat('d', 200) FROM generate_series(1, 3000)",
    );
    const divergedSegment = await leader.runSql('SELECT pg_walfile_name(pg_switch_wal())');
    await leader.crash();
    await leader.setArchiveOutage(false);
    const next = await ha.waitForHealthy({ replicas: 1 });
    // Patroni archives the old leader's `.ready` segments before pg_rewind: its diverged tail.
    await leader.start();
    await ha.waitForHealthy();
    await waitForFile(ha.locateArchivedWal(divergedSegment));
    expect(await readFile(leader.logFile, 'utf8')).toMatch(/running pg_rewind from/);
    const facts = await expectAgreement();
    expect(facts.targetTimeline).toBe(timeline + 1);
    expect(next.name).not.toBe(leader.name);
    // The old leader's segment past the switch point is in the archive and counted as diverged.
    const switchLsn = facts.timelines.at(-1)?.[2] as string;
    const switchSegment = Number(parsePgLsn(switchLsn) / BigInt(ha.walSegmentSize));
    expect(segmentNumber(divergedSegment, ha.walSegmentSize)).toBeGreaterThanOrEqual(switchSegment);
    const objects = await segmentObjects();
    const divergedObjects = objects.filter((name) => {
      const objectTimeline = Number.parseInt(name.slice(0, 8), 16);
      const parentSwitch = facts.timelines.find(([id]) => id === objectTimeline + 1)?.[2];
      return (
        parentSwitch !== undefined &&
        segmentNumber(name, ha.walSegmentSize) >=
          Number(parsePgLsn(parentSwitch as string) / BigInt(ha.walSegmentSize))
      );
    });
    expect(divergedObjects).toContain(`${divergedSegment}.lz4`);
    const live = await report();
    expect(live.divergedSegments).toBe(divergedObjects.length);
    expect(live.gaps).toEqual([]);
  }, 150_000);

  it('5: an archive outage: WAL piles up, archive-stale fires, then the backlog arrives in a burst out of order and the archive is whole again', async () => {
    const leader = await ha.waitForHealthy();
    const before = await segmentObjects();
    startHeartbeat();
    const stopLoad = ha.startLoad();
    await ha.setArchiveOutage(true);
    let outage: ClusterReport | undefined;
    const deadline = Date.now() + 45_000;
    while (Date.now() < deadline) {
      outage = await report();
      if (outage.problems.some((p) => p.kind === 'archive-stale')) break;
      await sleep(500);
    }
    expect(outage?.problems.map((p) => p.kind)).toContain('archive-stale');
    const [, failed] = (
      await leader.runSql('SELECT archived_count, failed_count FROM pg_stat_archiver')
    ).split('|');
    expect(Number(failed)).toBeGreaterThan(0);
    const pending = Number(
      await leader.runSql(
        "SELECT count(*) FROM pg_ls_archive_statusdir() WHERE name ~ '^[0-9A-F]{24}\\.ready$'",
      ),
    );
    expect(pending).toBeGreaterThan(3);
    await stopLoad();
    await ha.setArchiveOutage(false);
    const facts = await expectAgreement();
    expect(facts.gaps).toEqual([]);
    // The backlog was stored newest first, as WAL-G's parallel uploads finish out of order.
    const burst = (await segmentObjects()).filter((name) => !before.includes(name));
    const stored = await Promise.all(
      burst.map(async (name) => ({ name, at: (await stat(join(ha.archive.root, 'wal_005', name))).mtimeMs })),
    );
    const outOfOrder = stored.some((a, i) => stored.slice(i + 1).some((b) => b.at < a.at));
    expect(outOfOrder).toBe(true);
  }, 150_000);

  it('6: patronictl reinit of a replica: a new pg_basebackup, no new WAL-G backup, nothing lost', async () => {
    const leader = await ha.waitForHealthy();
    const replica = ha.nodes.find((node) => node !== leader) as PatroniNode;
    const historyFiles = async () =>
      (await readdir(join(ha.archive.root, 'wal_005'))).filter((name) => name.endsWith('.backup.lz4'));
    const backupHistoryBefore = await historyFiles();
    const stopLoad = ha.startLoad();
    await ha.reinit(replica);
    await ha.waitForHealthy();
    await stopLoad();
    const facts = await expectAgreement();
    expect((await historyFiles()).length).toBeGreaterThan(backupHistoryBefore.length);
    expect(facts.backups.map(([name]) => name)).toEqual(backups.map((b) => b.name));
    expect(facts.latest?.timeline).toBe(facts.targetTimeline);
  }, 150_000);
});

/** Runs `walwatch drill --dir <bucket> --cluster <id> --json` as a user would and returns its record. */
async function runDrill(ha: PatroniCluster, checkSql: string): Promise<DrillRecord> {
  const root = join(import.meta.dirname, '..', '..');
  const result = await runCommand(
    process.execPath,
    [
      '--import',
      'tsx',
      join(root, 'cli', 'main.ts'),
      'drill',
      '--dir',
      ha.bucketDir,
      '--cluster',
      CLUSTER,
      '--segment-size',
      '1MiB',
      ...(isRoot() ? ['--pg-user', POSTGRES_OS_USER] : []),
      '--check-sql',
      checkSql,
      '--scratch',
      ha.dir,
      '--json',
      '--quiet',
    ],
    { cwd: root, timeoutMs: 120_000, allowedExitCodes: [0, 1, 2] },
  );
  return JSON.parse(result.stdout.toString('utf8')) as DrillRecord;
}

async function waitForFile(path: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (
    !(await stat(path)
      .then(() => true)
      .catch(() => false))
  ) {
    if (Date.now() > deadline) throw new Error(`${path} did not appear within ${timeoutMs} ms`);
    await sleep(100);
  }
}

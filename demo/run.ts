/**
 * `npm run demo`: the five-minute tour. With Debian's `patroni` and `etcd-server` installed it runs a real
 * Patroni HA cluster (the test bed of test/support/patroni/: one etcd member, three PostgreSQL 15 nodes
 * configured as Spilo configures them) that archives into the local monitor's folder in WAL-G's layout,
 * and keeps it busy in front of the dashboard: load, base backups, switchovers, and crashed leaders that
 * fail over and rejoin through pg_rewind, until Ctrl-C. Without Patroni it runs a primary and a standby
 * by hand and fails over once.
 */
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { resolve } from 'node:path';
import { type LocalMonitor, startLocalMonitor } from '../shared/local/local-monitor.js';
import { findMissingPatroniPackages, startPatroniCluster } from '../test/support/patroni/patroni-cluster.js';
import { sleep } from '../test/support/patroni/processes.js';
import { startPostgres } from '../test/support/postgres.js';
import { POSTGRES_BIN } from '../test/support/postgres-exec.js';

const say = (line: string): void => {
  process.stderr.write(`demo: ${line}\n`);
};

/** Starts the monitor on a fresh store (every run starts a new cluster whose WAL names repeat the last run's). */
async function startMonitor(archiveDir: string, segmentSize: number): Promise<LocalMonitor> {
  const dataDir = resolve('walwatch-data', 'demo');
  await rm(dataDir, { recursive: true, force: true });
  const monitor = await startLocalMonitor({
    dataDir,
    archiveDir,
    host: '127.0.0.1',
    port: Number(process.env.WALWATCH_DEMO_PORT ?? 7070),
    segmentSize,
    sweepIntervalMs: 5_000,
    thresholds: { gapGraceMs: 30_000, maxArchiveAgeMs: 120_000 },
  });
  say(`dashboard: ${monitor.url}/   (archive folder ${archiveDir})`);
  return monitor;
}

/** Runs `stop` on the first Ctrl-C or SIGTERM, then exits. */
function onInterrupt(stop: () => Promise<void>): { readonly stopping: () => boolean } {
  let stopping = false;
  const handler = (): void => {
    if (stopping) return;
    stopping = true;
    say('stopping…');
    void stop().finally(() => process.exit(0));
  };
  // `on`, not `once`: Ctrl-C reaches npm, tsx and this process, and tsx relays it again; a second signal
  // without a listener would kill the process before the cluster is stopped.
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return { stopping: () => stopping };
}

async function runPatroniDemo(): Promise<number> {
  say(
    'starting etcd and a three-node Patroni cluster (PostgreSQL 15, 1 MiB WAL segments, archive_timeout 10 s)…',
  );
  const ha = await startPatroniCluster({
    scope: 'demo',
    archiveTimeoutSeconds: 10,
    timeBoundMs: 8 * 3_600_000,
  });
  const monitor = await startMonitor(ha.bucketDir, ha.walSegmentSize);
  const stopHeartbeat = ha.startHeartbeat(15_000);
  const stopLoad = ha.startLoad(200, 500);
  const interrupt = onInterrupt(async () => {
    await stopLoad();
    await stopHeartbeat();
    await monitor.stop();
    await ha.stop();
  });
  const pause = async (seconds: number): Promise<void> => {
    for (let i = 0; i < seconds && !interrupt.stopping(); i++) await sleep(1_000);
  };
  say('writing on the leader; Ctrl-C to stop. Every half minute something happens:');
  for (let round = 1; !interrupt.stopping(); round++) {
    try {
      let leader = await ha.waitForHealthy();
      say(`round ${round}: leader ${leader.name}; taking a WAL-G-style base backup…`);
      const backup = await ha.takeBaseBackup(leader);
      say(`backup ${backup.name} (timeline ${backup.timeline}) finished at ${backup.finishLsn}`);
      await pause(30);
      if (interrupt.stopping()) break;
      const candidate = ha.nodes.find((node) => node !== leader) ?? leader;
      say(`patronictl switchover to ${candidate.name}…`);
      leader = await ha.switchover(candidate);
      await ha.waitForHealthy();
      await pause(30);
      if (interrupt.stopping()) break;
      say(`crashing the leader ${leader.name} (SIGKILL to Patroni and PostgreSQL)…`);
      await leader.crash();
      const next = await ha.waitForHealthy({ replicas: 1 });
      say(`${next.name} took over; restarting ${leader.name}, which rejoins through pg_rewind…`);
      await leader.start();
      await ha.waitForHealthy();
      await pause(30);
    } catch (error) {
      if (interrupt.stopping()) break;
      say(`this round failed (${(error as Error).message.split('\n')[0]}); going on`);
      await pause(5);
    }
  }
  return 0;
}

async function runPrimaryStandbyDemo(): Promise<number> {
  if (!existsSync(`${POSTGRES_BIN}/initdb`)) {
    say(`PostgreSQL 15 server binaries are not installed (looked for ${POSTGRES_BIN}/initdb).`);
    say('Install them (Debian/Ubuntu: sudo apt-get install postgresql-15 lz4) and run `npm run demo` again.');
    say(
      'Without PostgreSQL, `npm start` still runs the monitor; copy a WAL-G file archive into ./walwatch-data/archive.',
    );
    return 3;
  }
  say('Patroni is not installed (sudo apt-get install patroni etcd-server for the HA tour);');
  say('starting PostgreSQL 15 by hand (1 MiB WAL segments, archive_timeout 10 s)…');
  const pg = await startPostgres({ archivePrefix: 'spilo/demo/wal/15', archiveTimeoutSeconds: 10 });
  const monitor = await startMonitor(pg.bucketDir, pg.walSegmentSize);
  const interrupt = onInterrupt(async () => {
    await monitor.stop();
    await pg.stop();
  });

  const { primary } = pg;
  const writeSegment = async (server: typeof primary): Promise<string> => {
    await server.generateLoad(3000);
    const segment = await server.switchWal();
    await server.waitForArchived(segment);
    return segment;
  };
  say('writing WAL on timeline 1…');
  for (let i = 0; i < 3; i++) await writeSegment(primary);
  say('taking a WAL-G-style base backup…');
  const backup = await primary.takeBaseBackup();
  say(`backup ${backup.name} finished at ${backup.finishLsn}`);
  for (let i = 0; i < 3; i++) await writeSegment(primary);
  say('starting a standby and failing over to it (timeline 2)…');
  const standby = await pg.startStandby();
  await standby.waitForReplay(await primary.readCurrentLsn());
  await primary.stop();
  const promotion = await standby.promote();
  say(`promoted: timeline ${promotion.timeline} from ${promotion.switchLsn}`);
  say('writing on timeline 2 every few seconds; watch the dashboard. Ctrl-C to stop.');
  while (!interrupt.stopping()) {
    await writeSegment(standby);
    await monitor.syncNow();
    await sleep(3_000);
  }
  return 0;
}

const missing = findMissingPatroniPackages();
process.exitCode = missing.length === 0 ? await runPatroniDemo() : await runPrimaryStandbyDemo();

/**
 * `npm run demo`: the five-minute tour. Starts a real PostgreSQL primary and standby that archive into the
 * local monitor's folder in WAL-G's layout, runs load, takes a base backup, promotes the standby to
 * timeline 2, and keeps writing, so the dashboard shows live data until Ctrl-C.
 *
 * It drives PostgreSQL through the same harness the integration tests use (WAL-G-layout archive_command
 * with lz4, WAL-G-style base backups with the sentinel written last).
 */
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { resolve } from 'node:path';
import { startLocalMonitor } from '../shared/local/local-monitor.js';
import { startPostgres } from '../test/support/postgres.js';
import { POSTGRES_BIN } from '../test/support/postgres-exec.js';

const SCOPE = 'demo';
const say = (line: string): void => {
  process.stderr.write(`demo: ${line}\n`);
};

async function main(): Promise<number> {
  if (!existsSync(`${POSTGRES_BIN}/initdb`)) {
    say(`PostgreSQL 15 server binaries are not installed (looked for ${POSTGRES_BIN}/initdb).`);
    say('Install them (Debian/Ubuntu: sudo apt-get install postgresql-15 lz4) and run `npm run demo` again.');
    say(
      'Without PostgreSQL, `npm start` still runs the monitor; copy a WAL-G file archive into ./walwatch-data/archive.',
    );
    return 3;
  }
  say('starting PostgreSQL 15 (1 MiB WAL segments, archive_timeout 10 s)…');
  const pg = await startPostgres({ archivePrefix: `spilo/${SCOPE}/wal/15`, archiveTimeoutSeconds: 10 });
  // Every run starts a brand-new PostgreSQL cluster, whose WAL file names repeat the last run's: keeping
  // the old store would rightly report them as overwritten and deleted.
  const dataDir = resolve('walwatch-data', 'demo');
  await rm(dataDir, { recursive: true, force: true });
  const monitor = await startLocalMonitor({
    dataDir,
    archiveDir: pg.bucketDir,
    host: '127.0.0.1',
    port: Number(process.env.WALWATCH_DEMO_PORT ?? 7070),
    segmentSize: pg.walSegmentSize,
    sweepIntervalMs: 5_000,
    thresholds: { gapGraceMs: 30_000, maxArchiveAgeMs: 120_000 },
  });
  say(`dashboard: ${monitor.url}/   (archive folder ${pg.bucketDir})`);

  let stopping = false;
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    say('stopping…');
    await monitor.stop();
    await pg.stop();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());

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
  while (!stopping) {
    await writeSegment(standby);
    await monitor.syncNow();
    await new Promise((done) => setTimeout(done, 3_000));
  }
  return 0;
}

process.exitCode = await main();

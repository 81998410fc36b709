import type { BaseBackupFacts, PostgresHarness, PostgresServer, PromotionFacts } from './postgres.js';
import { formatPgLsn, parsePgLsn } from './postgres-wal.js';

/** What {@link runFailoverScenario} did, as PostgreSQL reported it along the way. */
export interface FailoverScenario {
  /** The WAL-G-style base backup taken on timeline 1. */
  readonly backup: BaseBackupFacts;
  /** Segments the primary completed by `pg_switch_wal()` and archived before the failover (timeline 1). */
  readonly timeline1Switched: readonly string[];
  /**
   * `Latest checkpoint location` of the primary stopped before the promotion: its shutdown checkpoint,
   * the last record it wrote. `undefined` when the old primary kept running (`divergedSegments` > 0).
   */
  readonly primaryShutdownCheckpoint: string | undefined;
  /** The promoted standby, now the primary of timeline 2 (still running). */
  readonly promoted: PostgresServer;
  readonly promotion: PromotionFacts;
  /** Segments completed and archived on timeline 2, oldest first. */
  readonly timeline2Switched: readonly string[];
  /** Timeline 1 segments the old primary archived after the promotion (split brain), oldest first. */
  readonly timeline1Diverged: readonly string[];
}

/** Options of {@link runFailoverScenario}. */
export interface FailoverScenarioOptions {
  /** Segments written and archived on timeline 2 after the promotion. @default 3 */
  readonly timeline2Segments?: number;
  /**
   * Segments the old primary still writes and archives on timeline 1 after the promotion, as a primary
   * that was not fenced in time does; 0 stops it cleanly before the promotion. @default 0
   */
  readonly divergedSegments?: number;
}

/**
 * Runs a Patroni-like failover on a fresh harness: load and a WAL-G-style base backup on timeline 1, more
 * WAL, a streaming standby, the primary shut down cleanly (its last segment is never archived), the standby
 * promoted to timeline 2 (archiving `00000002.history` and the old timeline's `.partial`), then
 * `timeline2Segments` segments written and archived on timeline 2. With `divergedSegments` the old primary
 * keeps running through the promotion and archives that many more timeline 1 segments before it stops.
 * Every step waits for the archive, so the archive is complete and quiet when this returns. Takes about
 * 5 s with 1 MiB segments.
 */
export async function runFailoverScenario(
  pg: PostgresHarness,
  options: FailoverScenarioOptions = {},
): Promise<FailoverScenario> {
  const { primary } = pg;
  const diverged = options.divergedSegments ?? 0;
  const timeline1Switched: string[] = [];
  const writeSegment = async (server: PostgresServer, into: string[], rows = 2000) => {
    await server.generateLoad(rows);
    const completed = await server.switchWal();
    await server.waitForArchived(completed);
    into.push(completed);
  };

  await writeSegment(primary, timeline1Switched);
  const backup = await primary.takeBaseBackup();
  await writeSegment(primary, timeline1Switched);
  await writeSegment(primary, timeline1Switched);

  const standby = await pg.startStandby();
  // WAL only the standby receives (streamed): the old timeline's tail, archived later as `.partial`.
  await primary.generateLoad(500);
  let primaryShutdownCheckpoint: string | undefined;
  if (diverged === 0) {
    await primary.stop();
    primaryShutdownCheckpoint = (await primary.readControlData())['Latest checkpoint location'] ?? '';
    await standby.waitForReplay(formatPgLsn(parsePgLsn(primaryShutdownCheckpoint) + 1n));
  } else {
    await standby.waitForReplay(await primary.readCurrentLsn());
  }

  const promotion = await standby.promote();
  if (promotion.partialFileName) await standby.waitForArchived(promotion.partialFileName);

  const timeline1Diverged: string[] = [];
  if (diverged > 0) {
    for (let i = 0; i < diverged; i += 1) await writeSegment(primary, timeline1Diverged);
    await primary.stop();
  }

  const timeline2Switched: string[] = [];
  for (let i = 0; i < (options.timeline2Segments ?? 3); i += 1)
    await writeSegment(standby, timeline2Switched);

  return {
    backup,
    timeline1Switched,
    primaryShutdownCheckpoint,
    promoted: standby,
    promotion,
    timeline2Switched,
    timeline1Diverged,
  };
}

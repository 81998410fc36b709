/**
 * The WAL heartbeat the Spilo nodes run (`infra/spilo/render-heartbeat.ts`), on real PostgreSQL 15 with
 * `archive_timeout = 1s` and a streaming standby: an idle primary archives nothing at all, one heartbeat
 * makes it switch and archive a segment, and on the standby the same statement writes nothing and does
 * not fail, so one timer can run on every node whichever is the leader.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HEARTBEAT_SQL } from '../../infra/spilo/render-heartbeat.js';
import { type PostgresHarness, type PostgresServer, startPostgres } from '../support/postgres.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('WAL heartbeat on PostgreSQL 15', () => {
  let harness: PostgresHarness;
  let standby: PostgresServer;

  beforeAll(async () => {
    harness = await startPostgres({ archiveTimeoutSeconds: 1 });
    standby = await harness.startStandby();
  }, 120_000);

  afterAll(async () => {
    await harness?.stop();
  });

  const archivedSegments = async () =>
    (await harness.listObjectKeys()).filter((key) => /\/wal_005\/[0-9A-F]{24}(\.|$)/.test(key)).sort();

  /** Waits until nothing new is archived for `quietMs`, and returns what is archived then. */
  async function settle(quietMs: number): Promise<string[]> {
    const deadline = Date.now() + 90_000;
    let last = await archivedSegments();
    let since = Date.now();
    while (Date.now() - since < quietMs) {
      if (Date.now() > deadline) throw new Error(`the archive did not go quiet: ${last.join(', ')}`);
      await sleep(250);
      const now = await archivedSegments();
      if (now.join() !== last.join()) {
        last = now;
        since = Date.now();
      }
    }
    return last;
  }

  it('an idle primary archives nothing; one heartbeat makes it archive a segment within archive_timeout', async () => {
    const idle = await settle(4_000);
    // Idle for as long again: archive_timeout alone (1 s here, 1800 s in Spilo) switches nothing.
    await sleep(4_000);
    expect(await archivedSegments()).toEqual(idle);

    await harness.primary.runSql(HEARTBEAT_SQL);
    const deadline = Date.now() + 20_000;
    let after = idle;
    while (after.length === idle.length && Date.now() < deadline) {
      await sleep(100);
      after = await archivedSegments();
    }
    expect(after.length).toBeGreaterThan(idle.length);
  }, 150_000);

  it('does nothing on a standby, without an error', async () => {
    expect(await standby.runSql('SELECT pg_is_in_recovery()')).toBe('t');
    expect(await standby.runSql(HEARTBEAT_SQL)).toBe('');
  });
});

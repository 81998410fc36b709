import { describe, expect, it } from 'vitest';
import { analyzeCluster } from '../../../shared/core/analyze.js';
import type { ClusterReport } from '../../../shared/core/report.js';
import { parseRestoreTarget, planRestore, type RestoreTarget } from '../../../shared/core/restore-plan.js';
import { buildClusterStates } from '../../../shared/core/state.js';
import { type ArchiveSpec, contentLookup, generateArchive } from '../../support/archive-generator.js';

const MIB = 1024 * 1024;
const START = Date.parse('2026-11-01T00:00:00Z');
const MINUTE = 60_000;
const storedAt = (segno: number): number => START + (segno - 1) * MINUTE;

/** Failover at segment 15 (0x0F), backups starting at 3 and 21 (0x15), a hole at 11 (0x0B), 30 segments. */
const spec: ArchiveSpec = {
  clusterId: 'spilo/superman/wal/15',
  segmentSize: 16 * MIB,
  segments: 30,
  switches: [14],
  midSegmentSwitch: true,
  backups: [2, 20],
  holes: [10],
};

function reportOf(archive: ArchiveSpec): ClusterReport {
  const objects = generateArchive(archive);
  const [state] = buildClusterStates(objects, contentLookup(objects), () => archive.segmentSize).values();
  return analyzeCluster(state as NonNullable<typeof state>, { now: storedAt(30) + 10 * MINUTE });
}

function target(text: string): RestoreTarget {
  const parsed = parseRestoreTarget(text);
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.target;
}

describe('parseRestoreTarget', () => {
  it('reads latest, LSNs and zoned times', () => {
    expect(parseRestoreTarget('latest')).toEqual({ ok: true, target: { kind: 'latest' } });
    expect(parseRestoreTarget('0/05000028')).toEqual({
      ok: true,
      target: { kind: 'lsn', lsn: '0/5000028', value: 0x5000028n },
    });
    expect(parseRestoreTarget('2026-11-01T01:00:00+01:00')).toMatchObject({
      ok: true,
      target: { kind: 'time', time: '2026-11-01T00:00:00.000Z' },
    });
  });

  it('refuses a time without a zone and garbage', () => {
    expect(parseRestoreTarget('2026-11-01T01:00:00')).toMatchObject({
      ok: false,
      error: expect.stringContaining('time zone'),
    });
    expect(parseRestoreTarget('yesterday')).toMatchObject({ ok: false });
  });

  it('refuses impossible calendar dates and times instead of rolling them over', () => {
    expect(parseRestoreTarget('2026-02-30T20:00:00Z')).toEqual({
      ok: false,
      error: 'target 2026-02-30T20:00:00Z is not a date: February 2026 has 28 days',
    });
    expect(parseRestoreTarget('2026-11-24T24:00:00Z')).toMatchObject({
      ok: false,
      error: expect.stringContaining('hours run from 00 to 23'),
    });
    expect(parseRestoreTarget('2026-11-24T24:00+01:00')).toMatchObject({ ok: false });
  });

  it('refuses an empty target rather than reading it as latest', () => {
    expect(parseRestoreTarget('')).toMatchObject({ ok: false, error: expect.stringContaining('empty') });
    expect(parseRestoreTarget('   ')).toMatchObject({ ok: false });
  });
});

describe('planRestore', () => {
  const report = reportOf(spec);

  it('restores latest from the backup nearest the latest recoverable point, following the newest timeline', () => {
    const plan = planRestore(report, target('latest'), { bucket: 'wal-bucket' });
    expect(plan).toMatchObject({
      reachable: true,
      backup: 'base_000000020000000000000015',
      timeline: 2,
      reason: null,
    });
    expect(plan.spiloEnv).toEqual({
      CLONE_METHOD: 'CLONE_WITH_WALE',
      CLONE_SCOPE: 'superman',
      CLONE_WAL_S3_BUCKET: 'wal-bucket',
      CLONE_USE_WALG_RESTORE: 'true',
      CLONE_TARGET_TIMELINE: 'latest',
    });
    expect(plan.walgSteps).toContain('wal-g backup-fetch "$PGDATA" base_000000020000000000000015');
    expect(plan.walgSteps[0]).toBe('export WALG_S3_PREFIX=s3://wal-bucket/spilo/superman/wal/15');
  });

  it('refuses a time before the earliest recoverable point', () => {
    const plan = planRestore(report, target(new Date(storedAt(2)).toISOString()));
    expect(plan.reachable).toBe(false);
    expect(plan.reason).toContain('before the earliest recoverable point');
  });

  it('refuses a time inside a gap', () => {
    // The first backup's chain ends at segment 0x0A (stored at minute 9); the second starts after the failover.
    const plan = planRestore(report, target(new Date(storedAt(15)).toISOString()));
    expect(plan).toMatchObject({ reachable: false, certainty: 'upper-bound' });
    expect(plan.reason).toContain('inside a gap');
  });

  it('refuses a time after all archived WAL and says by how much', () => {
    const plan = planRestore(report, target(new Date(storedAt(30) + 4 * MINUTE + 12_000).toISOString()));
    expect(plan.reachable).toBe(false);
    expect(plan.reason).toContain('by 4 min 12 s');
  });

  it('plans a time inside the first interval from the first backup on timeline 1', () => {
    const plan = planRestore(report, target(new Date(storedAt(7)).toISOString()), { bucket: 'b' });
    expect(plan).toMatchObject({
      reachable: true,
      backup: 'base_000000010000000000000003',
      timeline: 1,
      certainty: 'upper-bound',
    });
    expect(plan.spiloEnv.CLONE_TARGET_TIME).toBe(new Date(storedAt(7)).toISOString().replace('Z', '+00:00'));
    expect(plan.walgSteps.join('\n')).toContain("recovery_target_time = '");
  });

  it('plans an LSN on timeline 2 and says Spilo cannot take an LSN', () => {
    const plan = planRestore(report, target('0/18000000'));
    expect(plan).toMatchObject({ reachable: true, backup: 'base_000000020000000000000015', timeline: 2 });
    expect(plan.walgSteps.join('\n')).toContain("recovery_target_lsn = '0/18000000'");
    expect(plan.notes.join(' ')).toContain('not an LSN');
  });

  it('refuses an LSN inside a gap and after the latest point', () => {
    expect(planRestore(report, target('0/C000000')).reason).toContain('inside a gap');
    expect(planRestore(report, target('0/FF000000')).reason).toContain('after the latest recoverable point');
  });

  it("warns when Spilo's clone would pick a backup that cannot be restored", () => {
    // The second backup's sentinel is garbage: Spilo lists it by the sentinel's time all the same.
    const broken = reportOf({ ...spec, holes: [], corrupt: [1] });
    const plan = planRestore(broken, target(new Date(storedAt(25)).toISOString()));
    expect(plan).toMatchObject({
      reachable: true,
      backup: 'base_000000010000000000000003',
      spiloBackup: 'base_000000020000000000000015',
    });
    expect(plan.notes.join(' ')).toContain('which is invalid');
  });

  it('uses an explicit prefix for clusters outside Spilo layouts', () => {
    const plain = reportOf({ ...spec, clusterId: 'pg/main' });
    expect(planRestore(plain, { kind: 'latest' }, { bucket: 'b' }).spiloEnv.CLONE_WALE_S3_PREFIX).toBe(
      's3://b/pg/main',
    );
  });
});

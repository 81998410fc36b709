/**
 * Times after `now`: a file with mtime 2099 or an event of year 9999 must neither give negative ages nor
 * keep a gap or an upload waiting forever; beyond the skew allowance it is reported as `clock-skew`.
 */
import { describe, expect, it } from 'vitest';
import { analyzeCluster } from '../../../shared/core/analyze.js';
import { CLOCK_SKEW_ALLOWANCE_MS } from '../../../shared/core/config.js';
import { buildClusterStates, type ClusterState } from '../../../shared/core/state.js';
import { contentLookup, type GeneratedObject, generateArchive } from '../../support/archive-generator.js';

const MIB = 1024 * 1024;
const CLUSTER = 'spilo/skew/wal/15';
/** Segments 1 … 10 one minute apart from 2026-11-01, a backup at segment 2, segment 7 missing. */
const objects = generateArchive({
  clusterId: CLUSTER,
  segmentSize: 16 * MIB,
  segments: 10,
  switches: [],
  backups: [1],
  holes: [6],
});
const last = Math.max(...objects.map((object) => object.at));
const NOW = last + 2 * 60_000;
const YEAR_2099 = Date.parse('2099-01-01T00:00:00Z');
const YEAR_9999 = Date.parse('9999-12-31T23:59:59Z');

function stateWith(change: (object: GeneratedObject) => GeneratedObject): ClusterState {
  const changed = objects.map(change);
  return buildClusterStates(changed, contentLookup(changed), () => 16 * MIB).get(CLUSTER) as ClusterState;
}
const restamp = (suffix: string, at: number) => (object: GeneratedObject) =>
  object.key.endsWith(suffix) ? { ...object, at } : object;

describe('analyzeCluster with times after now', () => {
  it('clamps the archive age of a segment stamped 2099 at zero, ends the grace of the gap before it and reports clock-skew', () => {
    const report = analyzeCluster(stateWith(restamp('000000010000000000000008.lz4', YEAR_2099)), {
      now: NOW,
    });
    expect(report.gaps.map((gap) => [gap.id, gap.status])).toEqual([
      ['000000010000000000000007-000000010000000000000007', 'lost'],
    ]);
    expect(report.archiveAgeSeconds).toBe(0);
    expect(report.recoveryPointLagSeconds).toBeGreaterThanOrEqual(0);
    const skew = report.problems.filter((problem) => problem.kind === 'clock-skew');
    expect(skew).toEqual([
      {
        kind: 'clock-skew',
        severity: 'critical',
        subject: 'wal',
        message: expect.stringContaining('000000010000000000000008 stored at 2099-01-01T00:00:00.000Z'),
      },
    ]);
    expect(report.problems.map((problem) => problem.kind)).toContain('wal-gap');
    expect(report.status).toBe('critical');
  });

  it('never gives a negative age for an event of year 9999', () => {
    const report = analyzeCluster(stateWith(restamp('00000001000000000000000A.lz4', YEAR_9999)), {
      now: NOW,
    });
    expect(report.archiveAgeSeconds).toBe(0);
    expect(report.lastArchivedAt).toBe('9999-12-31T23:59:59.000Z');
    expect(report.problems).toContainEqual(
      expect.objectContaining({ kind: 'clock-skew', severity: 'critical', subject: 'wal' }),
    );
  });

  it('takes a time within the allowance as it is: the gap stays pending, no clock-skew', () => {
    const report = analyzeCluster(
      stateWith(restamp('000000010000000000000008.lz4', NOW + CLOCK_SKEW_ALLOWANCE_MS - 1000)),
      { now: NOW },
    );
    expect(report.gaps.map((gap) => gap.status)).toEqual(['pending']);
    expect(report.archiveAgeSeconds).toBe(0);
    expect(report.problems.map((problem) => problem.kind)).not.toContain('clock-skew');
  });

  it('reports a backup finished in the future as backup clock skew, a warning, with age zero', () => {
    const report = analyzeCluster(
      stateWith((object) =>
        object.key.endsWith('_backup_stop_sentinel.json')
          ? {
              ...object,
              content: object.content?.replace(/"FinishTime":"[^"]*"/, '"FinishTime":"2099-01-01T00:00:00Z"'),
            }
          : object,
      ),
      { now: NOW },
    );
    expect(report.backupAgeSeconds).toBe(0);
    expect(report.problems).toContainEqual(
      expect.objectContaining({ kind: 'clock-skew', severity: 'warning', subject: 'backups' }),
    );
  });

  it('does not keep an upload stamped in the future in progress forever', () => {
    const report = analyzeCluster(
      stateWith((object) => {
        if (object.key.endsWith('_backup_stop_sentinel.json'))
          return { ...object, key: `${object.key}.gone` };
        return object.key.includes('/basebackups_005/') ? { ...object, at: YEAR_2099 } : object;
      }),
      { now: NOW },
    );
    expect(report.backups.map((backup) => [backup.status, backup.reason])).toEqual([
      [
        'failed',
        'its newest part is stamped 2099-01-01T00:00:00.000Z, in the future, and no sentinel followed',
      ],
    ]);
  });
});

/**
 * Drill records for tests of what the product does with them (store, report, alerts, API, dashboard).
 */
import type { DrillRecord, DrillVerdict } from '../../shared/core/drill.js';

/** A drill of `cluster` that started at `startedAt` (epoch ms) and took a minute. */
export function drillRecord(
  cluster: string,
  startedAt: number,
  verdict: DrillVerdict = 'verified',
  overrides: Partial<DrillRecord> = {},
): DrillRecord {
  const point = {
    timeline: 2,
    lsn: '0/3A000F8',
    lastCommitTime: '2026-11-01T00:39:12.345678Z',
  };
  return {
    startedAt: new Date(startedAt).toISOString(),
    finishedAt: new Date(startedAt + 60_000).toISOString(),
    cluster,
    target: 'latest',
    backup: 'base_000000020000000000000014',
    verdict,
    predicted: point,
    reached:
      verdict === 'verified'
        ? point
        : verdict === 'mismatch'
          ? { ...point, lsn: '0/39000028', lastCommitTime: '2026-11-01T00:37:01.000001Z' }
          : { timeline: null, lsn: null, lastCommitTime: null },
    consistentLsn: verdict === 'failed' ? null : '0/14000138',
    checkResult: verdict === 'failed' ? null : '1200',
    reason:
      verdict === 'verified'
        ? null
        : verdict === 'mismatch'
          ? 'recovery ended 1 segment early'
          : 'no consistent state reached: 000000020000000000000016 could not be fetched',
    logTail: verdict === 'failed' ? 'FATAL:  could not locate required checkpoint record' : null,
    downloadedBytes: 25_165_824,
    ...overrides,
  };
}

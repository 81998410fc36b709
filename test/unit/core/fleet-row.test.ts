import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { analyzeCluster } from '../../../shared/core/analyze.js';
import type { Thresholds } from '../../../shared/core/config.js';
import { fleetRowAges, nextCrossingAt, summarizeFleetRow } from '../../../shared/core/fleet-row.js';
import { clusterMetrics, fleetRowMetrics } from '../../../shared/core/metrics.js';
import type { ClusterReport } from '../../../shared/core/report.js';
import { buildClusterStates, type ClusterState } from '../../../shared/core/state.js';
import { contentLookup, generateArchive } from '../../support/archive-generator.js';

const MIB = 1024 * 1024;
const START = Date.parse('2026-11-01T00:00:00Z');
const HOUR = 3_600_000;

/** What an analysis says apart from ages and the words of its messages. */
function fingerprint(report: ClusterReport) {
  return {
    status: report.status,
    problems: report.problems.map((p) => [p.kind, p.severity, p.subject]),
    gaps: report.gaps.map((g) => [g.id, g.status, g.severity]),
    backups: report.backups.map((b) => [b.name, b.status]),
    latest: report.latestRecoverable?.lsn ?? null,
  };
}

const archives = fc.record({
  segments: fc.integer({ min: 4, max: 40 }),
  holes: fc.uniqueArray(fc.integer({ min: 2, max: 39 }), { maxLength: 3 }),
  backups: fc.uniqueArray(fc.integer({ min: 0, max: 30 }), { minLength: 0, maxLength: 3 }),
  failed: fc.uniqueArray(fc.integer({ min: 0, max: 2 }), { maxLength: 2 }),
  intervalMs: fc.constantFrom(1_000, 60_000, 20 * 60_000),
  /** How long after the last segment the first analysis runs. */
  after: fc.integer({ min: 0, max: 30 * HOUR }),
  thresholds: fc.constantFrom<Partial<Thresholds>>({}, { gapGraceMs: 60_000, maxArchiveAgeMs: 10 * 60_000 }),
});

describe('nextCrossingAt', () => {
  it('is the first time after which analysing the unchanged state answers otherwise, ages aside', () => {
    fc.assert(
      fc.property(archives, fc.double({ min: 0, max: 1, noNaN: true }), (spec, fraction) => {
        const clusterId = 'spilo/prop/wal/16';
        const segments = spec.segments;
        const objects = generateArchive({
          clusterId,
          segmentSize: 16 * MIB,
          segments,
          switches: [],
          backups: [...new Set(spec.backups.filter((b) => b < segments - 2))].sort((a, b) => a - b),
          failed: spec.failed,
          holes: spec.holes.filter((h) => h < segments - 1),
          intervalMs: spec.intervalMs,
        });
        const state = buildClusterStates(objects, contentLookup(objects), () => 16 * MIB).get(clusterId);
        if (!state) return;
        const now = START + (segments - 1) * spec.intervalMs + spec.after;
        const analyse = (at: number) =>
          analyzeCluster(state as ClusterState, { now: at, thresholds: spec.thresholds });
        const report = analyse(now);
        const crossing = nextCrossingAt(state, report, now, spec.thresholds);
        const row = summarizeFleetRow(report, now);
        const horizon = crossing ?? now + 48 * HOUR;
        expect(horizon).toBeGreaterThan(now);
        // Anywhere before the crossing the answer is the same, and the row aged to then gives its metrics.
        for (const at of [now, now + Math.floor((horizon - now - 1) * fraction), horizon - 1]) {
          const later = analyse(at);
          expect(fingerprint(later)).toEqual(fingerprint(report));
          expect(fleetRowMetrics(row, at)).toEqual(clusterMetrics(later));
          const aged = fleetRowAges(row, at);
          expect([aged.archiveAgeSeconds, aged.backupAgeSeconds, aged.recoveryPointLagSeconds]).toEqual([
            later.archiveAgeSeconds,
            later.backupAgeSeconds,
            later.recoveryPointLagSeconds,
          ]);
        }
        // At the crossing something changes.
        if (crossing !== null) expect(fingerprint(analyse(crossing))).not.toEqual(fingerprint(report));
      }),
      { numRuns: 150 },
    );
  });
});

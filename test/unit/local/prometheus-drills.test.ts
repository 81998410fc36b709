import { describe, expect, it } from 'vitest';
import { analyzeCluster } from '../../../shared/core/analyze.js';
import { withDrills } from '../../../shared/core/drill-status.js';
import { buildClusterStates } from '../../../shared/core/state.js';
import { renderPrometheus } from '../../../shared/local/prometheus.js';
import { contentLookup, generateArchive } from '../../support/archive-generator.js';
import { drillRecord } from '../../support/drill-records.js';

const MIB = 1024 * 1024;
const START = Date.parse('2026-11-01T00:00:00Z');
const NOW = START + 40 * 60_000;

function reports() {
  const objects = ['spilo/drilled/wal/15', 'spilo/never/wal/15'].flatMap((clusterId) =>
    generateArchive({ clusterId, segmentSize: 16 * MIB, segments: 20, switches: [], backups: [1] }),
  );
  const states = buildClusterStates(objects, contentLookup(objects), () => 16 * MIB);
  return [...states.values()].map((state) => {
    const report = analyzeCluster(state, { now: NOW });
    const drills =
      state.id === 'spilo/drilled/wal/15' ? [drillRecord(state.id, NOW - 3_660_000, 'mismatch')] : [];
    return withDrills(report, drills, NOW);
  });
}

describe('renderPrometheus with restore drills', () => {
  const text = renderPrometheus(reports(), NOW);

  it('exposes the newest drill’s finish time and verdict of drilled clusters only', () => {
    const finished = (NOW - 3_660_000 + 60_000) / 1000;
    expect(text).toContain('# TYPE walwatch_last_drill_timestamp_seconds gauge');
    expect(text).toContain(
      `walwatch_last_drill_timestamp_seconds{cluster="spilo/drilled/wal/15"} ${finished}`,
    );
    expect(text).toContain('walwatch_last_drill_verified{cluster="spilo/drilled/wal/15"} 0');
    expect(text).toContain('walwatch_last_drill_age_seconds{cluster="spilo/drilled/wal/15"} 3600');
    expect(text).not.toMatch(/walwatch_last_drill_\w+\{cluster="spilo\/never\/wal\/15"\}/);
  });

  it('counts the mismatch among the critical problems', () => {
    expect(text).toContain('walwatch_critical_problems{cluster="spilo/drilled/wal/15"} 1');
    expect(text).toContain('walwatch_cluster_status{cluster="spilo/drilled/wal/15",status="critical"} 1');
  });
});

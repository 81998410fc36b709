import { describe, expect, it } from 'vitest';
import { createMemoryMonitorData } from '../../../shared/api/monitor-data.js';
import { parseDrillPolicy } from '../../../shared/config/drill-policy.js';
import { analyzeCluster } from '../../../shared/core/analyze.js';
import { buildClusterStates } from '../../../shared/core/state.js';
import { type LocalDrillContext, majorOf, startLocalDrills } from '../../../shared/local/local-drills.js';
import { sampleArchive } from '../../../shared/sample/sample-archive.js';
import { contentLookup, generateArchive } from '../../support/archive-generator.js';

const MIB = 1024 * 1024;
const context: LocalDrillContext = {
  data: createMemoryMonitorData(new Map()),
  archive: { kind: 'dir', dir: '/nonexistent' },
  dataDir: '/nonexistent',
  segmentSizes: { default: 16 * MIB, clusters: [] },
  log: () => undefined,
};

describe('startLocalDrills', () => {
  it('runs no drills and looks for no binaries when the monitor is given no drill options', async () => {
    const drills = await startLocalDrills(context, undefined);
    expect(drills.summary).toBe('Restore drills: off.');
    expect(drills.expectation('spilo/a/wal/15')).toBeUndefined();
  });

  it('turns drills off where no PostgreSQL binaries are found, and says so', async () => {
    const quiet = await startLocalDrills(context, { binaries: new Map() });
    expect(quiet.summary).toBe(
      'Restore drills: off (no PostgreSQL server binaries found; install postgresql-<major> or pass --pg-bin, then --drill-every 24h).',
    );
    const asked = await startLocalDrills(context, {
      binaries: new Map(),
      every: parseDrillPolicy('6h', '--drill-every', 'off'),
      pgBin: '/opt/pg/bin',
    });
    expect(asked.summary).toBe(
      'Restore drills: off: no PostgreSQL server binaries found in /opt/pg/bin, although --drill-every asks for 6h; install postgresql-<major> or pass --pg-bin.',
    );
    expect(asked.policy.default).toBe('off');
  });

  it('drills every cluster daily where binaries are found and nothing is set, and names the policy', async () => {
    const drills = await startLocalDrills(context, {
      binaries: new Map([[15, '/usr/lib/postgresql/15/bin']]),
      checkEveryMs: 3_600_000,
    });
    try {
      expect(drills.summary).toBe(
        'Restore drills: 24h (--drill-every), one at a time; PostgreSQL binaries found: 15 (/usr/lib/postgresql/15/bin).',
      );
      expect(drills.expectation('spilo/a/wal/15')?.staleAfterMs).toBe(72 * 3_600_000);
    } finally {
      await drills.stop();
    }
  });

  it('says so when the policy turns every cluster off', async () => {
    const drills = await startLocalDrills(context, {
      binaries: new Map([[15, '/usr/lib/postgresql/15/bin']]),
      every: parseDrillPolicy('off', '--drill-every', 'off'),
    });
    expect(drills.summary).toBe(
      'Restore drills: off (--drill-every); PostgreSQL binaries found: 15 (/usr/lib/postgresql/15/bin).',
    );
  });
});

describe('scheduled drills of a `walwatch sample` archive', () => {
  it('skips the sample clusters, whose backups hold no data directory, and drills the others', async () => {
    const now = Date.parse('2026-11-20T12:00:00Z');
    const sample = sampleArchive(now);
    const text = new Map(
      sample.filter((o) => o.key.endsWith('.json')).map((o) => [o.key, new TextDecoder().decode(o.body)]),
    );
    const real = generateArchive({
      clusterId: 'spilo/real/wal/15',
      segmentSize: 16 * MIB,
      segments: 6,
      switches: [],
      backups: [1],
    });
    const realContent = contentLookup(real);
    const states = buildClusterStates(
      [...sample.map((o) => ({ key: o.key, at: o.storedAt, size: o.body.length })), ...real],
      (key) => realContent(key) ?? (key.endsWith('.json') ? { text: text.get(key) as string } : undefined),
      () => 16 * MIB,
    );
    expect(states.size).toBe(4);
    const lines: string[] = [];
    const drilled: string[] = [];
    const drills = await startLocalDrills(
      { ...context, data: createMemoryMonitorData(states), log: (line) => lines.push(line) },
      {
        binaries: new Map([[15, '/usr/lib/postgresql/15/bin']]),
        checkEveryMs: 3_600_000,
        runDrill: async (options) => {
          drilled.push(options.cluster);
          throw new Error('no server here');
        },
      },
    );
    try {
      await drills.runDue();
    } finally {
      await drills.stop();
    }
    expect(drilled).toEqual(['spilo/real/wal/15']);
    const skipped = lines.filter((line) => line.includes('a `walwatch sample` cluster'));
    expect(skipped).toHaveLength(3);
  });
});

describe('majorOf', () => {
  it('reads the major version from a Spilo id, else from the backups’ sentinels', () => {
    const report = (clusterId: string) => {
      const objects = generateArchive({
        clusterId,
        segmentSize: 16 * MIB,
        segments: 6,
        switches: [],
        backups: [1],
      });
      const [state] = buildClusterStates(objects, contentLookup(objects), () => 16 * MIB).values();
      return analyzeCluster(state as NonNullable<typeof state>, { now: Date.parse('2026-11-01T01:00:00Z') });
    };
    expect(majorOf(report('spilo/a/wal/16'))).toBe(16);
    // The generated sentinels say PgVersion 150015.
    expect(majorOf(report('orders'))).toBe(15);
  });
});

/**
 * The content scan's bookkeeping against dynalite, with the real fold: each segment is read once, the
 * cursor moves a bounded number of segments per run, a new pass re-reads only replaced objects, a defect
 * lands in the state and leaves it when a sound copy replaces the object, and unreadable objects are
 * errors, not defects. Segment bodies come from `buildSwitchSegment` (or it with one byte changed);
 * PostgreSQL-written WAL is covered by `test/integration/segment-scan-postgres.test.ts`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { analyzeCluster } from '../../../shared/core/analyze.js';
import type { ObjectEvent } from '../../../shared/core/facts.js';
import { walFileName } from '../../../shared/core/lsn.js';
import { scanClusters, scanSegmentContent } from '../../../shared/monitor/segment-scan.js';
import { type ArchiveSource, SourceAccessError } from '../../../shared/sources/archive-source.js';
import { getClusterState, putClusterState } from '../../../shared/store/cluster-states.js';
import { type FoldDependencies, foldEvents } from '../../../shared/store/fold-events.js';
import { getSegmentSummary } from '../../../shared/store/segment-summaries.js';
import { type LocalDynamo, startDynalite } from '../../support/dynalite.js';
import { buildSwitchSegment, SWITCH_RECORD_INFO_OFFSET } from '../../support/wal-builder.js';

const ROOT = 'spilo/scan/wal/15';
const SEGMENT_SIZE = 1024 * 1024;
const SYSTEM_ID = 7_500_000_000_000_000_001n;
const START = Date.parse('2026-11-24T10:00:00Z');

const switchSegment = (segno: number, systemIdentifier = SYSTEM_ID): Uint8Array =>
  buildSwitchSegment(segno, SEGMENT_SIZE, systemIdentifier);

let dynamo: LocalDynamo;
let tables = 0;
beforeAll(async () => {
  dynamo = await startDynalite();
});
afterAll(async () => {
  await dynamo?.stop();
});

async function setup(segments: number) {
  const table = await dynamo.createTable(`scan-${tables++}`);
  const bodies = new Map<string, Uint8Array>();
  const reads: string[] = [];
  const fold: FoldDependencies = {
    db: dynamo.db,
    table,
    segmentSizeOf: () => SEGMENT_SIZE,
    // Sentinels name the database system (and a backup of segment 1); nothing else is read as a document.
    readDocument: async (key) =>
      key.endsWith('_backup_stop_sentinel.json')
        ? {
            text: `{"LSN":${SEGMENT_SIZE + 40},"FinishLSN":${SEGMENT_SIZE + 400},"SystemIdentifier":${sentinelSystem}}`,
          }
        : { error: 'no documents here' },
  };
  let clock = START;
  let sentinelSystem = SYSTEM_ID;
  let sequencer = 0x100;
  const store = async (
    segno: number,
    body: Uint8Array,
    etag: string | null,
    extension = '.lz4',
    root = ROOT,
  ) => {
    const key = `${root}/wal_005/${walFileName(1, segno, SEGMENT_SIZE)}${extension}`;
    bodies.set(key, body);
    clock += 1000;
    const event: ObjectEvent = {
      key,
      type: 'created',
      at: clock,
      sequencer: (sequencer++).toString(16).toUpperCase(),
      size: body.length,
      etag,
    };
    const result = await foldEvents(fold, [{ id: key, event }]);
    expect(result.failures.size).toBe(0);
  };
  /** Stores a backup sentinel naming `system` as the cluster's database system. */
  const storeSentinel = async (system: bigint, name = 'base_000000010000000000000001') => {
    sentinelSystem = system;
    clock += 1000;
    const key = `${ROOT}/basebackups_005/${name}_backup_stop_sentinel.json`;
    const event: ObjectEvent = {
      key,
      type: 'created',
      at: clock,
      sequencer: (sequencer++).toString(16).toUpperCase(),
      size: 90,
      etag: `"${name}"`,
    };
    expect((await foldEvents(fold, [{ id: key, event }])).failures.size).toBe(0);
  };
  /** Reads that fail with this error until removed (throttling, say). */
  const failing = new Map<string, Error>();
  let inFlight = 0;
  let maxInFlight = 0;
  let readCostMs = 0;
  const source: ArchiveSource = {
    description: 'test',
    list: async function* () {},
    read: async (key) => {
      reads.push(key);
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise((resolve) => setTimeout(resolve, 5));
      clock += readCostMs;
      inFlight--;
      const failure = failing.get(key);
      if (failure) throw new SourceAccessError(`cannot read ${key}: ${failure.name}`, { cause: failure });
      const body = bodies.get(key);
      if (!body)
        throw new SourceAccessError(`cannot read ${key}: no such file`, {
          cause: Object.assign(new Error('ENOENT'), { code: 'ENOENT' }),
        });
      return body;
    },
  };
  for (let segno = 1; segno <= segments; segno++)
    await store(segno, uncompressed(switchSegment(segno)), `e${segno}`, '');
  const deps = {
    db: dynamo.db,
    table,
    source,
    getState: (id: string) => getClusterState(dynamo.db, table, id),
    putState: (state: Parameters<typeof putClusterState>[2], ver: number) =>
      putClusterState(dynamo.db, table, state, ver),
    now: () => clock,
  };
  return {
    deps,
    reads,
    store,
    storeSentinel,
    table,
    maxInFlight: () => maxInFlight,
    failing,
    /** Makes every read move the clock on by `ms` (for deadlines). */
    setReadCost: (ms: number) => {
      readCostMs = ms;
    },
  };
}

/** Uncompressed objects (WAL-G's `none`) keep the test free of a compressor. */
const uncompressed = (bytes: Uint8Array): Uint8Array => bytes;

describe('scanSegmentContent', () => {
  it('reads each segment once, a bounded number per run, and stores its summary', async () => {
    const { deps, reads, table } = await setup(10);
    const first = await scanSegmentContent(deps, ROOT, { maxReads: 4 });
    expect(first).toMatchObject({ read: 4, caughtUp: false, defects: [], errors: [] });
    const second = await scanSegmentContent(deps, ROOT, { maxReads: 4 });
    expect(second).toMatchObject({ read: 4, caughtUp: false });
    const third = await scanSegmentContent(deps, ROOT, { maxReads: 4 });
    expect(third).toMatchObject({ read: 2, caughtUp: true });
    expect(new Set(reads).size).toBe(10);
    expect(reads.length).toBe(10);
    expect(await scanSegmentContent(deps, ROOT)).toMatchObject({ read: 0, skipped: 0, caughtUp: true });

    const stored = await getSegmentSummary(dynamo.db, table, ROOT, walFileName(1, 7, SEGMENT_SIZE));
    expect(stored).toMatchObject({
      key: `${ROOT}/wal_005/000000010000000000000007`,
      etag: 'e7',
      defect: null,
      readError: null,
      summary: {
        startLsn: '0/700000',
        systemIdentifier: SYSTEM_ID.toString(),
        segmentSize: SEGMENT_SIZE,
        postgresVersion: 15,
        end: 'switch',
        endsWithSwitch: true,
        recordCount: 1,
      },
    });
  });

  it('finds a corrupt segment, cuts the recoverable point there, and clears it when a sound copy replaces it', async () => {
    const { deps, store } = await setup(6);
    const corrupt = switchSegment(4);
    corrupt[SWITCH_RECORD_INFO_OFFSET] = 0x41; // its CRC no longer matches
    await store(4, corrupt, 'bad', '');
    const scan = await scanSegmentContent(deps, ROOT);
    expect(scan.defects).toEqual(['000000010000000000000004']);
    const state = (await deps.getState(ROOT))?.state;
    expect(state?.defects?.['1:4']).toMatchObject({
      kind: 'corrupt',
      stopLsn: '0/400028',
      key: 'wal_005/000000010000000000000004',
      etag: 'bad',
    });
    const report = analyzeCluster(state as NonNullable<typeof state>, { now: deps.now() });
    expect(report.problems.map((p) => p.kind)).toContain('wal-corrupt');

    // The good copy archived again: the next pass re-reads the replaced object only.
    await store(4, switchSegment(4), 'good', '');
    const before = await scanSegmentContent(deps, ROOT);
    expect(before.read).toBe(0);
    const pass = await scanSegmentContent(deps, ROOT, { passIntervalMs: 0 });
    expect(pass).toMatchObject({ read: 1, skipped: 5, defects: [] });
    expect((await deps.getState(ROOT))?.state.defects).toEqual({});
  });

  it('re-reads a replaced object with no ETag and the same size (a folder) on the next pass', async () => {
    const { deps, store } = await setup(3);
    const corrupt = switchSegment(2);
    corrupt[SWITCH_RECORD_INFO_OFFSET] = 0x41;
    await store(2, corrupt, null, '');
    expect((await scanSegmentContent(deps, ROOT)).defects).toEqual(['000000010000000000000002']);
    await store(2, switchSegment(2), null, '');
    const pass = await scanSegmentContent(deps, ROOT, { passIntervalMs: 0 });
    expect(pass).toMatchObject({ read: 1, skipped: 2, defects: [] });
    expect((await deps.getState(ROOT))?.state.defects).toEqual({});
  });

  it('reports a segment of another database system than the newest backup, and one with a foreign header', async () => {
    const { deps, store, storeSentinel } = await setup(3);
    await storeSentinel(SYSTEM_ID);
    await store(4, switchSegment(4, 42n), 'foreign', '');
    await store(5, switchSegment(9), 'renamed', '');
    const scan = await scanSegmentContent(deps, ROOT);
    expect(scan.defects).toEqual(['000000010000000000000004', '000000010000000000000005']);
    const defects = (await deps.getState(ROOT))?.state.defects ?? {};
    expect(defects['1:4']?.kind).toBe('foreign');
    expect(defects['1:5']?.kind).toBe('wrong-segment');
  });

  it('takes the database system from the newest backup, so a cluster initialised again is not all foreign', async () => {
    const { deps, store, storeSentinel } = await setup(2);
    // The first segments come from an earlier database system under the same prefix; the backup is newer.
    await store(3, switchSegment(3, 99n), 'new3', '');
    await store(4, switchSegment(4, 99n), 'new4', '');
    await storeSentinel(99n, 'base_000000010000000000000003');
    const scan = await scanSegmentContent(deps, ROOT);
    expect(scan.defects).toEqual(['000000010000000000000001', '000000010000000000000002']);
  });

  it('records unreadable objects as errors, not defects, and goes on with the rest', async () => {
    const { deps, store, table } = await setup(2);
    await store(3, new TextEncoder().encode('not an lz4 frame'), 'garbage', '.lz4');
    await store(4, switchSegment(4), 'ok4', '.lzo');
    await store(5, switchSegment(5), 'ok5', '');
    const scan = await scanSegmentContent(deps, ROOT);
    expect(scan.read).toBe(5);
    expect(scan.defects).toEqual([]);
    expect(scan.errors).toHaveLength(2);
    expect(scan.errors[0]).toContain('000000010000000000000003');
    expect(scan.errors[1]).toContain('000000010000000000000004');
    expect(
      (await getSegmentSummary(dynamo.db, table, ROOT, walFileName(1, 3, SEGMENT_SIZE)))?.readError,
    ).toMatch(/lz4|frame|magic/i);
    expect(
      (await getSegmentSummary(dynamo.db, table, ROOT, walFileName(1, 5, SEGMENT_SIZE)))?.summary?.end,
    ).toBe('switch');
    expect((await deps.getState(ROOT))?.state.defects ?? {}).toEqual({});
  });

  it('stores nothing for a segment S3 throttled, keeps the cursor before it, and reads it on the next run', async () => {
    const { deps, failing, reads, table } = await setup(6);
    const key = `${ROOT}/wal_005/${walFileName(1, 3, SEGMENT_SIZE)}`;
    failing.set(
      key,
      Object.assign(new Error('Please reduce your request rate.'), {
        name: 'SlowDown',
        $metadata: { httpStatusCode: 503 },
      }),
    );
    const first = await scanSegmentContent(deps, ROOT);
    expect(first.caughtUp).toBe(false);
    expect(first.errors).toEqual([
      expect.stringMatching(/000000010000000000000003: .*SlowDown.*read again next run/),
    ]);
    expect(await getSegmentSummary(dynamo.db, table, ROOT, walFileName(1, 3, SEGMENT_SIZE))).toBeUndefined();
    expect(
      (await getSegmentSummary(dynamo.db, table, ROOT, walFileName(1, 2, SEGMENT_SIZE)))?.summary?.end,
    ).toBe('switch');

    failing.clear();
    reads.length = 0;
    const second = await scanSegmentContent(deps, ROOT);
    expect(second).toMatchObject({ caughtUp: true, errors: [], defects: [] });
    // Segments read in the first run (the reads after 3 ran alongside it) are not downloaded again.
    expect(reads).toContain(key);
    expect(reads.filter((read) => read.endsWith('01') || read.endsWith('02'))).toEqual([]);
    expect(
      (await getSegmentSummary(dynamo.db, table, ROOT, walFileName(1, 3, SEGMENT_SIZE)))?.summary?.end,
    ).toBe('switch');
  });

  it('reads a few at a time and leaves the cursor after the last read it finished', async () => {
    const { deps, reads, maxInFlight, setReadCost } = await setup(10);
    setReadCost(1000);
    // 2.5 s: four reads start at once and take 4 s, then the deadline has passed.
    const first = await scanSegmentContent(deps, ROOT, { deadline: deps.now() + 2500 });
    expect(first).toMatchObject({ read: 4, caughtUp: false, defects: [] });
    expect(maxInFlight()).toBe(4);
    expect(reads.map((key) => key.slice(-2))).toEqual(['01', '02', '03', '04']);
    const second = await scanSegmentContent(deps, ROOT);
    expect(second).toMatchObject({ read: 6, caughtUp: true });
    expect(new Set(reads).size).toBe(10);
  });

  it('shares the time among clusters, so a long backlog does not starve another cluster', async () => {
    const other = 'spilo/other/wal/15';
    const { deps, reads, store, setReadCost } = await setup(40);
    for (let segno = 1; segno <= 3; segno++) await store(segno, switchSegment(segno), `o${segno}`, '', other);
    setReadCost(1000);
    // 10 s for two clusters: the first (40 segments waiting) gets 5 s, the second what is left.
    const results = await scanClusters(deps, [ROOT, other], { deadline: deps.now() + 10_000, maxReads: 500 });
    expect(results.get(ROOT)).toMatchObject({ caughtUp: false });
    expect(results.get(other)).toMatchObject({ read: 3, caughtUp: true });
    expect(reads.filter((key) => key.startsWith(other))).toHaveLength(3);
  });

  it('stops starting reads at the deadline and resumes there', async () => {
    const { deps, reads } = await setup(5);
    const stopped = await scanSegmentContent(deps, ROOT, { deadline: deps.now() });
    expect(stopped).toMatchObject({ read: 0, caughtUp: false });
    expect(reads).toEqual([]);
    expect(await scanSegmentContent(deps, ROOT)).toMatchObject({ read: 5, caughtUp: true });
  });
});

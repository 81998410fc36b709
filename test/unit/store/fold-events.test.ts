/**
 * foldEvents against dynalite, checked against the core's in-memory reference (`MemoryArchive`) on
 * stores, removals and overwrites in any order and under concurrency.
 */

import { gzipSync } from 'node:zlib';
import { DeleteCommand, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { analyzeCluster } from '../../../shared/core/analyze.js';
import type { ObjectEvent } from '../../../shared/core/facts.js';
import { walFileName } from '../../../shared/core/lsn.js';
import { MemoryArchive } from '../../../shared/core/memory-archive.js';
import { type ClusterState, createClusterState } from '../../../shared/core/state.js';
import {
  encodeClusterState,
  getClusterState,
  getClusterStateWithParts,
  MAX_STATE_BYTES,
  putClusterState,
} from '../../../shared/store/cluster-states.js';
import { InconsistentStateError, StateTooLargeError } from '../../../shared/store/errors.js';
import { type FoldDependencies, foldEvents } from '../../../shared/store/fold-events.js';
import {
  backupPartsKey,
  clusterBackupsKey,
  clusterStateKey,
  newestPartition,
  newestSortKey,
  segmentFactKey,
} from '../../../shared/store/table.js';
import { type LocalDynamo, startDynalite } from '../../support/dynalite.js';
import { createRandom, SEGMENT_SIZE } from '../../support/generated-archive.js';

const ROOT = 'spilo/unit/wal/15';
const HISTORY_TEXT = `1\t0/${(3 * SEGMENT_SIZE + 0x100).toString(16).toUpperCase()}\tno recovery target specified\n`;
const SENTINEL_TEXT = `{"LSN":${SEGMENT_SIZE + 40},"FinishLSN":${2 * SEGMENT_SIZE + 80}}`;

let dynamo: LocalDynamo;
let tables = 0;

beforeAll(async () => {
  dynamo = await startDynalite();
});
afterAll(async () => {
  await dynamo?.stop();
});

async function createDeps(): Promise<FoldDependencies> {
  return {
    db: dynamo.db,
    table: await dynamo.createTable(`unit-${tables++}`),
    segmentSizeOf: () => SEGMENT_SIZE,
    readDocument: async (key) =>
      key.endsWith('.history') ? { text: HISTORY_TEXT } : { text: SENTINEL_TEXT },
  };
}

const segmentKey = (timeline: number, segno: number, extension = '.lz4') =>
  `${ROOT}/wal_005/${walFileName(timeline, segno, SEGMENT_SIZE)}${extension}`;

/** Random stores and removals over a small key space, with two ETags per key (so overwrites happen). */
function randomEvents(seed: number, count: number): ObjectEvent[] {
  const random = createRandom(seed);
  const keys = [
    ...Array.from({ length: 6 }, (_, n) => segmentKey(1, n + 1)),
    segmentKey(1, 3, '.br'),
    ...Array.from({ length: 3 }, (_, n) => segmentKey(2, n + 3)),
    `${ROOT}/wal_005/00000002.history`,
    `${ROOT}/wal_005/${walFileName(1, 3, SEGMENT_SIZE)}.partial.lz4`,
    `${ROOT}/basebackups_005/base_000000010000000000000001_backup_stop_sentinel.json`,
    // Parts of two backups, one of them with a sentinel: parts live in items of their own.
    `${ROOT}/basebackups_005/base_000000010000000000000001/tar_partitions/part_1.tar.lz4`,
    `${ROOT}/basebackups_005/base_000000010000000000000001/tar_partitions/part_2.tar.lz4`,
    `${ROOT}/basebackups_005/base_000000010000000000000004/tar_partitions/part_1.tar.lz4`,
    `${ROOT}/basebackups_005/base_000000010000000000000004/tar_partitions/part_2.tar.lz4`,
    `${ROOT}/wal_005/not-a-wal-file`,
  ];
  return Array.from({ length: count }, (_, index) => {
    const key = keys[Math.floor(random() * keys.length)] as string;
    const removed = random() < 0.25;
    const variant = random() < 0.15 ? 'b' : 'a';
    return {
      key,
      type: removed ? 'removed' : 'created',
      at: 1_800_000_000_000 + index * 1000 + Math.floor(random() * 3000),
      sequencer: (0x100 + index).toString(16).toUpperCase(),
      ...(removed ? {} : { size: variant === 'a' ? 100 : 101, etag: `etag-${variant}` }),
    };
  });
}

/** A fresh table with segments 1–3 of timeline 1 folded, stored a second apart after `at`. */
async function foldThreeSegments(): Promise<{ deps: FoldDependencies; at: number; events: ObjectEvent[] }> {
  const deps = await createDeps();
  const at = 1_800_000_000_000;
  const events: ObjectEvent[] = [1, 2, 3].map((segno) => ({
    key: segmentKey(1, segno),
    type: 'created',
    at: at + segno * 1000,
    size: 1,
    etag: `e${segno}`,
    sequencer: `0${segno}`,
  }));
  await foldEvents(
    deps,
    events.map((event, n) => ({ id: String(n), event })),
  );
  return { deps, at, events };
}

/** The sentinel of backup base_000000010000000000000001, stored at `at`. */
const sentinelEvent = (at: number): ObjectEvent => ({
  key: `${ROOT}/basebackups_005/base_000000010000000000000001_backup_stop_sentinel.json`,
  type: 'created',
  at,
  size: 10,
  etag: 's',
});

/** Deletes a backup's parts item behind the store's back. */
async function deleteParts(deps: FoldDependencies, backup: string): Promise<void> {
  await deps.db.send(new DeleteCommand({ TableName: deps.table, Key: { pk: backupPartsKey(ROOT, backup) } }));
}

function referenceState(events: readonly ObjectEvent[]): ClusterState | undefined {
  const memory = new MemoryArchive(() => SEGMENT_SIZE);
  for (const event of events) {
    const text = event.key.endsWith('.history') ? HISTORY_TEXT : SENTINEL_TEXT;
    memory.apply(event, { text });
  }
  return memory.states.get(ROOT);
}

/**
 * Overwrite records depend on delivery order in the core's gate itself (a removal that arrives before an
 * older store keeps no size or ETag, so a later store with other content is not recognised), so they are
 * checked in their own test; everything else must be equal.
 */
function withoutOverwriteDetails(state: ClusterState | undefined) {
  if (!state) return state;
  return { ...state, overwritten: {} };
}

function shuffled<T>(items: readonly T[], seed: number): T[] {
  const random = createRandom(seed);
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

describe('foldEvents', () => {
  it('equals the in-memory reference for stores, removals and overwrites in any order and concurrency', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 2 ** 31 - 1 }), async (seed) => {
        const deps = await createDeps();
        const events = randomEvents(seed, 60);
        const delivered = shuffled([...events, ...events.slice(0, 6)], seed + 1);
        // Four concurrent "invocations", each folding every fourth slice of five events.
        const slices = Array.from({ length: Math.ceil(delivered.length / 5) }, (_, i) =>
          delivered.slice(i * 5, i * 5 + 5),
        );
        await Promise.all(
          [0, 1, 2, 3].map(async (worker) => {
            for (let i = worker; i < slices.length; i += 4) {
              const result = await foldEvents(
                deps,
                (slices[i] ?? []).map((event, n) => ({ id: `${i}-${n}`, event })),
              );
              expect([...result.failures.values()]).toEqual([]);
            }
          }),
        );
        const stored = (await getClusterStateWithParts(deps.db, deps.table, ROOT))?.state;
        const expected = referenceState(events);
        expect(withoutOverwriteDetails(stored)).toEqual(withoutOverwriteDetails(expected));
      }),
      { numRuns: 15 },
    );
    // 15 runs of 66 events through dynalite take 25-30 s on a loaded two-core machine.
  }, 90_000);

  it('finds the next newest segment through the index when the newest one is removed', async () => {
    const { deps, at, events } = await foldThreeSegments();
    const removal: ObjectEvent = { key: segmentKey(1, 3), type: 'removed', at: at + 9000, sequencer: '09' };
    await foldEvents(deps, [{ id: 'r', event: removal }]);

    const state = (await getClusterStateWithParts(deps.db, deps.table, ROOT))?.state;
    expect(state?.newest).toEqual({ timeline: 1, segno: 2, at: at + 2000 });
    expect(state?.deleted).toEqual({ '1': [[3, 3]] });
    expect(state).toEqual(referenceState([...events, removal]));
  });

  it('confirms index candidates with consistent reads, skipping entries the index has not yet dropped', async () => {
    const { deps, at } = await foldThreeSegments();
    // An index entry that lags behind its item: segment 9 is gone, but the index still ranks it newest.
    const lagging = segmentFactKey(ROOT, walFileName(1, 9, SEGMENT_SIZE));
    await deps.db.send(
      new PutCommand({
        TableName: deps.table,
        Item: {
          pk: lagging,
          ver: 2,
          facts: {
            [segmentKey(1, 9)]: {
              fact: { present: false, at: at + 9000, sequencer: '09', size: 1, etag: 'e9' },
            },
          },
          gc: newestPartition(ROOT),
          gn: newestSortKey(walFileName(1, 9, SEGMENT_SIZE), at + 9000),
        },
      }),
    );
    await foldEvents(deps, [
      { id: 'r', event: { key: segmentKey(1, 3), type: 'removed', at: at + 10_000, sequencer: '10' } },
    ]);
    expect((await getClusterStateWithParts(deps.db, deps.table, ROOT))?.state.newest).toEqual({
      timeline: 1,
      segno: 2,
      at: at + 2000,
    });
  });

  it('reports the removal of a needed segment as wal-deleted', async () => {
    const deps = await createDeps();
    const at = 1_800_000_000_000;
    const events: ObjectEvent[] = [
      ...[1, 2, 3, 4].map((segno) => ({
        key: segmentKey(1, segno),
        type: 'created' as const,
        at: at + segno * 1000,
        size: 1,
        etag: `e${segno}`,
      })),
      {
        key: `${ROOT}/basebackups_005/base_000000010000000000000001_backup_stop_sentinel.json`,
        type: 'created',
        at: at + 5000,
      },
      { key: segmentKey(1, 2), type: 'removed', at: at + 6000 },
    ];
    await foldEvents(
      deps,
      events.map((event, n) => ({ id: String(n), event })),
    );
    const state = (await getClusterStateWithParts(deps.db, deps.table, ROOT))?.state as ClusterState;
    const problems = analyzeCluster(state, { now: at + 10_000 }).problems;
    expect(problems.find((problem) => problem.kind === 'wal-deleted')?.severity).toBe('critical');
  });

  it('records a second store of a segment with another ETag as wal-overwritten, whichever arrives first', async () => {
    for (const order of [
      ['a', 'b'],
      ['b', 'a'],
    ]) {
      const deps = await createDeps();
      const stores = order.map((etag) => ({
        key: segmentKey(1, 1),
        type: 'created' as const,
        at: etag === 'a' ? 1000 : 2000,
        size: 10,
        etag,
        sequencer: etag === 'a' ? '0A' : '0B',
      }));
      for (const event of stores) await foldEvents(deps, [{ id: event.etag, event }]);
      const state = (await getClusterStateWithParts(deps.db, deps.table, ROOT))?.state as ClusterState;
      expect(Object.keys(state.overwritten)).toEqual(['wal_005/000000010000000000000001.lz4']);
      expect(analyzeCluster(state, { now: 3000 }).problems.map((problem) => problem.kind)).toContain(
        'wal-overwritten',
      );
    }
  });

  it('repairs the state on redelivery after a crash between the fact write and the state write', async () => {
    const deps = await createDeps();
    const crashing = dynamo.client({ maxAttempts: 1 });
    crashing.middlewareStack.add(
      (next) => async (args) => {
        const input = args.input as { Item?: { pk?: string } };
        if (input.Item?.pk?.startsWith('c#')) throw new Error('the invocation died before the state write');
        return next(args);
      },
      { step: 'initialize', name: 'crashBeforeStateWrite' },
    );
    const event: ObjectEvent = {
      key: segmentKey(1, 7),
      type: 'created',
      at: 5,
      size: 1,
      etag: 'a',
      sequencer: '05',
    };
    const crashed = await foldEvents({ ...deps, db: crashing }, [{ id: 'm', event }]);
    expect(crashed.failures.get('m')?.message).toMatch(/died before the state write/);
    expect(await getClusterStateWithParts(deps.db, deps.table, ROOT)).toBeUndefined();

    const redelivery = await foldEvents(deps, [{ id: 'm', event, redelivered: true }]);
    expect(redelivery.counts).toMatchObject({ changed: 0, unchanged: 1, stateWrites: 1 });
    expect((await getClusterStateWithParts(deps.db, deps.table, ROOT))?.state).toEqual(
      referenceState([event]),
    );
  });

  it('rewrites only the core part for segments and only the backups part for backup objects', async () => {
    const deps = await createDeps();
    const versions = async () => {
      const read = async (pk: string) =>
        ((await deps.db.send(new GetCommand({ TableName: deps.table, Key: { pk } }))).Item?.ver as number) ??
        0;
      return { core: await read(clusterStateKey(ROOT)), backups: await read(clusterBackupsKey(ROOT)) };
    };
    const sentinel = sentinelEvent(1);
    await foldEvents(deps, [{ id: 's', event: sentinel }]);
    expect(await versions()).toEqual({ core: 1, backups: 1 });

    const segment: ObjectEvent = { key: segmentKey(1, 1), type: 'created', at: 2, size: 1, etag: 'a' };
    await foldEvents(deps, [{ id: 'g', event: segment }]);
    expect(await versions()).toEqual({ core: 2, backups: 1 });

    const part: ObjectEvent = {
      key: `${ROOT}/basebackups_005/base_000000010000000000000001/tar_partitions/part_1.tar.lz4`,
      type: 'created',
      at: 3,
      size: 1,
      etag: 'p',
    };
    await foldEvents(deps, [{ id: 'p', event: part }]);
    expect(await versions()).toEqual({ core: 2, backups: 2 });
    expect((await getClusterStateWithParts(deps.db, deps.table, ROOT))?.state).toEqual(
      referenceState([sentinel, segment, part]),
    );
  });

  it('writes nothing for duplicates and counts them as unchanged', async () => {
    const deps = await createDeps();
    const event: ObjectEvent = {
      key: segmentKey(1, 1),
      type: 'created',
      at: 1,
      size: 1,
      etag: 'a',
      sequencer: '01',
    };
    await foldEvents(deps, [{ id: 'first', event }]);
    const again = await foldEvents(deps, [
      { id: 'copy-1', event },
      { id: 'copy-2', event },
    ]);
    expect(again.counts).toMatchObject({ unchanged: 2, changed: 0, factWrites: 0, stateWrites: 0 });
  });

  it('skips keys outside any archive without touching the store', async () => {
    const deps = await createDeps();
    const result = await foldEvents(deps, [
      { id: 'x', event: { key: 'random/file.txt', type: 'created', at: 1, size: 1, etag: 'a' } },
    ]);
    expect(result.counts).toMatchObject({ outsideArchive: 1, factWrites: 0, stateWrites: 0 });
  });
});

describe('backup parts in items of their own', () => {
  const partKey = (backup: number, part: string) =>
    `${ROOT}/basebackups_005/base_00000001000000000000000${backup}/tar_partitions/part_${part}.tar.lz4`;

  /** Parts with long random names: about 40 bytes each even compressed, like none real but the worst. */
  function bigState(backups: number, partsEach: number): ClusterState {
    const random = createRandom(7);
    const state = createClusterState(ROOT, SEGMENT_SIZE);
    for (let b = 1; b <= backups; b++) {
      const parts: Record<string, number> = {};
      for (let i = 0; i < partsEach; i++)
        parts[
          `tar_partitions/part_${random().toString(36).slice(2)}${random().toString(36).slice(2)}.tar.lz4`
        ] = 1_800_000_000_000 + Math.floor(random() * 1e9);
      state.backups[`base_00000001000000000000000${b}`] = { sentinel: null, metadata: null, parts };
    }
    return state;
  }

  const itemBytes = async (deps: FoldDependencies, pk: string): Promise<number> => {
    const { Item } = await deps.db.send(new GetCommand({ TableName: deps.table, Key: { pk } }));
    return (Item?.state as Uint8Array | undefined)?.byteLength ?? 0;
  };

  it('stores retained backups whose parts together exceed one item, each backup in its own parts item', async () => {
    const deps = await createDeps();
    const state = bigState(6, 3_200);
    // All parts in one item would not fit: that is what the split is for.
    expect(encodeClusterState(state).byteLength).toBeGreaterThan(MAX_STATE_BYTES);
    expect(await putClusterState(deps.db, deps.table, state, 0)).toBe('written');
    expect(await itemBytes(deps, clusterBackupsKey(ROOT))).toBeLessThan(4_000);
    const stored = await getClusterState(deps.db, deps.table, ROOT);
    expect(stored?.state.backups.base_000000010000000000000003?.partsSummary?.count).toBe(3_200);
    expect((await getClusterStateWithParts(deps.db, deps.table, ROOT))?.state).toEqual(state);

    // A new part of one backup and a removed part of another: only their parts items are read and written.
    const [removedPart] = Object.keys(state.backups.base_000000010000000000000005?.parts ?? {});
    const before = await itemBytes(deps, backupPartsKey(ROOT, 'base_000000010000000000000001'));
    const result = await foldEvents(deps, [
      {
        id: 'a',
        event: { key: partKey(3, 'new'), type: 'created', at: 1_900_000_000_000, size: 1, etag: 'n' },
      },
      {
        id: 'b',
        event: {
          key: `${ROOT}/basebackups_005/base_000000010000000000000005/${removedPart}`,
          type: 'removed',
          at: 1_900_000_000_001,
        },
      },
    ]);
    expect(result.failures.size).toBe(0);
    const after = (await getClusterStateWithParts(deps.db, deps.table, ROOT))?.state;
    expect(Object.keys(after?.backups.base_000000010000000000000003?.parts ?? {})).toHaveLength(3_201);
    expect(after?.backups.base_000000010000000000000003?.parts['tar_partitions/part_new.tar.lz4']).toBe(
      1_900_000_000_000,
    );
    expect(Object.keys(after?.backups.base_000000010000000000000005?.parts ?? {})).toHaveLength(3_199);
    expect(await itemBytes(deps, backupPartsKey(ROOT, 'base_000000010000000000000001'))).toBe(before);
    const summary = (await getClusterState(deps.db, deps.table, ROOT))?.state.backups;
    expect(summary?.base_000000010000000000000003?.partsSummary).toEqual({
      count: 3_201,
      newestAt: 1_900_000_000_000,
    });
  });

  it('moves parts stored inline in the backups item into parts items on the next backup change', async () => {
    const deps = await createDeps();
    const events: ObjectEvent[] = [
      { key: partKey(1, '1'), type: 'created', at: 1_800_000_000_000, size: 1, etag: 'p1' },
      { key: partKey(1, '2'), type: 'created', at: 1_800_000_001_000, size: 1, etag: 'p2' },
    ];
    await foldEvents(
      deps,
      events.map((event, n) => ({ id: String(n), event })),
    );
    const legacy = referenceState(events) as ClusterState;
    // The backups item as it was stored before parts had items of their own: parts inline, no summary.
    await deps.db.send(
      new PutCommand({
        TableName: deps.table,
        Item: {
          pk: clusterBackupsKey(ROOT),
          ver: 7,
          state: gzipSync(JSON.stringify({ id: ROOT, segmentSize: SEGMENT_SIZE, backups: legacy.backups })),
        },
      }),
    );
    await deleteParts(deps, 'base_000000010000000000000001');
    const sentinel = sentinelEvent(1_800_000_002_000);
    expect((await foldEvents(deps, [{ id: 's', event: sentinel }])).failures.size).toBe(0);
    const stored = await getClusterState(deps.db, deps.table, ROOT);
    expect(stored?.state.backups.base_000000010000000000000001).toMatchObject({
      parts: {},
      partsSummary: { count: 2, newestAt: 1_800_000_001_000 },
    });
    expect((await getClusterStateWithParts(deps.db, deps.table, ROOT))?.state).toEqual(
      referenceState([...events, sentinel]),
    );
  });

  it('refuses a summary that counts parts no parts item holds', async () => {
    const deps = await createDeps();
    await foldEvents(deps, [
      {
        id: 'p',
        event: { key: partKey(2, '1'), type: 'created', at: 1_800_000_000_000, size: 1, etag: 'p' },
      },
    ]);
    await deleteParts(deps, 'base_000000010000000000000002');
    await expect(getClusterStateWithParts(deps.db, deps.table, ROOT)).rejects.toBeInstanceOf(
      InconsistentStateError,
    );
  });
});

describe('putClusterState', () => {
  it('refuses a state that would not fit in an item, instead of cutting it', async () => {
    const deps = await createDeps();
    const random = createRandom(1);
    const parts: Record<string, number> = {};
    for (let i = 0; i < 40_000; i++)
      parts[`part_${random().toString(36).slice(2)}${random().toString(36)}`] = i;
    const state = referenceState([]) ?? {
      ...createClusterState(ROOT, SEGMENT_SIZE),
      backups: { base_000000010000000000000001: { sentinel: null, metadata: null, parts } },
    };
    await expect(putClusterState(deps.db, deps.table, state, 0)).rejects.toBeInstanceOf(StateTooLargeError);
  });
});

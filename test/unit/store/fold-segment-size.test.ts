/**
 * foldEvents against dynalite on a 64 MiB cluster with no size configured: the state is counted under the
 * assumed 16 MiB until a backup history file or sentinel arrives, then re-counted, whatever the order.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildClusterStates, type ClusterState } from '../../../shared/core/state.js';
import { getClusterStateWithParts } from '../../../shared/store/cluster-states.js';
import { type FoldDependencies, foldEvents } from '../../../shared/store/fold-events.js';
import { contentLookup, type GeneratedObject } from '../../support/archive-generator.js';
import { type LocalDynamo, startDynalite } from '../../support/dynalite.js';
import {
  firstEvidenceAt,
  presentAfter,
  type ShuffledArchive,
  shuffledArchive,
} from '../../support/size-detection-archive.js';

const MIB = 1024 * 1024;

let dynamo: LocalDynamo;
let tables = 0;

beforeAll(async () => {
  dynamo = await startDynalite();
});
afterAll(async () => {
  await dynamo?.stop();
});

async function createDeps(archive: ShuffledArchive): Promise<FoldDependencies> {
  const bodies = new Map(archive.objects.map((object) => [object.key, object.content]));
  return {
    db: dynamo.db,
    table: await dynamo.createTable(`size-${tables++}`),
    segmentSizeOf: () => 'auto',
    readDocument: async (key) => {
      const text = bodies.get(key);
      return text === undefined ? { error: 'not a document' } : { text };
    },
  };
}

function listed(objects: readonly GeneratedObject[], setting: number | 'auto'): ClusterState | undefined {
  return [...buildClusterStates(objects, contentLookup(objects), () => setting).values()][0];
}

/** The parts of a state a listing can know (removals and overwrites are only seen by events). */
function listable(state: ClusterState | undefined): unknown {
  if (!state) return undefined;
  const { deleted: _deleted, overwritten: _overwritten, ...rest } = state;
  return rest;
}

async function fold(
  deps: FoldDependencies,
  archive: ShuffledArchive,
  from: number,
  to: number,
  workers: number,
) {
  const events = archive.events.slice(from, to);
  const slices = Array.from({ length: Math.ceil(events.length / 6) }, (_, i) =>
    events.slice(i * 6, i * 6 + 6),
  );
  await Promise.all(
    Array.from({ length: workers }, async (_, worker) => {
      for (let i = worker; i < slices.length; i += workers) {
        const result = await foldEvents(
          deps,
          (slices[i] ?? []).map(({ event }, n) => ({ id: `${from}-${i}-${n}`, event })),
        );
        expect([...result.failures.values()]).toEqual([]);
      }
    }),
  );
}

async function expectListingEquals(deps: FoldDependencies, archive: ShuffledArchive, count: number) {
  const present = presentAfter(archive, count);
  const stored = (await getClusterStateWithParts(deps.db, deps.table, archive.spec.clusterId))?.state;
  const expected = listed(present, 'auto');
  if (!expected) {
    expect(stored?.segments ?? {}).toEqual({});
    return;
  }
  expect(listable(stored)).toEqual(listable(expected));
  if (expected.segmentSizeSource !== 'assumed') {
    expect(stored?.segmentSize).toBe(64 * MIB);
    const right = listed(present, 64 * MIB);
    expect({ ...(listable(stored) as object), segmentSizeSource: 'configured' }).toEqual(listable(right));
  }
}

describe('foldEvents with the segment size detected', () => {
  it('equals a full listing with the right size before and after the first size evidence, in any order', async () => {
    await fc.assert(
      fc.asyncProperty(shuffledArchive, async (archive) => {
        const deps = await createDeps(archive);
        const evidenceAt = firstEvidenceAt(archive);
        const before = evidenceAt === -1 ? archive.events.length : evidenceAt;
        await fold(deps, archive, 0, before, 1);
        await expectListingEquals(deps, archive, before);
        await fold(deps, archive, before, archive.events.length, 3);
        await expectListingEquals(deps, archive, archive.events.length);
      }),
      { numRuns: 5 },
    );
  }, 300_000);
});

describe('foldEvents with an uncompressed archive', () => {
  it('takes 64 MiB from uncompressed segment objects of that size, in any order, with no wrong-size defect', async () => {
    await fc.assert(
      fc.asyncProperty(shuffledArchive, async (drawn) => {
        // The WAL only, every segment stored uncompressed at exactly 64 MiB.
        const objects = drawn.objects
          .filter((object) => /\/wal_005\/[0-9A-F]{24}\.lz4$/.test(object.key))
          .map((object) => ({ ...object, key: object.key.slice(0, -'.lz4'.length), size: 64 * MIB }));
        const archive: ShuffledArchive = {
          ...drawn,
          objects,
          events: drawn.events.flatMap(({ event, object }) => {
            const plain = objects.find((entry) => `${entry.key}.lz4` === event.key);
            if (!plain) return [];
            return [{ event: { ...event, key: plain.key, size: 64 * MIB }, object }];
          }),
        };
        if (archive.events.length === 0) return;
        const deps = await createDeps(archive);
        await fold(deps, archive, 0, archive.events.length, 3);
        const stored = (await getClusterStateWithParts(deps.db, deps.table, drawn.spec.clusterId))?.state;
        const present = archive.events.some(({ event }) => event.type === 'created');
        if (!present || Object.keys(stored?.segments ?? {}).length === 0) return;
        expect(stored).toMatchObject({ segmentSize: 64 * MIB, segmentSizeSource: 'object-size' });
        expect(Object.values(stored?.defects ?? {})).toEqual([]);
      }),
      { numRuns: 4 },
    );
  }, 300_000);
});

/**
 * A store left by a release that keyed segment items by timeline and segment number: the first fold of a
 * cluster moves them to their WAL-file-name keys, concurrent folds and migrations included, and the state
 * then equals a store that never had the old layout.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getClusterStateWithParts } from '../../../shared/store/cluster-states.js';
import { type FoldDependencies, foldEvents } from '../../../shared/store/fold-events.js';
import { migrateSegmentItems } from '../../../shared/store/migrate-segment-items.js';
import { type GeneratedObject, generateArchive } from '../../support/archive-generator.js';
import { type LocalDynamo, startDynalite } from '../../support/dynalite.js';
import { rewriteToOldLayout, scanItems } from '../../support/old-segment-items.js';

const MIB = 1024 * 1024;
const CLUSTER = 'spilo/old/wal/15';

let dynamo: LocalDynamo;
let tables = 0;

beforeAll(async () => {
  dynamo = await startDynalite();
});
afterAll(async () => {
  await dynamo?.stop();
});

// Segments 250 … 289 of 16 MiB: names past xlogid 0 spell other keys in the two layouts.
const objects = generateArchive({
  clusterId: CLUSTER,
  segmentSize: 16 * MIB,
  segments: 40,
  firstSegno: 250,
  switches: [20],
  backups: [2, 25],
});
const walOf = (object: GeneratedObject) => /\/wal_005\/[0-9A-F]{24}/.test(object.key);
const before = objects.filter((object, index) => !walOf(object) || index < objects.length - 12);
const after = objects.filter((object) => !before.includes(object));

async function createDeps(): Promise<FoldDependencies> {
  const bodies = new Map(objects.map((object) => [object.key, object.content]));
  return {
    db: dynamo.db,
    table: await dynamo.createTable(`migrate-${tables++}`),
    segmentSizeOf: () => 'auto',
    readDocument: async (key) => {
      const text = bodies.get(key);
      return text === undefined ? { error: 'not a document' } : { text };
    },
  };
}

async function foldObjects(deps: FoldDependencies, list: readonly GeneratedObject[], prefix: string) {
  for (let start = 0; start < list.length; start += 10) {
    const result = await foldEvents(
      deps,
      list.slice(start, start + 10).map((object, n) => ({
        id: `${prefix}-${start + n}`,
        event: { key: object.key, type: 'created', at: object.at, size: object.size ?? null, etag: null },
      })),
    );
    expect([...result.failures.values()]).toEqual([]);
  }
}

const stateOf = async (deps: FoldDependencies) =>
  (await getClusterStateWithParts(deps.db, deps.table, CLUSTER))?.state;
const segmentPks = async (deps: FoldDependencies) =>
  (await scanItems(deps.db, deps.table))
    .map((item) => String(item.pk))
    .filter((pk) => pk.startsWith('s#'))
    .sort();

describe('migrateSegmentItems', () => {
  let fresh: FoldDependencies;
  beforeAll(async () => {
    fresh = await createDeps();
    await foldObjects(fresh, objects, 'fresh');
  });

  it('moves old-layout items on the first fold, and the state equals one that never had them', async () => {
    const deps = await createDeps();
    await foldObjects(deps, before, 'before');
    expect(await rewriteToOldLayout(deps.db, deps.table, 16 * MIB)).toBeGreaterThan(0);
    expect(await segmentPks(deps)).not.toEqual(await segmentPks(fresh));
    await foldObjects(deps, after, 'after');
    expect(await segmentPks(deps)).toEqual(await segmentPks(fresh));
    expect(await stateOf(deps)).toEqual(await stateOf(fresh));
    expect(await migrateSegmentItems(deps.db, deps.table, CLUSTER)).toEqual({ moved: 0 });
  });

  it('is safe with migrations and folds running at once', async () => {
    const deps = await createDeps();
    await foldObjects(deps, before, 'before');
    await rewriteToOldLayout(deps.db, deps.table, 16 * MIB);
    const halves = [after.slice(0, 6), after.slice(6)];
    const results = await Promise.all([
      migrateSegmentItems(deps.db, deps.table, CLUSTER),
      migrateSegmentItems(deps.db, deps.table, CLUSTER),
      foldObjects(deps, halves[0] ?? [], 'a'),
      foldObjects(deps, halves[1] ?? [], 'b'),
    ]);
    expect(results.slice(0, 2)).toEqual([
      expect.objectContaining({ moved: expect.any(Number) }),
      expect.objectContaining({ moved: expect.any(Number) }),
    ]);
    expect(await segmentPks(deps)).toEqual(await segmentPks(fresh));
    expect(await stateOf(deps)).toEqual(await stateOf(fresh));
    expect(await migrateSegmentItems(deps.db, deps.table, CLUSTER)).toEqual({ moved: 0 });
  });
});

/**
 * Reconciliation: lists only what the stored state cannot know and feeds it through the same fold as
 * events, so missed notifications heal and an existing bucket is adopted without replaying history.
 *
 * - A cluster with a state is listed from its head onwards: `wal_005/` after its highest segment (which
 *   also lists `.partial`s and histories of newer timelines, and the head segment itself again, harmlessly)
 *   and `basebackups_005/` after its newest backup name (backup names grow with their start segment, and
 *   a backup's parts and sentinel sort after its name).
 * - A configured archive root without a state, or every root on `full`, is listed entirely; with no state
 *   at all and no configured roots, the whole bucket is (first adoption).
 *
 * Listing observations carry no sequencer; the gate orders them by time and keeps the earliest stored-at
 * for the same content, so reconciling while events flow changes nothing that events already got right.
 * What a listing from the head cannot see is a removal below the head. A `full` run also compares the
 * listing with each state and folds a removal for every object the state holds as present that the listing
 * did not return and that was stored well before the listing began (`findMissedRemovals`).
 */
import type { S3Client } from '@aws-sdk/client-s3';
import type { ObjectEvent } from '../core/facts.js';
import { parseObjectKey } from '../core/keys.js';
import { walFileName } from '../core/lsn.js';
import type { ClusterState } from '../core/state.js';
import { getClusterState, listClusterIds, loadBackupParts } from '../store/cluster-states.js';
import { getFactItems } from '../store/fact-items.js';
import type { FoldCounts, FoldDependencies } from '../store/fold-events.js';
import { objectFactKey, segmentFactKey } from '../store/table.js';
import { FoldBatches } from './fold-batches.js';
import { listObjectsAfter } from './s3-objects.js';

/** What reconciling needs besides the fold's dependencies. */
export interface ReconcileDependencies extends FoldDependencies {
  readonly s3: S3Client;
  readonly bucket: string;
}

/** Options of one run. */
export interface ReconcileOptions {
  /** Archive roots to adopt even if no event named them yet (without trailing `/`). */
  readonly roots?: readonly string[];
  /** List every root entirely, not from its head. */
  readonly full?: boolean;
  /**
   * On `full` runs, only objects stored this long before the listing began count as removed when it misses
   * them, so uploads racing the listing and clock differences between S3 and this function are harmless.
   * @default 5 minutes
   */
  readonly removalMarginMs?: number;
  /** Events folded per batch (one state write per cluster per batch). @default 1000 */
  readonly batchSize?: number;
}

/** One listing performed. */
export interface ReconcileListing {
  readonly prefix: string;
  readonly startAfter: string | null;
  readonly listed: number;
}

/** What a run did. */
export interface ReconcileReport {
  readonly listings: readonly ReconcileListing[];
  readonly counts: FoldCounts;
  /** Objects whose fold failed (the next run retries them). */
  readonly failed: number;
  /** Removals a full run found: objects the state held as present that the listing no longer returned. */
  readonly removed: number;
}

/**
 * Reconciles the store with the bucket.
 *
 * @example
 * const report = await reconcileArchive(deps, { roots: ['spilo/superman/wal/15'] });
 */
export async function reconcileArchive(
  deps: ReconcileDependencies,
  options: ReconcileOptions = {},
): Promise<ReconcileReport> {
  const roots = options.roots ?? [];
  const known = await listClusterIds(deps.db, deps.table);
  const plans: Array<{ prefix: string; startAfter: string | null }> = [];
  if (roots.length === 0 && (known.length === 0 || options.full)) {
    plans.push({ prefix: '', startAfter: null });
  } else {
    for (const root of new Set([...roots, ...known])) {
      const stored = options.full ? undefined : await getClusterState(deps.db, deps.table, root);
      plans.push(...listingsOf(root, stored?.state));
    }
  }

  const listings: ReconcileListing[] = [];
  const folds = new FoldBatches(deps, options.batchSize ?? 1000);
  let removed = 0;
  const margin = options.removalMarginMs ?? DEFAULT_REMOVAL_MARGIN_MS;
  for (const plan of plans) {
    let listed = 0;
    const startedAt = Date.now();
    const seen = options.full ? new ListedObjects() : undefined;
    for await (const event of listObjectsAfter(
      deps.s3,
      deps.bucket,
      plan.prefix,
      plan.startAfter ?? undefined,
    )) {
      listed += 1;
      seen?.add(event.key);
      await folds.add(event);
    }
    await folds.flush();
    if (seen) {
      const removals = await findMissedRemovals(deps, plan.prefix, seen, startedAt - margin, startedAt);
      removed += removals.length;
      await folds.foldAll(removals);
    }
    listings.push({ ...plan, listed });
  }
  return { listings, counts: folds.counts, failed: folds.failed, removed };
}

const DEFAULT_REMOVAL_MARGIN_MS = 5 * 60_000;

/** The keys of one full listing, with segments also by cluster and WAL file name. */
class ListedObjects {
  readonly keys = new Set<string>();
  readonly segments = new Set<string>();

  add(key: string): void {
    this.keys.add(key);
    const parsed = parseObjectKey(key);
    if (parsed?.object.kind !== 'segment') return;
    this.segments.add(`${parsed.clusterId}\n${parsed.object.walFile}`);
  }
}

/**
 * Removal events for objects a cluster's state holds as present that a full listing did not return,
 * stored before `cutoff` (so nothing uploaded while the listing ran is mistaken for removed). They heal
 * missed `ObjectRemoved` events; a removed needed segment then shows as `wal-deleted`, as with events.
 */
async function findMissedRemovals(
  deps: FoldDependencies,
  prefix: string,
  listed: ListedObjects,
  cutoff: number,
  at: number,
): Promise<ObjectEvent[]> {
  const removals: ObjectEvent[] = [];
  const clusters = (await listClusterIds(deps.db, deps.table)).filter((id) => `${id}/`.startsWith(prefix));
  for (const clusterId of clusters) {
    const state = (await getClusterState(deps.db, deps.table, clusterId))?.state;
    if (!state) continue;
    // Part names live in each backup's parts item: load those with parts, to look for each one.
    const withParts = Object.entries(state.backups)
      .filter(([, entry]) => (entry.partsSummary?.count ?? 0) > 0)
      .map(([name]) => name);
    await loadBackupParts(deps.db, deps.table, state, withParts);
    const pks: string[] = [];
    for (const [timeline, runs] of Object.entries(state.segments)) {
      for (const [first, last] of runs) {
        for (let segno = first; segno <= last; segno++) {
          const walFile = walFileName(Number(timeline), segno, state.segmentSize);
          if (!listed.segments.has(`${clusterId}\n${walFile}`)) pks.push(segmentFactKey(clusterId, walFile));
        }
      }
    }
    const base = clusterId === '' ? '' : `${clusterId}/`;
    // Names impossible with the cluster's segment size are segment items too, by name.
    for (const relativeKey of Object.keys(state.outOfRange)) {
      if (!listed.keys.has(`${base}${relativeKey}`)) {
        pks.push(segmentFactKey(clusterId, relativeKey.slice('wal_005/'.length, 'wal_005/'.length + 24)));
      }
    }
    for (const relativeKey of documentKeysOf(state)) {
      if (!listed.keys.has(`${base}${relativeKey}`)) pks.push(objectFactKey(`${base}${relativeKey}`));
    }
    for (const item of (await getFactItems(deps.db, deps.table, pks)).values()) {
      for (const [key, stored] of Object.entries(item.facts)) {
        if (stored.fact.present && stored.fact.at < cutoff && !listed.keys.has(key)) {
          removals.push({ key, type: 'removed', at: Math.max(at, stored.fact.at + 1), sequencer: null });
        }
      }
    }
  }
  return removals;
}

/**
 * Removal events for every object the store holds as present that `present` — every key of the archive,
 * listed in full — lacks. For an archive with no other writer than that listing's (the local monitor's
 * folder), so nothing stored meanwhile can be mistaken for removed.
 */
export async function findRemovedObjects(
  deps: FoldDependencies,
  present: Iterable<string>,
  at: number,
): Promise<ObjectEvent[]> {
  const listed = new ListedObjects();
  for (const key of present) listed.add(key);
  return findMissedRemovals(deps, '', listed, Number.POSITIVE_INFINITY, at);
}

/** Relative keys of every non-segment object the state holds as present. */
function documentKeysOf(state: ClusterState): string[] {
  const keys = [
    ...Object.keys(state.histories),
    ...Object.keys(state.partials),
    ...Object.keys(state.unknown),
    ...Object.keys(state.backupLabels ?? {}),
  ];
  for (const [name, backup] of Object.entries(state.backups)) {
    if (backup.sentinel) keys.push(`basebackups_005/${name}_backup_stop_sentinel.json`);
    if (backup.metadata) keys.push(`basebackups_005/${name}/metadata.json`);
    for (const part of Object.keys(backup.parts)) keys.push(`basebackups_005/${name}/${part}`);
  }
  return keys;
}

/** The listings that cover what a cluster's state cannot know. */
function listingsOf(
  root: string,
  state: ClusterState | undefined,
): Array<{ prefix: string; startAfter: string | null }> {
  const base = root === '' ? '' : `${root}/`;
  if (!state) return [{ prefix: base, startAfter: null }];
  const wal = `${base}wal_005/`;
  const backups = `${base}basebackups_005/`;
  const head = headSegment(state);
  const newestBackup = Object.keys(state.backups).sort().at(-1);
  return [
    { prefix: wal, startAfter: head ? `${wal}${head}` : null },
    { prefix: backups, startAfter: newestBackup ? `${backups}${newestBackup}` : null },
  ];
}

/** The WAL file name of the highest present segment (highest timeline, then segno). */
function headSegment(state: ClusterState): string | undefined {
  let best: { timeline: number; segno: number } | undefined;
  for (const [timeline, runs] of Object.entries(state.segments)) {
    const last = runs.at(-1);
    if (!last) continue;
    const candidate = { timeline: Number(timeline), segno: last[1] };
    if (!best || candidate.timeline > best.timeline) best = candidate;
  }
  return best ? walFileName(best.timeline, best.segno, state.segmentSize) : undefined;
}

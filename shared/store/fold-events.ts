/**
 * Folds object events into the DynamoDB store: the durable twin of `MemoryArchive`, and what both the
 * ingest Lambda and the reconcile job call.
 *
 * Protocol (no transactions needed):
 * 1. **Fact write.** Events are grouped by fact item (one per object key; one per segment for all its
 *    compression variants). Each item is read, every event passes the core's gate `decideKeyFact`, documents
 *    whose current version changed are read from S3, and the item is written conditional on its version.
 *    A conflict re-reads and re-decides. Duplicates and stale events leave the item untouched.
 * 2. **State write.** Per cluster, once per batch: read the state, then (after it) the facts of every touched
 *    key and the segments `refreshSegment` / `applyObjectChange` read, re-derive the touched parts of the
 *    state from those facts, and write it conditional on its version. A conflict redoes the whole step,
 *    reads included, so no step ever combines a newer state with older facts. The state has two parts
 *    (backups, the rest), each with its own version; a part's write is skipped only when it is unchanged
 *    and the fold wrote no fact feeding it (and is no redelivery): a fold that wrote a fact always moves
 *    that part's version, so a concurrent writer that read the facts before it cannot win.
 *
 * Step 2 runs for every event, also when its fact did not change. That is what makes a crash between the
 * two writes harmless: SQS redelivers the message, the gate finds the fact already written and changes
 * nothing, and step 2 re-derives the state from it. No pending marker is needed because the state is a
 * function of the facts, and re-deriving an unchanged part writes nothing. The one exception is the
 * count of unknown keys beyond `UNKNOWN_KEYS_KEPT`, a counter bumped only when the key's fact changed: a
 * crash between the two writes can leave one such key uncounted (a count, never a wrong verdict).
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { parseBackupLabel } from '../core/backup-label.js';
import { decideKeyFact, type ObjectEvent } from '../core/facts.js';
import { parseHistory } from '../core/history.js';
import { type Compression, type ParsedKey, parseObjectKey } from '../core/keys.js';
import { DEFAULT_SEGMENT_SIZE, parseWalFileName, walFileName } from '../core/lsn.js';
import type { DocumentContent } from '../core/memory-archive.js';
import type { SegmentObject } from '../core/object-size.js';
import { detectSegmentSize, type SegmentSizeSetting } from '../core/segment-size.js';
import { parseBackupMetadata, parseSentinel } from '../core/sentinel.js';
import {
  applyObjectChange,
  type ClusterState,
  changeSegmentSize,
  createClusterState,
  isNewer,
  needsContent,
  needsNewestLookup,
  type ObjectPresence,
  objectChangeLookups,
  parseSegmentKey,
  refreshSegment,
  type SegmentPresence,
  type SegmentTime,
  type SizeChangeLookup,
  segmentKey,
  segmentsToLookUp,
  sizeChangeLookups,
  UNKNOWN_KEYS_KEPT,
} from '../core/state.js';
import type { HeaderSizeRead } from '../sources/read-segment-summary.js';
import {
  getClusterState,
  loadBackupParts,
  putClusterStateParts,
  storedBackupEntry,
} from './cluster-states.js';
import { ConflictRetriesExhaustedError } from './errors.js';
import { type FactItem, getFactItems, putFactItem, type StoredFact } from './fact-items.js';
import { migrateSegmentItems } from './migrate-segment-items.js';
import { queryNewestSegments } from './newest-segments.js';
import {
  isStorableClusterId,
  MAX_CLUSTER_ID_BYTES,
  newestPartition,
  newestSortKey,
  objectFactKey,
  segmentFactKey,
} from './table.js';

/** What folding needs from outside: the table, the cluster configuration and a document reader. */
export interface FoldDependencies {
  readonly db: DynamoDBDocumentClient;
  readonly table: string;
  /** Each cluster's segment size, or `auto` to learn it from the archive (`segment-size.ts`). */
  readonly segmentSizeOf: (clusterId: string) => SegmentSizeSetting;
  /** Reads a document's current body from the bucket, decompressed; throws only when worth retrying. */
  readonly readDocument: (key: string, compression: Compression) => Promise<DocumentContent>;
  /**
   * Reads the segment size from the long page header of a segment object (its first bytes only). Called
   * for one segment of a cluster whose state holds no page-header answer yet, so once per cluster.
   * @default - page headers are not read: a cluster with only WAL keeps an assumed size until a backup
   */
  readonly readSegmentHeader?: (key: string) => Promise<HeaderSizeRead>;
  /** Attempts of one optimistic update before giving up. @default 30 */
  readonly maxConflictAttempts?: number;
}

/** An event and the id of the message that carried it (several events may share one). */
export interface FoldInput {
  readonly id: string;
  readonly event: ObjectEvent;
  /** Delivered before (SQS receive count above 1): its fold may have crashed between the two writes. */
  readonly redelivered?: boolean;
}

/** Counters of one fold, for metrics and the benchmark. */
export interface FoldCounts {
  /** Events whose key lies under no archive root. */
  outsideArchive: number;
  /** Events of a cluster whose id is too long for the table (`MAX_CLUSTER_ID_BYTES`): skipped. */
  unstorableKeys: number;
  /** Events that changed their key's fact. */
  changed: number;
  /** Events the gate found stale or duplicate. */
  unchanged: number;
  /** Stores of a key with other content than before. */
  overwrites: number;
  factWrites: number;
  factConflicts: number;
  stateWrites: number;
  stateConflicts: number;
  documentReads: number;
  /** Segment heads read for the segment size their page header gives (at most one a cluster). */
  headerReads: number;
  /** Documents read whose body could not be used (damaged, unreadable, too large, gone): reported problems. */
  unreadableDocuments: number;
  /** Documents read whose text does not parse (garbage sentinel, bad history): reported problems. */
  invalidDocuments: number;
}

/** The outcome of one fold: counters and the events that failed, by input id. */
export interface FoldResult {
  readonly counts: FoldCounts;
  readonly failures: Map<string, Error>;
  /** Inputs worth a log line that are no failure (at most `MAX_NOTES` a fold). */
  readonly notes: readonly FoldNote[];
}

/** Something a fold met that is a fact, not a failure: a key outside any archive, a bad document. */
export interface FoldNote {
  readonly kind: 'outside-archive' | 'unstorable-key' | 'unreadable-document' | 'invalid-document';
  readonly key: string;
  readonly reason: string;
}

/** How many notes a fold keeps; the counters count them all. */
export const MAX_NOTES = 20;

/** One fact item and the events aimed at it. */
interface FactGroup {
  readonly pk: string;
  readonly clusterId: string;
  /** Set for items of segments: the WAL file name all their keys share. */
  readonly segment: { readonly walFile: string } | null;
  readonly keys: Map<string, ParsedKey>;
  readonly inputs: FoldInput[];
  /** Keys whose fact this fold changed (filled by the fact write). */
  readonly changedKeys: Set<string>;
  /** Whether this fold changed a fact of the item or recorded an overwrite (filled by the fact write). */
  written: boolean;
}

const DEFAULT_CONFLICT_ATTEMPTS = 30;
const FACT_WRITE_CONCURRENCY = 16;
const NEWEST_CANDIDATES = 10;
/** Object kinds whose re-store with other content is a problem (`wal-overwritten`). */
const WATCHED_KINDS = new Set(['segment', 'history', 'partial']);

/** Fold counters all at zero. */
export function emptyFoldCounts(): FoldCounts {
  return {
    outsideArchive: 0,
    unstorableKeys: 0,
    changed: 0,
    unchanged: 0,
    overwrites: 0,
    factWrites: 0,
    factConflicts: 0,
    stateWrites: 0,
    stateConflicts: 0,
    documentReads: 0,
    headerReads: 0,
    unreadableDocuments: 0,
    invalidDocuments: 0,
  };
}

/**
 * Folds a batch of events into the store: facts first, then one state update per cluster.
 * Never throws for a single event's failure: it is reported in `failures` and the rest proceeds.
 *
 * @example
 * const { failures } = await foldEvents(deps, [{ id: record.messageId, event }]);
 */
export async function foldEvents(deps: FoldDependencies, inputs: readonly FoldInput[]): Promise<FoldResult> {
  const counts = emptyFoldCounts();
  const failures = new Map<string, Error>();
  const notes: FoldNote[] = [];
  const note = (entry: FoldNote): void => {
    if (notes.length < MAX_NOTES) notes.push(entry);
  };
  const groups = groupByFactItem(inputs, counts, note);

  const gated: FactGroup[] = [];
  const previousItems = await getFactItems(
    deps.db,
    deps.table,
    [...groups.values()].map((group) => group.pk),
  ).catch((error: Error) => {
    for (const input of inputs) failures.set(input.id, error);
    return undefined;
  });
  if (!previousItems) return { counts, failures, notes };

  await forEachLimited([...groups.values()], FACT_WRITE_CONCURRENCY, async (group) => {
    try {
      await writeFacts(deps, group, previousItems.get(group.pk), counts, note);
      gated.push(group);
    } catch (error) {
      for (const input of group.inputs) failures.set(input.id, error as Error);
    }
  });

  const byCluster = new Map<string, FactGroup[]>();
  for (const group of gated) {
    const list = byCluster.get(group.clusterId) ?? [];
    list.push(group);
    byCluster.set(group.clusterId, list);
  }
  await Promise.all(
    [...byCluster].map(async ([clusterId, clusterGroups]) => {
      try {
        await updateClusterState(deps, clusterId, clusterGroups, counts);
      } catch (error) {
        for (const group of clusterGroups)
          for (const input of group.inputs) failures.set(input.id, error as Error);
      }
    }),
  );
  return { counts, failures, notes };
}

function groupByFactItem(
  inputs: readonly FoldInput[],
  counts: FoldCounts,
  note: (entry: FoldNote) => void,
): Map<string, FactGroup> {
  const groups = new Map<string, FactGroup>();
  for (const input of inputs) {
    const parsed = parseObjectKey(input.event.key);
    if (!parsed) {
      counts.outsideArchive += 1;
      note({
        kind: 'outside-archive',
        key: input.event.key,
        reason: 'under no wal_005/ or basebackups_005/ folder',
      });
      continue;
    }
    // No item of such a cluster fits the table; folding its keys would fail the whole batch.
    if (!isStorableClusterId(parsed.clusterId)) {
      counts.unstorableKeys += 1;
      note({
        kind: 'unstorable-key',
        key: input.event.key,
        reason: `its archive root is longer than ${MAX_CLUSTER_ID_BYTES} bytes`,
      });
      continue;
    }
    const segment: FactGroup['segment'] =
      parsed.object.kind === 'segment' ? { walFile: parsed.object.walFile } : null;
    const pk = segment ? segmentFactKey(parsed.clusterId, segment.walFile) : objectFactKey(input.event.key);
    let group = groups.get(pk);
    if (!group) {
      group = {
        pk,
        clusterId: parsed.clusterId,
        segment,
        keys: new Map(),
        inputs: [],
        changedKeys: new Set(),
        written: false,
      };
      groups.set(pk, group);
    }
    group.keys.set(input.event.key, parsed);
    group.inputs.push(input);
  }
  return groups;
}

/** Step 1 for one item: gate every event, read changed documents, write conditionally; retry on conflict. */
async function writeFacts(
  deps: FoldDependencies,
  group: FactGroup,
  firstRead: FactItem | undefined,
  counts: FoldCounts,
  note: (entry: FoldNote) => void,
): Promise<void> {
  const attempts = deps.maxConflictAttempts ?? DEFAULT_CONFLICT_ATTEMPTS;
  let previous = firstRead ?? { pk: group.pk, ver: 0, facts: {} };
  for (let attempt = 1; ; attempt++) {
    const decided = decideItem(group, previous);
    if (!decided.dirty) {
      counts.unchanged += group.inputs.length;
      return;
    }
    await attachContents(deps, group, previous, decided, counts, note);
    const item: FactItem = { pk: group.pk, ver: previous.ver, facts: decided.facts };
    const outcome = await putFactItem(deps.db, deps.table, item, indexKeyOf(group, item));
    if (outcome === 'written') {
      counts.factWrites += 1;
      counts.changed += decided.changedEvents;
      counts.unchanged += group.inputs.length - decided.changedEvents;
      counts.overwrites += decided.overwrites;
      for (const key of decided.changedKeys) group.changedKeys.add(key);
      group.written = decided.changedKeys.size > 0 || decided.overwrites > 0;
      return;
    }
    counts.factConflicts += 1;
    if (attempt >= attempts) {
      throw new ConflictRetriesExhaustedError(
        `fact item ${group.pk} kept changing over ${attempts} attempts`,
      );
    }
    await backOff(attempt);
    previous = (await getFactItems(deps.db, deps.table, [group.pk])).get(group.pk) ?? {
      pk: group.pk,
      ver: 0,
      facts: {},
    };
  }
}

interface DecidedItem {
  facts: Record<string, StoredFact>;
  dirty: boolean;
  changedEvents: number;
  overwrites: number;
  /** Keys whose current version changed and is present: their document must be (re)read. */
  toRead: Set<string>;
  changedKeys: Set<string>;
}

function decideItem(group: FactGroup, previous: FactItem): DecidedItem {
  const facts: Record<string, StoredFact> = { ...previous.facts };
  const decided: DecidedItem = {
    facts,
    dirty: false,
    changedEvents: 0,
    overwrites: 0,
    toRead: new Set(),
    changedKeys: new Set(),
  };
  for (const { event } of group.inputs) {
    const parsed = group.keys.get(event.key) as ParsedKey;
    const stored = facts[event.key];
    const decision = decideKeyFact(stored?.fact, event);
    let next: StoredFact = { ...stored, fact: decision.fact };
    // A newer version that changes nothing visible (a later tombstone) still moves the gate's horizon.
    if (!sameFact(stored?.fact, decision.fact)) decided.dirty = true;
    if (decision.overwrite && WATCHED_KINDS.has(parsed.object.kind)) {
      next = {
        ...next,
        overwrite: {
          key: parsed.relativeKey,
          at: Math.max(event.at, decision.fact.at),
          previousSize: decision.overwrite.previousSize,
          size: event.size ?? null,
          previousEtag: decision.overwrite.previousEtag,
          etag: event.etag ?? null,
        },
      };
      decided.overwrites += 1;
      decided.dirty = true;
    }
    if (decision.changed) {
      decided.changedEvents += 1;
      decided.changedKeys.add(event.key);
      decided.dirty = true;
      const sameBody =
        stored?.content !== undefined && stored.fact.present && sameEtag(stored, decision.fact);
      if (decision.fact.present && needsContent(parsed.object) && !sameBody) decided.toRead.add(event.key);
      if (!decision.fact.present) {
        const { content: _dropped, ...rest } = next;
        next = rest;
        decided.toRead.delete(event.key);
      }
    }
    facts[event.key] = next;
  }
  return decided;
}

function sameFact(a: StoredFact['fact'] | undefined, b: StoredFact['fact']): boolean {
  return (
    a !== undefined &&
    a.present === b.present &&
    a.at === b.at &&
    a.sequencer === b.sequencer &&
    a.size === b.size &&
    a.etag === b.etag
  );
}

function sameEtag(stored: StoredFact, fact: StoredFact['fact']): boolean {
  return stored.fact.etag !== null && stored.fact.etag === fact.etag;
}

async function attachContents(
  deps: FoldDependencies,
  group: FactGroup,
  previous: FactItem,
  decided: DecidedItem,
  counts: FoldCounts,
  note: (entry: FoldNote) => void,
): Promise<void> {
  for (const key of decided.toRead) {
    const stored = decided.facts[key] as StoredFact;
    const earlier = previous.facts[key];
    // A conflict retry may find the document already read, by this or another writer, for the same ETag.
    if (earlier?.content && earlier.fact.present && sameEtag(earlier, stored.fact)) {
      decided.facts[key] = { ...stored, content: earlier.content };
      continue;
    }
    const object = (group.keys.get(key) as ParsedKey).object;
    const compression = 'compression' in object ? object.compression : 'none';
    counts.documentReads += 1;
    const content = await deps.readDocument(key, compression);
    if ('error' in content) {
      counts.unreadableDocuments += 1;
      note({ kind: 'unreadable-document', key, reason: content.error });
    } else {
      const invalid = documentError(object, content.text);
      if (invalid !== undefined) {
        counts.invalidDocuments += 1;
        note({ kind: 'invalid-document', key, reason: invalid });
      }
    }
    decided.facts[key] = { ...stored, content };
  }
}

/** Why a document's text does not parse (the state keeps the same verdict), for the log. */
function documentError(object: ParsedKey['object'], text: string): string | undefined {
  const parse =
    object.kind === 'sentinel'
      ? parseSentinel(text)
      : object.kind === 'backup-metadata'
        ? parseBackupMetadata(text)
        : object.kind === 'history'
          ? parseHistory(text, object.timeline)
          : object.kind === 'backup-label'
            ? parseBackupLabel(text)
            : undefined;
  return parse && !parse.ok ? parse.error : undefined;
}

/** The sparse-index attributes of a segment item: set while any variant is present. */
function indexKeyOf(group: FactGroup, item: FactItem): { gc: string; gn: string } | null | undefined {
  if (!group.segment) return undefined;
  const presence = presenceOfItem(item);
  if (!presence.present) return null;
  return {
    gc: newestPartition(group.clusterId),
    gn: newestSortKey(group.segment.walFile, presence.at),
  };
}

/**
 * Presence of a segment over its variants: present from the earliest present copy, with every present
 * copy's size (keys relative to `clusterId`) for the size check.
 */
function presenceOfItem(item: FactItem | undefined, clusterId = ''): SegmentPresence {
  if (!item) return { present: false, removed: false };
  let earliest: number | undefined;
  const objects: SegmentObject[] = [];
  const base = clusterId === '' ? 0 : clusterId.length + 1;
  for (const [key, stored] of Object.entries(item.facts)) {
    if (!stored.fact.present) continue;
    if (earliest === undefined || stored.fact.at < earliest) earliest = stored.fact.at;
    objects.push({ key: key.slice(base), size: stored.fact.size, etag: stored.fact.etag });
  }
  if (earliest !== undefined) return { present: true, at: earliest, objects };
  return { present: false, removed: Object.keys(item.facts).length > 0 };
}

/** Step 2 for one cluster: re-derive the touched parts of its state from the facts; retry on conflict. */
async function updateClusterState(
  deps: FoldDependencies,
  clusterId: string,
  groups: readonly FactGroup[],
  counts: FoldCounts,
): Promise<void> {
  const attempts = deps.maxConflictAttempts ?? DEFAULT_CONFLICT_ATTEMPTS;
  // A fold that wrote a fact must move the version of the state part that fact feeds even when its own
  // derivation changes nothing: a concurrent writer that read the facts before that write must then fail
  // its condition and re-read. The same holds for a redelivery, whose first attempt may have written facts
  // and crashed. Backup objects feed the backups part, everything else the core part.
  const moves = (group: FactGroup): boolean =>
    group.written || group.inputs.some((input) => input.redelivered);
  const mustWriteBackups = groups.some((group) => isBackupGroup(group) && moves(group));
  const mustWriteCore = groups.some((group) => !isBackupGroup(group) && moves(group));
  // Parts of these backups change in this fold (and their parts items must move when a fact was written).
  const partBackups = new Map<string, boolean>();
  for (const group of groups) {
    for (const parsed of group.keys.values()) {
      if (parsed.object.kind !== 'backup-part') continue;
      const name = parsed.object.backup.name;
      partBackups.set(name, (partBackups.get(name) ?? false) || moves(group));
    }
  }
  // One segment head a fold reads, however often a conflict redoes the step.
  let headerRead: Promise<HeaderSizeRead> | undefined;
  for (let attempt = 1; ; attempt++) {
    let stored = await getClusterState(deps.db, deps.table, clusterId);
    // A state stored by an older release may still have segment items keyed by timeline and number: move
    // them before anything reads a segment item by WAL file name.
    const migrating = stored !== undefined && stored.ver > 0 && !stored.segmentItemsMigrated;
    if (migrating) {
      await migrateSegmentItems(deps.db, deps.table, clusterId);
      stored = await getClusterState(deps.db, deps.table, clusterId);
    }
    const setting = deps.segmentSizeOf(clusterId);
    let state =
      stored?.state ??
      (setting === 'auto'
        ? createClusterState(clusterId, DEFAULT_SEGMENT_SIZE, 'assumed')
        : createClusterState(clusterId, setting, 'configured'));
    // What the backups item holds now, before parts are loaded into the state.
    const backupsStored = storedBackupsJson(state.backups);
    // Entries still carrying their parts inline (stored before parts had items of their own) move out.
    const inline = Object.keys(state.backups).filter((name) => !state.backups[name]?.partsSummary);
    const partsVersions = await loadBackupParts(deps.db, deps.table, state, [
      ...partBackups.keys(),
      ...inline,
    ]);
    const partsBefore = new Map(
      [...partsVersions].map(([name, ver]) => [
        name,
        ver === 0 ? undefined : JSON.stringify(state.backups[name]?.parts ?? {}),
      ]),
    );
    const { backups: _backups, ...coreBefore } = state;
    const before = { core: JSON.stringify(coreBefore), backups: backupsStored };
    await rederive(deps, state, groups);
    const headKey = deps.readSegmentHeader ? segmentHeadToRead(state, groups) : undefined;
    if (headKey !== undefined && deps.readSegmentHeader) {
      if (!headerRead) {
        counts.headerReads += 1;
        headerRead = deps.readSegmentHeader(headKey);
      }
      const read = await headerRead;
      if (read.header) state.headerSegmentSize = read.header;
      else if (!read.passing) state.headerSizeError = { walFile: walFileOfKey(headKey), error: read.error };
    }
    state = await redetectSegmentSize(deps, state, setting);
    const { backups: backupsAfter, ...coreAfter } = state;
    const ver = stored?.ver ?? 0;
    const backupsVer = stored?.backupsVer ?? 0;
    const parts = new Map<string, number>();
    for (const [name, partsVer] of partsVersions) {
      const after = state.backups[name] ? JSON.stringify(state.backups[name].parts) : undefined;
      const changed = after !== partsBefore.get(name) && !(after === '{}' && partsVer === 0);
      if (changed || partBackups.get(name)) parts.set(name, partsVer);
    }
    // The core part always exists once a cluster has a state: listing clusters and readers rely on it.
    const writeCore =
      mustWriteCore ||
      ver === 0 ||
      !stored?.segmentItemsMigrated ||
      JSON.stringify(coreAfter) !== before.core;
    const writeBackups =
      mustWriteBackups ||
      inline.length > 0 ||
      parts.size > 0 ||
      storedBackupsJson(backupsAfter) !== before.backups;
    if (!writeCore && !writeBackups) return;
    const outcome = await putClusterStateParts(deps.db, deps.table, state, {
      ...(writeCore ? { core: ver, segmentItemsMigrated: true } : {}),
      ...(writeBackups ? { backups: backupsVer, parts } : {}),
    });
    if (outcome === 'written') {
      counts.stateWrites += 1;
      return;
    }
    counts.stateConflicts += 1;
    if (attempt >= attempts) {
      throw new ConflictRetriesExhaustedError(
        `state of cluster ${JSON.stringify(clusterId)} kept changing over ${attempts} attempts`,
      );
    }
    await backOff(attempt);
  }
}

/**
 * A segment key of this fold whose page header would tell the cluster's segment size, when the state holds
 * no answer from a page header yet: the first segment stored in the fold.
 */
function segmentHeadToRead(state: ClusterState, groups: readonly FactGroup[]): string | undefined {
  if (state.headerSegmentSize || state.headerSizeError) return undefined;
  for (const group of groups) {
    if (!group.segment) continue;
    const input = group.inputs.find(({ event }) => event.type === 'created');
    if (input) return input.event.key;
  }
  return undefined;
}

/** The WAL file name (24 hex) of a segment key. */
function walFileOfKey(key: string): string {
  const parsed = parseObjectKey(key);
  return parsed?.object.kind === 'segment' ? parsed.object.walFile : key;
}

/** The backups as their item stores them (parts summarized), to tell whether the item changes. */
function storedBackupsJson(backups: ClusterState['backups']): string {
  const stored: Record<string, unknown> = {};
  for (const [name, entry] of Object.entries(backups)) stored[name] = storedBackupEntry(entry);
  return JSON.stringify(stored);
}

/** Whether a group's objects feed the backups part of the state. */
function isBackupGroup(group: FactGroup): boolean {
  for (const parsed of group.keys.values()) {
    const kind = parsed.object.kind;
    return kind === 'sentinel' || kind === 'backup-metadata' || kind === 'backup-part';
  }
  return false;
}

async function rederive(
  deps: FoldDependencies,
  state: ClusterState,
  groups: readonly FactGroup[],
): Promise<void> {
  const size = state.segmentSize;
  const pkOf = (timeline: number, segno: number): string =>
    segmentFactKey(state.id, walFileName(timeline, segno, size));
  // Segments in the state's numbering; names impossible with its size are applied key by key.
  const segments: Array<{ group: FactGroup; timeline: number; segno: number }> = [];
  for (const group of groups) {
    if (!group.segment) continue;
    const name = parseWalFileName(group.segment.walFile, size);
    if (name.ok) segments.push({ group, timeline: name.timeline, segno: name.segno });
  }
  const objects = groups.filter((group) => !group.segment);

  // Round 1: the touched items themselves and the neighbours refreshSegment reads.
  const pks = new Set<string>(groups.map((group) => group.pk));
  for (const { timeline, segno } of segments) {
    for (const near of segmentsToLookUp(timeline, segno)) pks.add(pkOf(near.timeline, near.segno));
  }
  const items = await getFactItems(deps.db, deps.table, pks);

  // Round 2: segments at timeline switch points, old and new, when a history changes.
  const pinned = new Set<string>();
  for (const group of objects) {
    for (const [key, parsed] of group.keys) {
      if (parsed.object.kind !== 'history') continue;
      for (const id of Object.keys(state.pins)) pinned.add(id);
      const presence = presenceOfKey(items.get(group.pk), key, parsed);
      for (const pin of objectChangeLookups(state, parsed.object, presence)) {
        pinned.add(segmentKey(pin.timeline, pin.segno));
      }
    }
  }
  const pinKeys = [...pinned].map((id) => {
    const [timeline, segno] = parseSegmentKey(id);
    return pkOf(timeline, segno);
  });
  for (const [pk, item] of await getFactItems(
    deps.db,
    deps.table,
    pinKeys.filter((pk) => !items.has(pk)),
  )) {
    items.set(pk, item);
  }
  const fetched = new Set([...pks, ...pinKeys]);

  const newest = segments.some((s) => needsNewestLookup(state, s.timeline, s.segno))
    ? await findNewestSegment(deps, state.id, size, items)
    : undefined;
  const lookup = prefetchedLookup(state.id, size, items, fetched, newest);

  for (const group of groups) {
    const item = items.get(group.pk);
    for (const [key, parsed] of group.keys) {
      const overwrite = item?.facts[key]?.overwrite;
      if (overwrite) state.overwritten[parsed.relativeKey] = overwrite;
    }
    const segment = segments.find((entry) => entry.group === group);
    if (segment) {
      refreshSegment(state, segment.timeline, segment.segno, lookup);
      continue;
    }
    for (const [key, parsed] of group.keys) {
      const presence = presenceOfKey(item, key, parsed);
      // Unknown keys beyond the kept ones are only counted: count each once, when its fact changed.
      if (wouldCountAgain(state, parsed, presence) && !group.changedKeys.has(key)) continue;
      applyObjectChange(state, parsed, presence, lookup);
    }
  }
}

/** A segment lookup under `size` answered from prefetched items; anything else is a bug in the fold. */
function prefetchedLookup(
  clusterId: string,
  size: number,
  items: ReadonlyMap<string, FactItem>,
  fetched: ReadonlySet<string>,
  newest: SegmentTime | null | undefined,
): SizeChangeLookup {
  const itemOf = (walFile: string): FactItem | undefined => {
    const pk = segmentFactKey(clusterId, walFile);
    if (!fetched.has(pk)) throw new LookupNotPrefetchedError(`segment ${walFile} was not read first`);
    return items.get(pk);
  };
  const root = clusterId === '' ? 0 : clusterId.length + 1;
  return {
    segment: (timeline, segno) => presenceOfItem(itemOf(walFileName(timeline, segno, size)), clusterId),
    newest: () => {
      if (newest === undefined) throw new LookupNotPrefetchedError('newest segment was not read first');
      return newest ?? undefined;
    },
    presentKeys: (walFile) =>
      Object.entries(itemOf(walFile)?.facts ?? {}).flatMap(([key, stored]) =>
        stored.fact.present ? [{ relativeKey: key.slice(root), at: stored.fact.at }] : [],
      ),
  };
}

/**
 * Re-counts the state's segments when the size the archive tells (or the configured one) is not the one
 * it was counted with: the facts are keyed by WAL file name, so only the times at the new run edges and
 * pins, and the keys of names impossible with the new size, are read.
 */
async function redetectSegmentSize(
  deps: FoldDependencies,
  state: ClusterState,
  setting: SegmentSizeSetting,
): Promise<ClusterState> {
  const detection = detectSegmentSize(state, setting);
  if (detection.size === state.segmentSize && detection.source === state.segmentSizeSource) return state;
  const needs = sizeChangeLookups(state, detection.size);
  const pks = new Set([
    ...needs.segments.map(({ timeline, segno }) =>
      segmentFactKey(state.id, walFileName(timeline, segno, detection.size)),
    ),
    ...needs.impossible.map((walFile) => segmentFactKey(state.id, walFile)),
  ]);
  const items = await getFactItems(deps.db, deps.table, pks);
  const newest = needs.newest ? await findNewestSegment(deps, state.id, detection.size, items) : undefined;
  const lookup = prefetchedLookup(state.id, detection.size, items, pks, newest);
  return changeSegmentSize(state, detection.size, detection.source, lookup);
}

/** Whether applying an unknown key would bump the overflow counter rather than set an entry. */
function wouldCountAgain(state: ClusterState, parsed: ParsedKey, presence: ObjectPresence): boolean {
  return (
    parsed.object.kind === 'unknown' &&
    presence.present &&
    !(parsed.relativeKey in state.unknown) &&
    Object.keys(state.unknown).length >= UNKNOWN_KEYS_KEPT
  );
}

function presenceOfKey(item: FactItem | undefined, key: string, parsed: ParsedKey): ObjectPresence {
  const stored = item?.facts[key];
  if (!stored?.fact.present) return { present: false };
  return {
    present: true,
    at: stored.fact.at,
    size: stored.fact.size,
    etag: stored.fact.etag,
    ...(needsContent(parsed.object) ? { content: stored.content ?? { error: 'content not read' } } : {}),
  };
}

/**
 * The present segment stored last, or `null` when none. The index is eventually consistent, so its
 * candidates are confirmed with consistent reads of their fact items.
 */
async function findNewestSegment(
  deps: FoldDependencies,
  clusterId: string,
  size: number,
  known: ReadonlyMap<string, FactItem>,
): Promise<SegmentTime | null> {
  const candidates = await queryNewestSegments(deps.db, deps.table, clusterId, NEWEST_CANDIDATES);
  const confirmed = await getFactItems(
    deps.db,
    deps.table,
    candidates.map((candidate) => candidate.pk),
  );
  let newest: SegmentTime | null = null;
  for (const candidate of candidates) {
    const name = parseWalFileName(candidate.walFile, size);
    const presence = presenceOfItem(known.get(candidate.pk) ?? confirmed.get(candidate.pk));
    if (!name.ok || !presence.present) continue;
    const segment = { timeline: name.timeline, segno: name.segno, at: presence.at };
    if (newest === null || isNewer(segment, newest)) newest = segment;
  }
  return newest;
}

/** A lookup the fold did not prefetch: a bug in the fold, never a fact about the archive. */
export class LookupNotPrefetchedError extends Error {
  override readonly name = 'LookupNotPrefetchedError';
}

async function forEachLimited<T>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await work(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** Full jitter, capped: contending writers of one cluster spread out instead of colliding again. */
function backOff(attempt: number): Promise<void> {
  const ceiling = Math.min(1000, 10 * 2 ** attempt);
  return new Promise((resolve) => setTimeout(resolve, Math.random() * ceiling));
}

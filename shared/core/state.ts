/**
 * The stored state of one cluster: a compact summary of its archive from which the whole report follows.
 *
 * The state is a deterministic function of the archive's current objects (plus, for the event pipeline,
 * which objects were removed or overwritten). Two ways build it and must agree:
 * - `buildClusterStates` from a full listing (the CLI, adoption of a bucket);
 * - `refreshSegment` / `applyObjectChange` one object at a time (the event pipeline), after a per-key
 *   last-writer-wins gate (`decideKeyFact`) has decided what the object's current version is.
 * Every update re-derives the touched part from facts, so applying the same fact twice changes nothing and
 * the order of events does not matter.
 *
 * Segment presence lives in runs; archive times are kept only where the analysis reads them: at run edges
 * and at timeline switch points ("pins"). Times are epoch milliseconds.
 */

import { parseBackupLabel } from './backup-label.js';
import type { SegmentCommit } from './config.js';
import { normaliseEtag } from './facts.js';
import { type HistoryEntry, parseHistory } from './history.js';
import {
  type BackupName,
  type Compression,
  type ObjectKind,
  type ParsedKey,
  parseObjectKey,
  stripCompression,
} from './keys.js';
import {
  isValidSegmentSize,
  isWalFileName,
  MIN_SEGMENT_SIZE,
  parseWalFileName,
  segmentOfLsn,
  segmentsPerXLogId,
  walFileName,
} from './lsn.js';
import { impossibleSegmentSize, type SegmentObject, segmentSizeDefect } from './object-size.js';
import { addNumber, findRun, hasNumber, type Run, removeNumber, runsFromSorted } from './runs.js';
import {
  type BackupLabelState,
  detectSegmentSize,
  type HeaderSegmentSize,
  type SegmentSizeSetting,
  type SegmentSizeSource,
} from './segment-size.js';
import type { SegmentDefect } from './segment-summary.js';
import {
  type BackupMetadataFacts,
  type Parsed,
  parseBackupMetadata,
  parseSentinel,
  type SentinelFacts,
} from './sentinel.js';

/** A segment and when it was stored. */
export interface SegmentTime {
  readonly timeline: number;
  readonly segno: number;
  readonly at: number;
}

/** A history object: its timeline, when stored, and its parsed content. */
export interface HistoryState {
  readonly timeline: number;
  readonly at: number;
  readonly parse:
    | { readonly ok: true; readonly entries: HistoryEntry[] }
    | { readonly ok: false; readonly error: string };
}

/** One stored JSON document of a backup (sentinel or metadata) with its parse outcome. */
export interface DocumentState<T> {
  readonly at: number;
  readonly parse: Parsed<T>;
}

/** Everything known about one backup name. */
export interface BackupState {
  sentinel: DocumentState<SentinelFacts> | null;
  metadata: DocumentState<BackupMetadataFacts> | null;
  /**
   * Other objects under `basebackups_005/<name>/`, by path relative to that folder → stored at. Empty
   * when `partsSummary` stands for them.
   */
  parts: Record<string, number>;
  /**
   * How many parts there are and when the newest was stored, when `parts` is not loaded: a store keeps a
   * backup's parts apart (a large database has tens of thousands) and reads them only to change them.
   */
  partsSummary?: PartsSummary;
}

/** The parts of a backup in brief: all the analysis needs of them. */
export interface PartsSummary {
  readonly count: number;
  readonly newestAt: number | null;
}

/** The count and newest stored-at of a backup's parts, from the loaded map or the summary standing for it. */
export function summarizeParts(backup: BackupState): PartsSummary {
  if (backup.partsSummary) return backup.partsSummary;
  let newestAt: number | null = null;
  let count = 0;
  for (const at of Object.values(backup.parts)) {
    count += 1;
    if (newestAt === null || at > newestAt) newestAt = at;
  }
  return { count, newestAt };
}

/** Raised when a part changes on a backup whose parts were not loaded: a bug in the store, never data. */
export class PartsNotLoadedError extends Error {
  override readonly name = 'PartsNotLoadedError';
}

/** A key stored again with other content while present. */
export interface Overwrite {
  readonly key: string;
  readonly at: number;
  readonly previousSize: number | null;
  readonly size: number | null;
  readonly previousEtag: string | null;
  readonly etag: string | null;
}

/** The summary of one cluster's archive. Plain JSON-compatible data. */
export interface ClusterState {
  readonly id: string;
  /** The segment size segment numbers (`segno`) are counted in: configured, detected or assumed. */
  readonly segmentSize: number;
  /** Where `segmentSize` comes from (`segment-size.ts`); absent in states stored before detection. */
  readonly segmentSizeSource?: SegmentSizeSource;
  /** Backup history files (`.backup`) by relative key: evidence of the segment size. */
  backupLabels?: Record<string, BackupLabelState>;
  /** The segment size the long page header of a segment read gave (content modes; the event pipeline). */
  headerSegmentSize?: HeaderSegmentSize;
  /**
   * Why the page header of the segment the event pipeline read tells no size (encrypted, damaged, no WAL):
   * kept so the pipeline reads one segment head per cluster, not one per event.
   */
  headerSizeError?: { readonly walFile: string; readonly error: string };
  /**
   * Present uncompressed segment objects whose size is a valid segment size (evidence of it): size in bytes
   * (decimal) → timeline → runs of name numbers, the segment numbers of 1 MiB segments, which name every
   * WAL file under any size. Absent when there are none.
   */
  plainSegmentSizes?: Record<string, Record<string, Run[]>>;
  /** Present segments per timeline (decimal timeline → runs). */
  segments: Record<string, Run[]>;
  /** Stored-at of present segments that are run edges or pins, by `"<timeline>:<segno>"`. */
  edgeTimes: Record<string, number>;
  /** Segments at timeline switch points whose times the analysis reads, by `"<timeline>:<segno>"`. */
  pins: Record<string, true>;
  /** The present segment stored last (for archive age). */
  newest: SegmentTime | null;
  /** Segments removed from the archive and absent since, per timeline (event pipeline only). */
  deleted: Record<string, Run[]>;
  /** Keys overwritten with other content (event pipeline only), by relative key. */
  overwritten: Record<string, Overwrite>;
  histories: Record<string, HistoryState>;
  /** `.partial` objects by relative key → WAL file name and stored-at. */
  partials: Record<string, { readonly walFile: string; readonly at: number }>;
  backups: Record<string, BackupState>;
  /** 24-hex names impossible for the segment size, by relative key → stored-at. */
  outOfRange: Record<string, number>;
  /** Unrecognised keys, by relative key → reason (at most `UNKNOWN_KEYS_KEPT`, then only counted). */
  unknown: Record<string, string>;
  unknownOverflow: number;
  /**
   * Newest commit at or before each recovery chain's end segment, by `"<timeline>:<segno>"` of that end,
   * when segment content was read (the content step; not part of the listing-derived state). `null`: read,
   * but no commit found or the content was unreadable.
   */
  commits?: Record<string, SegmentCommit | null>;
  /**
   * Archived segments whose content recovery cannot read to the end, by `"<timeline>:<segno>"` (the content
   * scan in `all` mode; not part of the listing-derived state). The analysis treats them as missing.
   */
  defects?: Record<string, StoredSegmentDefect>;
}

/** A segment defect as the state keeps it: with the object it was read from, so a replacement is re-read. */
export interface StoredSegmentDefect extends SegmentDefect {
  /** The key that was read, relative to the cluster root (`wal_005/…`). */
  readonly key: string;
  readonly etag: string | null;
  /** Set when the object's size alone rules it out (`object-size.ts`): kept in step with the facts. */
  readonly bySize?: true;
}

/** How many unknown keys a state names before it only counts them. */
export const UNKNOWN_KEYS_KEPT = 200;

/** An empty state for a cluster; its size is `assumed` when no source is given. */
export function createClusterState(
  id: string,
  segmentSize: number,
  segmentSizeSource: SegmentSizeSource = 'assumed',
): ClusterState {
  return {
    id,
    segmentSize,
    segmentSizeSource,
    segments: {},
    edgeTimes: {},
    pins: {},
    newest: null,
    deleted: {},
    overwritten: {},
    histories: {},
    partials: {},
    backups: {},
    outOfRange: {},
    unknown: {},
    unknownOverflow: 0,
  };
}

/** Whether a segment currently exists, was removed, or was never seen — as the fact store knows it. */
export type SegmentPresence =
  | {
      readonly present: true;
      readonly at: number;
      /** The present objects naming the segment (relative keys), when the lookup knows their sizes. */
      readonly objects?: readonly SegmentObject[];
    }
  | { readonly present: false; readonly removed: boolean };

/**
 * Read access to per-segment facts, needed only for the few segments an update touches.
 * The event pipeline answers from prefetched DynamoDB items; the in-memory archive from its maps.
 */
export interface SegmentLookup {
  /** Presence of a segment, over every key (compression variant) that names it. */
  segment(timeline: number, segno: number): SegmentPresence;
  /** The present segment with the greatest stored-at (ties: higher timeline, then higher segno). */
  newest(): SegmentTime | undefined;
}

/** The `"<timeline>:<segno>"` id used by `edgeTimes` and `pins`. */
export function segmentKey(timeline: number, segno: number): string {
  return `${timeline}:${segno}`;
}

/** The (timeline, segno) of a {@link segmentKey}. */
export function parseSegmentKey(key: string): [timeline: number, segno: number] {
  return key.split(':').map(Number) as [number, number];
}

/** Whether `a` was stored after `b` (ties broken by timeline, then segment number). */
export function isNewer(a: SegmentTime, b: SegmentTime): boolean {
  if (a.at !== b.at) return a.at > b.at;
  if (a.timeline !== b.timeline) return a.timeline > b.timeline;
  return a.segno > b.segno;
}

/**
 * The segments whose facts `refreshSegment(state, timeline, segno, …)` may read: the segment and its two
 * neighbours. The newest-segment query is needed only when `needsNewestLookup` says so.
 */
export function segmentsToLookUp(
  timeline: number,
  segno: number,
): Array<{ timeline: number; segno: number }> {
  return [
    { timeline, segno: segno - 1 },
    { timeline, segno },
    { timeline, segno: segno + 1 },
  ].filter((s) => s.segno >= 0);
}

/** Whether refreshing this segment may need `lookup.newest()`: it is the current newest. */
export function needsNewestLookup(state: ClusterState, timeline: number, segno: number): boolean {
  return state.newest !== null && state.newest.timeline === timeline && state.newest.segno === segno;
}

/**
 * Re-derives everything the state holds about one segment from the facts: presence in the runs, the
 * deleted set, the edge times of it and its neighbours, and the newest segment. Idempotent.
 */
export function refreshSegment(
  state: ClusterState,
  timeline: number,
  segno: number,
  lookup: SegmentLookup,
): void {
  const tli = String(timeline);
  const runs = state.segments[tli] ?? [];
  const fact = lookup.segment(timeline, segno);
  if (fact.present) {
    addNumber(runs, segno);
    removeFromSet(state.deleted, tli, segno);
  } else {
    removeNumber(runs, segno);
    if (fact.removed) addToSet(state.deleted, tli, segno);
    else removeFromSet(state.deleted, tli, segno);
  }
  if (runs.length > 0) state.segments[tli] = runs;
  else delete state.segments[tli];
  syncSizeDefect(
    state,
    timeline,
    segno,
    fact.present && fact.objects ? segmentSizeDefect(fact.objects, segno, state.segmentSize) : undefined,
  );
  syncPlainSize(
    state,
    timeline,
    segno,
    fact.present && fact.objects ? plainSegmentSize(fact.objects) : undefined,
  );

  for (const n of [segno - 1, segno, segno + 1]) if (n >= 0) syncEdgeTime(state, timeline, n, lookup);

  const current = state.newest;
  const isCurrent = current !== null && current.timeline === timeline && current.segno === segno;
  if (fact.present) {
    const candidate = { timeline, segno, at: fact.at };
    if (current === null || isNewer(candidate, current)) state.newest = candidate;
    else if (isCurrent && fact.at < current.at) state.newest = lookup.newest() ?? null;
  } else if (isCurrent) {
    state.newest = lookup.newest() ?? null;
  }
}

/** The size of a segment's uncompressed object when it is a valid segment size (`plainSegmentSizes`). */
function plainSegmentSize(objects: readonly SegmentObject[]): number | undefined {
  for (const object of objects) {
    const fileName = object.key.slice(object.key.lastIndexOf('/') + 1);
    if (fileName.length === 24 && object.size !== null && isValidSegmentSize(object.size)) return object.size;
  }
  return undefined;
}

/** Keeps segment (timeline, segno) in `plainSegmentSizes` under `size` only, or under none. */
function syncPlainSize(state: ClusterState, timeline: number, segno: number, size: number | undefined): void {
  if (size === undefined && !state.plainSegmentSizes) return;
  const name = parseWalFileName(walFileName(timeline, segno, state.segmentSize), MIN_SEGMENT_SIZE);
  if (!name.ok) return;
  const tli = String(timeline);
  const sizes = { ...state.plainSegmentSizes };
  for (const [key, sets] of Object.entries(sizes)) {
    if (Number(key) === size) continue;
    removeFromSet(sets, tli, name.segno);
    if (Object.keys(sets).length === 0) delete sizes[key];
  }
  if (size !== undefined) {
    const sets = sizes[String(size)] ?? {};
    addToSet(sets, tli, name.segno);
    sizes[String(size)] = sets;
  }
  if (Object.keys(sizes).length > 0) state.plainSegmentSizes = sizes;
  else delete state.plainSegmentSizes;
}

/** `plainSegmentSizes` without the names a segment size of `size` bytes makes impossible. */
function plainSizesPossibleUnder(
  sizes: ClusterState['plainSegmentSizes'],
  size: number,
): ClusterState['plainSegmentSizes'] {
  if (!sizes) return undefined;
  const perId = segmentsPerXLogId(size);
  const result: Record<string, Record<string, Run[]>> = {};
  for (const [bytes, sets] of Object.entries(sizes)) {
    const kept: Record<string, Run[]> = {};
    for (const [tli, runs] of Object.entries(sets)) {
      const numbers: number[] = [];
      for (const [first, last] of runs)
        for (let n = first; n <= last; n++) if (n % NAMES_PER_LOG < perId) numbers.push(n);
      if (numbers.length > 0) kept[tli] = runsFromSorted(Float64Array.from(numbers));
    }
    if (Object.keys(kept).length > 0) result[bytes] = kept;
  }
  return Object.keys(result).length > 0 ? result : undefined;
}

/** Keeps a size defect in `defects` while the facts say so; defects the content scan found stay. */
function syncSizeDefect(
  state: ClusterState,
  timeline: number,
  segno: number,
  defect: StoredSegmentDefect | undefined,
): void {
  const key = segmentKey(timeline, segno);
  if (defect) {
    state.defects = { ...state.defects, [key]: defect };
  } else if (state.defects?.[key]?.bySize) {
    const { [key]: _gone, ...rest } = state.defects;
    if (Object.keys(rest).length > 0) state.defects = rest;
    else delete state.defects;
  }
}

function syncEdgeTime(state: ClusterState, timeline: number, segno: number, lookup: SegmentLookup): void {
  const key = segmentKey(timeline, segno);
  const runs = state.segments[String(timeline)];
  const at = runs ? findRun(runs, segno) : -1;
  const run = runs?.[at];
  const wanted = run !== undefined && (run[0] === segno || run[1] === segno || state.pins[key] === true);
  if (!wanted) {
    delete state.edgeTimes[key];
    return;
  }
  const fact = lookup.segment(timeline, segno);
  if (fact.present) state.edgeTimes[key] = fact.at;
  else delete state.edgeTimes[key];
}

function addToSet(sets: Record<string, Run[]>, tli: string, segno: number): void {
  const runs = sets[tli] ?? [];
  addNumber(runs, segno);
  sets[tli] = runs;
}

function removeFromSet(sets: Record<string, Run[]>, tli: string, segno: number): void {
  const runs = sets[tli];
  if (!runs) return;
  removeNumber(runs, segno);
  if (runs.length === 0) delete sets[tli];
}

/**
 * The segments a history pins: on each switch, the parent's segment before the switch segment (where a
 * recovery chain on the parent ends) and the child's switch segment (where the child's range starts).
 */
export function pinsOfHistory(
  timeline: number,
  entries: readonly HistoryEntry[],
  segmentSize: number,
): SegmentTime[] {
  const pins: SegmentTime[] = [];
  entries.forEach((entry, index) => {
    const child = entries[index + 1]?.parent ?? timeline;
    const switchSegment = segmentOfLsn(BigInt(entry.switchLsn), segmentSize);
    if (switchSegment > 0) pins.push({ timeline: entry.parent, segno: switchSegment - 1, at: 0 });
    pins.push({ timeline: child, segno: switchSegment, at: 0 });
  });
  return pins;
}

function recomputePins(state: ClusterState): Record<string, true> {
  const pins: Record<string, true> = {};
  for (const history of Object.values(state.histories)) {
    if (!history.parse.ok) continue;
    for (const pin of pinsOfHistory(history.timeline, history.parse.entries, state.segmentSize)) {
      pins[segmentKey(pin.timeline, pin.segno)] = true;
    }
  }
  return pins;
}

/** The current version of one object, as the per-key gate decided it; `content` for documents read. */
export type ObjectPresence =
  | {
      readonly present: true;
      readonly at: number;
      readonly size?: number | null;
      readonly etag?: string | null;
      /** Body text of sentinels, `metadata.json` and (decompressed) history files, or why it is unreadable. */
      readonly content?: { readonly text: string } | { readonly error: string };
    }
  | { readonly present: false };

/**
 * The objects whose facts a non-segment change needs: a history change moves pins, whose segment times must
 * then be read. Returns the segments to look up before calling `applyObjectChange`.
 */
export function objectChangeLookups(
  state: ClusterState,
  object: ObjectKind,
  presence: ObjectPresence,
): SegmentTime[] {
  if (object.kind !== 'history' || !presence.present || !presence.content || !('text' in presence.content))
    return [];
  const parse = parseHistory(presence.content.text, object.timeline);
  return parse.ok ? pinsOfHistory(object.timeline, parse.entries, state.segmentSize) : [];
}

/**
 * Applies the current version of a non-segment object (history, partial, backup objects, unknown keys) to
 * the state. Set semantics: applying it again changes nothing. Segments go through `refreshSegment`.
 */
export function applyObjectChange(
  state: ClusterState,
  key: ParsedKey,
  presence: ObjectPresence,
  lookup: SegmentLookup,
): void {
  const object = key.object;
  const relativeKey = key.relativeKey;
  switch (object.kind) {
    case 'segment': {
      const parsed = parseWalFileName(object.walFile, state.segmentSize);
      if (parsed.ok) refreshSegment(state, parsed.timeline, parsed.segno, lookup);
      else setEntry(state.outOfRange, relativeKey, presence.present ? presence.at : undefined);
      return;
    }
    case 'partial':
      setEntry(
        state.partials,
        relativeKey,
        presence.present ? { walFile: object.walFile, at: presence.at } : undefined,
      );
      return;
    case 'history': {
      const before = state.pins;
      setEntry(
        state.histories,
        relativeKey,
        presence.present ? historyState(object.timeline, presence) : undefined,
      );
      state.pins = recomputePins(state);
      for (const id of new Set([...Object.keys(before), ...Object.keys(state.pins)])) {
        const [timeline, segno] = parseSegmentKey(id);
        syncEdgeTime(state, timeline, segno, lookup);
      }
      return;
    }
    case 'sentinel':
    case 'backup-metadata':
    case 'backup-part':
      applyBackupObject(state, object.backup, object, presence);
      return;
    case 'unknown':
      if (
        presence.present &&
        !(relativeKey in state.unknown) &&
        Object.keys(state.unknown).length >= UNKNOWN_KEYS_KEPT
      ) {
        state.unknownOverflow += 1;
        return;
      }
      setEntry(state.unknown, relativeKey, presence.present ? object.reason : undefined);
      return;
    case 'backup-label': {
      const labels = state.backupLabels ?? {};
      setEntry(
        labels,
        relativeKey,
        presence.present ? backupLabelState(object.walFile, object.offset, presence) : undefined,
      );
      if (Object.keys(labels).length > 0) state.backupLabels = labels;
      else delete state.backupLabels;
      return;
    }
    case 'wal-metadata':
    case 'wal-delta':
      // Known objects the analysis does not need.
      return;
  }
}

function backupLabelState(
  walFile: string,
  offset: number,
  presence: ObjectPresence & { present: true },
): BackupLabelState {
  const content = presence.content;
  const parse = content && 'text' in content ? parseBackupLabel(content.text) : undefined;
  return { walFile, offset, at: presence.at, startLsn: parse?.ok ? parse.label.startLsn : null };
}

function historyState(timeline: number, presence: ObjectPresence & { present: true }): HistoryState {
  const content = presence.content;
  if (!content) return { timeline, at: presence.at, parse: { ok: false, error: 'content not read' } };
  if ('error' in content) return { timeline, at: presence.at, parse: { ok: false, error: content.error } };
  return { timeline, at: presence.at, parse: parseHistory(content.text, timeline) };
}

function applyBackupObject(
  state: ClusterState,
  backup: BackupName,
  object: ObjectKind & { kind: 'sentinel' | 'backup-metadata' | 'backup-part' },
  presence: ObjectPresence,
): void {
  const entry = state.backups[backup.name] ?? { sentinel: null, metadata: null, parts: {} };
  if (object.kind === 'sentinel')
    entry.sentinel = presence.present ? documentState(presence, parseSentinel) : null;
  else if (object.kind === 'backup-metadata') {
    entry.metadata = presence.present ? documentState(presence, parseBackupMetadata) : null;
  } else {
    if (entry.partsSummary)
      throw new PartsNotLoadedError(`parts of ${backup.name} changed while only their summary was loaded`);
    setEntry(entry.parts, object.part, presence.present ? presence.at : undefined);
  }

  if (entry.sentinel === null && entry.metadata === null && summarizeParts(entry).count === 0) {
    delete state.backups[backup.name];
  } else {
    state.backups[backup.name] = entry;
  }
}

function documentState<T>(
  presence: ObjectPresence & { present: true },
  parse: (text: string) => Parsed<T>,
): DocumentState<T> {
  const content = presence.content;
  if (!content) return { at: presence.at, parse: { ok: false, error: 'content not read' } };
  if ('error' in content) return { at: presence.at, parse: { ok: false, error: content.error } };
  return { at: presence.at, parse: parse(content.text) };
}

function setEntry<T>(record: Record<string, T>, key: string, value: T | undefined): void {
  if (value === undefined) delete record[key];
  else record[key] = value;
}

/** One object of a listing: its full key, when it was stored, and its size and ETag when known. */
export interface ListedObject {
  readonly key: string;
  readonly at: number;
  readonly size?: number | null;
  readonly etag?: string | null;
}

/** The content of documents a listing analysis read, by full key. */
export type ContentByKey = (
  key: string,
) => { readonly text: string } | { readonly error: string } | undefined;

/**
 * Whether the analysis reads an object's body: sentinels, `metadata.json`, history files and backup
 * history files (which tell the segment size).
 */
export function needsContent(object: ObjectKind): boolean {
  return (
    object.kind === 'sentinel' ||
    object.kind === 'backup-metadata' ||
    object.kind === 'history' ||
    object.kind === 'backup-label'
  );
}

/**
 * Builds the state of every cluster in a full listing, in one pass plus a sort per timeline.
 * Equal to folding the same objects one by one through the event path, in any order. A cluster whose
 * setting is `auto` gets the size its backup history files and sentinels tell (`segment-size.ts`).
 *
 * @example
 * const states = buildClusterStates(objects, (key) => bodies.get(key), () => 'auto');
 */
export function buildClusterStates(
  objects: Iterable<ListedObject>,
  contentOf: ContentByKey,
  segmentSizeOf: (clusterId: string) => SegmentSizeSetting,
): Map<string, ClusterState> {
  const builder = new ClusterStatesBuilder(segmentSizeOf);
  for (const listed of objects) builder.add(listed, contentOf);
  return builder.finish();
}

/** Key endings of segment objects: none, a bare dot, then each compression extension (`keys.ts`). */
const SEGMENT_ENDINGS = ['', '.', '.lz4', '.lzma', '.zst', '.br', '.gz', '.lzo'];
/** Segment numbers of a 1 MiB cluster count every name valid under any size: `log * 4096 + seg`. */
const NAMES_PER_LOG = segmentsPerXLogId(MIN_SEGMENT_SIZE);
/** The compression of each of `SEGMENT_ENDINGS`. */
const SEGMENT_COMPRESSIONS: readonly Compression[] = SEGMENT_ENDINGS.map(
  (ending) => stripCompression(`000000010000000000000001${ending}`).compression,
);

/**
 * Builds cluster states from objects added one at a time, keeping only flat arrays of segment names (as
 * numbers) and times: a listing can stream through it without ever being held in memory. Segment numbers
 * are counted only in `finish`, once the documents have told each cluster's segment size.
 */
export class ClusterStatesBuilder {
  private readonly builders = new Map<string, StateBuilder>();
  /** `<cluster>/wal_005/` of the last segment added, and its builder: listings come sorted by key. */
  private walPrefix = '';
  private walBuilder: StateBuilder | undefined;

  constructor(private readonly segmentSizeOf: (clusterId: string) => SegmentSizeSetting) {}

  /** Adds one listed object; `contentOf` answers for documents (sentinels, metadata, history). */
  add(listed: ListedObject, contentOf: ContentByKey): void {
    // Fast path, allocation-light: the next segment of the same cluster as the previous one.
    const key = listed.key;
    if (this.walBuilder && key.startsWith(this.walPrefix) && key.indexOf('/', this.walPrefix.length) === -1) {
      // Anything else (partials, histories, impossible names) takes the full path below.
      if (this.walBuilder.addSegment(key.slice(this.walPrefix.length), listed)) return;
    }
    const parsed = parseObjectKey(key);
    if (!parsed) return;
    let builder = this.builders.get(parsed.clusterId);
    if (!builder) {
      const setting = this.segmentSizeOf(parsed.clusterId);
      builder = new StateBuilder(
        createClusterState(parsed.clusterId, MIN_SEGMENT_SIZE),
        setting === 'auto' ? MIN_SEGMENT_SIZE : setting,
      );
      this.builders.set(parsed.clusterId, builder);
    }
    builder.add(parsed, listed, contentOf);
    if (parsed.object.kind === 'segment') {
      this.walPrefix = key.slice(0, key.length - (parsed.relativeKey.length - 'wal_005/'.length));
      this.walBuilder = builder;
    }
  }

  /**
   * The state of every cluster seen. `headers` adds the segment size page headers of segments read gave
   * (by cluster id). May be called again, with more headers: the builder is left unchanged.
   */
  finish(headers?: ReadonlyMap<string, HeaderSegmentSize>): Map<string, ClusterState> {
    const states = new Map<string, ClusterState>();
    for (const [id, builder] of this.builders) {
      states.set(id, builder.finish(this.segmentSizeOf(id), headers?.get(id)));
    }
    return states;
  }
}

/** Collects one cluster's segments in flat arrays, then builds runs and times in bulk. */
class StateBuilder {
  /** Per timeline: `(log * 4096 + seg) * 8 + ending` of each segment key (see `SEGMENT_ENDINGS`). */
  private readonly names = new Map<number, number[]>();
  private readonly times = new Map<number, number[]>();
  private readonly noLookup: SegmentLookup = {
    segment: () => ({ present: false, removed: false }),
    newest: () => undefined,
  };

  /**
   * Per timeline, parallel to `names`: the size of each object that an impossible size may rule out (-1 for
   * the others), and its ETag. Created at the first such object; shorter than `names` when later ones fit.
   */
  private readonly suspectSizes = new Map<number, number[]>();
  private readonly suspectEtags = new Map<number, Array<string | null>>();
  /** Uncompressed segment objects of a valid segment size: size → timeline → name numbers. */
  private readonly plainNames = new Map<number, Map<number, number[]>>();

  /**
   * @param documents - the state with every object but segments applied
   * @param sizeBound - the smallest segment size the cluster may have: objects impossible under it are kept
   *   for the size check in `finish` (impossibility only shrinks as the size grows)
   */
  constructor(
    private readonly documents: ClusterState,
    private readonly sizeBound: number,
  ) {}

  /** Records a segment by its file name in `wal_005/`; false when no segment size makes it a segment. */
  addSegment(fileName: string, listed: ListedObject): boolean {
    const ending = SEGMENT_ENDINGS.indexOf(fileName.slice(24));
    if (ending === -1) return false;
    const walFile = fileName.slice(0, 24);
    if (!isWalFileName(walFile)) return false;
    const name = parseWalFileName(walFile, MIN_SEGMENT_SIZE);
    if (!name.ok) return false;
    let names = this.names.get(name.timeline);
    let times = this.times.get(name.timeline);
    if (!names || !times) {
      names = [];
      times = [];
      this.names.set(name.timeline, names);
      this.times.set(name.timeline, times);
    }
    names.push(name.segno * SEGMENT_ENDINGS.length + ending);
    times.push(listed.at);
    const size = listed.size;
    if (ending === 0 && size !== undefined && size !== null && isValidSegmentSize(size)) {
      let byTimeline = this.plainNames.get(size);
      if (!byTimeline) {
        byTimeline = new Map();
        this.plainNames.set(size, byTimeline);
      }
      const numbers = byTimeline.get(name.timeline);
      if (numbers) numbers.push(name.segno);
      else byTimeline.set(name.timeline, [name.segno]);
    }
    if (
      size !== undefined &&
      size !== null &&
      impossibleSegmentSize(size, SEGMENT_COMPRESSIONS[ending] as Compression, this.sizeBound) !== undefined
    )
      this.keepSuspect(name.timeline, names.length - 1, size, normaliseEtag(listed.etag));
    return true;
  }

  /** `plainSegmentSizes` of every name, whatever the segment size. */
  private plainSizes(): ClusterState['plainSegmentSizes'] {
    if (this.plainNames.size === 0) return undefined;
    const sizes: Record<string, Record<string, Run[]>> = {};
    for (const [size, byTimeline] of this.plainNames) {
      const sets: Record<string, Run[]> = {};
      for (const [timeline, numbers] of byTimeline)
        sets[String(timeline)] = runsFromSorted(Float64Array.from(new Set(numbers)).sort());
      sizes[String(size)] = sets;
    }
    return sizes;
  }

  /** Keeps the size and ETag of object `index` of a timeline for the size check. */
  private keepSuspect(timeline: number, index: number, size: number, etag: string | null): void {
    let sizes = this.suspectSizes.get(timeline);
    let etags = this.suspectEtags.get(timeline);
    if (!sizes || !etags) {
      sizes = [];
      etags = [];
      this.suspectSizes.set(timeline, sizes);
      this.suspectEtags.set(timeline, etags);
    }
    while (sizes.length < index) {
      sizes.push(-1);
      etags.push(null);
    }
    sizes.push(size);
    etags.push(etag);
  }

  add(parsed: ParsedKey, listed: ListedObject, contentOf: ContentByKey): void {
    const object = parsed.object;
    if (object.kind === 'segment') {
      if (!this.addSegment(parsed.relativeKey.slice('wal_005/'.length), listed))
        this.documents.outOfRange[parsed.relativeKey] = listed.at;
      return;
    }
    const content = needsContent(object)
      ? (contentOf(listed.key) ?? { error: 'content not read' })
      : undefined;
    const presence: ObjectPresence = content
      ? { present: true, at: listed.at, content }
      : { present: true, at: listed.at };
    applyObjectChange(this.documents, parsed, presence, this.noLookup);
  }

  finish(setting: SegmentSizeSetting, header: HeaderSegmentSize | undefined): ClusterState {
    const plain = this.plainSizes();
    const documents: ClusterState = {
      ...this.documents,
      ...(header ? { headerSegmentSize: header } : {}),
      ...(plain ? { plainSegmentSizes: plain } : {}),
    };
    const detection = detectSegmentSize(documents, setting);
    const plainPossible = plainSizesPossibleUnder(plain, detection.size);
    const { plainSegmentSizes: _all, ...rest } = documents;
    const state: ClusterState = {
      ...rest,
      ...(plainPossible ? { plainSegmentSizes: plainPossible } : {}),
      segmentSize: detection.size,
      segmentSizeSource: detection.source,
      segments: {},
      edgeTimes: {},
      pins: {},
      newest: null,
      outOfRange: { ...documents.outOfRange },
    };
    state.pins = recomputePins(state);
    const perId = segmentsPerXLogId(detection.size);
    // Per timeline, the segment number of each key under this size (-1: impossible with it).
    const segnosOf = new Map<number, number[]>();
    for (const [timeline, names] of this.names) {
      const segnos = names.map((value) => {
        const number = Math.floor(value / SEGMENT_ENDINGS.length);
        const seg = number % NAMES_PER_LOG;
        const log = (number - seg) / NAMES_PER_LOG;
        return seg < perId ? log * perId + seg : -1;
      });
      segnosOf.set(timeline, segnos);
      const times = this.times.get(timeline) as number[];
      segnos.forEach((segno, i) => {
        if (segno !== -1) return;
        const value = names[i] as number;
        const number = Math.floor(value / SEGMENT_ENDINGS.length);
        const ending = SEGMENT_ENDINGS[value % SEGMENT_ENDINGS.length] as string;
        const walFile = walFileName(timeline, number, MIN_SEGMENT_SIZE);
        state.outOfRange[`wal_005/${walFile}${ending}`] = times[i] as number;
      });
    }
    this.judgeSizes(state, segnosOf);
    const wantedTimes = new Map<string, number>();
    for (const [timeline, segnos] of segnosOf) {
      const times = this.times.get(timeline) as number[];
      const sorted = Float64Array.from(segnos.filter((segno) => segno !== -1)).sort();
      if (sorted.length === 0) continue;
      const runs = runsFromSorted(sorted);
      state.segments[String(timeline)] = runs;
      const wanted = new Set<number>();
      for (const [first, last] of runs) {
        wanted.add(first);
        wanted.add(last);
      }
      for (const pin of Object.keys(state.pins)) {
        const [pinTimeline, segno] = parseSegmentKey(pin);
        if (pinTimeline === timeline && hasNumber(runs, segno)) wanted.add(segno);
      }
      let newest = state.newest;
      for (let i = 0; i < segnos.length; i++) {
        const segno = segnos[i] as number;
        if (segno === -1) continue;
        const at = times[i] as number;
        // A segment stored under several keys (compression variants) counts from its earliest copy.
        if (wanted.has(segno)) {
          const key = segmentKey(timeline, segno);
          const known = wantedTimes.get(key);
          if (known === undefined || at < known) wantedTimes.set(key, at);
        }
        const candidate = { timeline, segno, at };
        if (newest === null || isNewer(candidate, newest)) newest = candidate;
      }
      state.newest = newest;
    }
    for (const [key, at] of wantedTimes) state.edgeTimes[key] = at;
    if (state.newest) {
      // With compression variants the newest copy may not be the segment's earliest; use the segment's time.
      const newest = state.newest;
      const earliest = this.earliestTime(segnosOf, newest.timeline, newest.segno);
      state.newest = { ...newest, at: earliest };
      if (earliest !== newest.at) state.newest = this.newestByEarliest(segnosOf);
    }
    return state;
  }

  /**
   * Adds the `wrong-size` defect of every segment whose objects all have sizes impossible under the state's
   * segment size (`object-size.ts`), as the fold judges each segment from its facts.
   */
  private judgeSizes(state: ClusterState, segnosOf: ReadonlyMap<number, number[]>): void {
    const bad = new Map<string, SegmentObject[]>();
    for (const [timeline, sizes] of this.suspectSizes) {
      const names = this.names.get(timeline) as number[];
      const segnos = segnosOf.get(timeline) as number[];
      const etags = this.suspectEtags.get(timeline) as Array<string | null>;
      for (let i = 0; i < sizes.length; i++) {
        const size = sizes[i] as number;
        const segno = segnos[i] as number;
        if (size === -1 || segno === -1) continue;
        const value = names[i] as number;
        const ending = value % SEGMENT_ENDINGS.length;
        const compression = SEGMENT_COMPRESSIONS[ending] as Compression;
        if (impossibleSegmentSize(size, compression, state.segmentSize) === undefined) continue;
        const walFile = walFileName(timeline, Math.floor(value / SEGMENT_ENDINGS.length), MIN_SEGMENT_SIZE);
        const id = segmentKey(timeline, segno);
        const objects = bad.get(id) ?? [];
        objects.push({ key: `wal_005/${walFile}${SEGMENT_ENDINGS[ending]}`, size, etag: etags[i] ?? null });
        bad.set(id, objects);
      }
    }
    if (bad.size === 0) return;
    // A segment is a size defect only if every object naming it is: count all objects of those segments.
    const copies = new Map<string, number>();
    for (const [timeline, segnos] of segnosOf) {
      for (const segno of segnos) {
        if (segno === -1) continue;
        const id = segmentKey(timeline, segno);
        if (bad.has(id)) copies.set(id, (copies.get(id) ?? 0) + 1);
      }
    }
    for (const [id, objects] of bad) {
      if (copies.get(id) !== objects.length) continue;
      const [timeline, segno] = parseSegmentKey(id);
      syncSizeDefect(state, timeline, segno, segmentSizeDefect(objects, segno, state.segmentSize));
    }
  }

  private earliestTime(segnosOf: Map<number, number[]>, timeline: number, segno: number): number {
    const segnos = segnosOf.get(timeline) as number[];
    const times = this.times.get(timeline) as number[];
    let earliest = Number.POSITIVE_INFINITY;
    for (let i = 0; i < segnos.length; i++) {
      if (segnos[i] === segno && (times[i] as number) < earliest) earliest = times[i] as number;
    }
    return earliest;
  }

  /** Slow path, only when variants exist: newest by each segment's earliest copy. */
  private newestByEarliest(segnosOf: Map<number, number[]>): SegmentTime | null {
    let newest: SegmentTime | null = null;
    for (const [timeline, segnos] of segnosOf) {
      const earliest = new Map<number, number>();
      const times = this.times.get(timeline) as number[];
      segnos.forEach((segno, i) => {
        if (segno === -1) return;
        const at = times[i] as number;
        const known = earliest.get(segno);
        if (known === undefined || at < known) earliest.set(segno, at);
      });
      for (const [segno, at] of earliest) {
        const candidate = { timeline, segno, at };
        if (newest === null || isNewer(candidate, newest)) newest = candidate;
      }
    }
    return newest;
  }
}

/** What re-counting a state's segments under another size reads, besides the state itself. */
export interface SizeChangeLookup extends SegmentLookup {
  /**
   * The present keys naming segment `walFile`, relative to the cluster root, with when each was stored:
   * asked only for names impossible with the new size.
   */
  presentKeys(walFile: string): Array<{ readonly relativeKey: string; readonly at: number }>;
}

/** A state's segments counted under another size, before any time is looked up. */
interface RecountedSegments {
  readonly segments: Record<string, Run[]>;
  readonly deleted: Record<string, Run[]>;
  /** Present names impossible with the new size (their keys go to `outOfRange`). */
  readonly impossible: string[];
  /** `outOfRange` entries that stay impossible. */
  readonly outOfRange: Record<string, number>;
  readonly pins: Record<string, true>;
}

/**
 * The segments, in the new size's numbering, whose facts `changeSegmentSize` reads: the edges of the
 * recounted runs and the pins, plus (as names) those impossible with the new size. `newest` says whether
 * it needs the newest-segment lookup.
 */
export function sizeChangeLookups(
  state: ClusterState,
  size: number,
): { segments: SegmentTime[]; impossible: string[]; newest: boolean } {
  const recounted = recountSegments(state, size);
  const segments: SegmentTime[] = [];
  for (const id of new Set([...wantedSegments(recounted), ...sizeJudgedSegments(state, size, recounted)])) {
    const [timeline, segno] = parseSegmentKey(id);
    segments.push({ timeline, segno, at: 0 });
  }
  return { segments, impossible: recounted.impossible, newest: newestAfterRecount(state, size) === null };
}

/**
 * The state with its segments counted under another segment size: runs, removals, run-edge times, pins,
 * the newest segment, impossible names, and the commits and defects read, all re-derived; the documents
 * are kept. Equal to the state a full listing builds with that size, given facts for the same objects.
 */
export function changeSegmentSize(
  state: ClusterState,
  size: number,
  source: SegmentSizeSource,
  lookup: SizeChangeLookup,
): ClusterState {
  const recounted = recountSegments(state, size);
  const outOfRange = { ...recounted.outOfRange };
  for (const walFile of recounted.impossible) {
    for (const { relativeKey, at } of lookup.presentKeys(walFile)) outOfRange[relativeKey] = at;
  }
  const edgeTimes: Record<string, number> = {};
  for (const id of wantedSegments(recounted)) {
    const [timeline, segno] = parseSegmentKey(id);
    const fact = lookup.segment(timeline, segno);
    if (fact.present) edgeTimes[id] = fact.at;
  }
  const recount = <T>(record: Record<string, T> | undefined): Record<string, T> | undefined => {
    if (record === undefined) return undefined;
    const result: Record<string, T> = {};
    for (const [id, value] of Object.entries(record)) {
      const moved = recountSegmentKey(id, state.segmentSize, size);
      if (moved !== undefined) result[moved] = value;
    }
    return result;
  };
  const commits = recount(state.commits);
  const defects = recount(state.defects);
  const next: ClusterState = {
    ...state,
    segmentSize: size,
    segmentSizeSource: source,
    segments: recounted.segments,
    deleted: recounted.deleted,
    pins: recounted.pins,
    edgeTimes,
    outOfRange,
    newest: newestAfterRecount(state, size) ?? lookup.newest() ?? null,
  };
  if (commits) next.commits = commits;
  if (defects) next.defects = defects;
  const plain = plainSizesPossibleUnder(state.plainSegmentSizes, size);
  if (plain) next.plainSegmentSizes = plain;
  else delete next.plainSegmentSizes;
  for (const id of sizeJudgedSegments(state, size, recounted)) {
    const [timeline, segno] = parseSegmentKey(id);
    const fact = lookup.segment(timeline, segno);
    syncSizeDefect(
      next,
      timeline,
      segno,
      fact.present && fact.objects ? segmentSizeDefect(fact.objects, segno, size) : undefined,
    );
  }
  return next;
}

/**
 * The segments, in the numbering of `size`, whose size defects must be judged again under it. A larger size
 * rules out only objects a smaller one did (`object-size.ts`), so growing re-judges just the size defects;
 * shrinking can rule out any object, so it re-judges every present segment.
 */
function sizeJudgedSegments(state: ClusterState, size: number, recounted: RecountedSegments): string[] {
  if (size >= state.segmentSize) {
    return Object.entries(state.defects ?? {}).flatMap(([id, defect]) => {
      const moved = defect.bySize ? recountSegmentKey(id, state.segmentSize, size) : undefined;
      return moved === undefined ? [] : [moved];
    });
  }
  const ids: string[] = [];
  for (const [tli, runs] of Object.entries(recounted.segments)) {
    for (const [first, last] of runs)
      for (let n = first; n <= last; n++) ids.push(segmentKey(Number(tli), n));
  }
  return ids;
}

/** The `"<timeline>:<segno>"` of the same segment under another size; undefined when impossible there. */
function recountSegmentKey(id: string, from: number, to: number): string | undefined {
  const [timeline, segno] = parseSegmentKey(id);
  const name = parseWalFileName(walFileName(timeline, segno, from), to);
  return name.ok ? segmentKey(timeline, name.segno) : undefined;
}

/** The newest segment recounted under `size`; null when it has none or its name is impossible there. */
function newestAfterRecount(state: ClusterState, size: number): SegmentTime | null {
  const newest = state.newest;
  if (newest === null) return null;
  const name = parseWalFileName(walFileName(newest.timeline, newest.segno, state.segmentSize), size);
  return name.ok ? { timeline: newest.timeline, segno: name.segno, at: newest.at } : null;
}

function recountSegments(state: ClusterState, size: number): RecountedSegments {
  const impossible: string[] = [];
  const recountRuns = (sets: Record<string, Run[]>, keepImpossible: boolean): Record<string, Run[]> => {
    const result: Record<string, Run[]> = {};
    for (const [tli, runs] of Object.entries(sets)) {
      const timeline = Number(tli);
      const recounted = recountTimelineRuns(runs, state.segmentSize, size, (first, last) => {
        if (!keepImpossible) return;
        for (let n = first; n <= last; n++) impossible.push(walFileName(timeline, n, state.segmentSize));
      });
      if (recounted.length > 0) result[tli] = recounted;
    }
    return result;
  };
  const segments = recountRuns(state.segments, true);
  const deleted = recountRuns(state.deleted, false);
  const outOfRange: Record<string, number> = {};
  for (const [relativeKey, at] of Object.entries(state.outOfRange)) {
    const walFile = stripCompression(relativeKey.slice('wal_005/'.length)).base;
    const name = parseWalFileName(walFile, size);
    if (!name.ok) {
      outOfRange[relativeKey] = at;
      continue;
    }
    const tli = String(name.timeline);
    const runs = segments[tli] ?? [];
    addNumber(runs, name.segno);
    segments[tli] = runs;
    // A name now possible is present: it is no longer a removal either.
    const removed = deleted[tli];
    if (removed) {
      removeNumber(removed, name.segno);
      if (removed.length === 0) delete deleted[tli];
    }
  }
  const pins: Record<string, true> = {};
  for (const history of Object.values(state.histories)) {
    if (!history.parse.ok) continue;
    for (const pin of pinsOfHistory(history.timeline, history.parse.entries, size))
      pins[segmentKey(pin.timeline, pin.segno)] = true;
  }
  return { segments, deleted, impossible, outOfRange, pins };
}

/**
 * Runs of segment numbers under `from` counted under `to`: each run split by xlogid (the middle field of
 * the names), the part of each xlogid impossible with `to` passed to `onImpossible` (in `from` numbers).
 */
function recountTimelineRuns(
  runs: readonly Run[],
  from: number,
  to: number,
  onImpossible: (first: number, last: number) => void,
): Run[] {
  const fromPerId = segmentsPerXLogId(from);
  const toPerId = segmentsPerXLogId(to);
  const result: Run[] = [];
  const append = (first: number, last: number): void => {
    const previous = result.at(-1);
    if (previous && first <= previous[1] + 1) previous[1] = Math.max(previous[1], last);
    else result.push([first, last]);
  };
  for (const [first, last] of runs) {
    for (let log = Math.floor(first / fromPerId); log <= Math.floor(last / fromPerId); log++) {
      const low = Math.max(first, log * fromPerId) - log * fromPerId;
      const high = Math.min(last, log * fromPerId + fromPerId - 1) - log * fromPerId;
      if (low < toPerId) append(log * toPerId + low, log * toPerId + Math.min(high, toPerId - 1));
      if (high >= toPerId) onImpossible(log * fromPerId + Math.max(low, toPerId), log * fromPerId + high);
    }
  }
  return result;
}

/** The segments whose times a state keeps: run edges and present pins, by `"<timeline>:<segno>"`. */
function wantedSegments(recounted: RecountedSegments): Set<string> {
  const wanted = new Set<string>();
  for (const [tli, runs] of Object.entries(recounted.segments)) {
    for (const [first, last] of runs) {
      wanted.add(segmentKey(Number(tli), first));
      wanted.add(segmentKey(Number(tli), last));
    }
  }
  for (const pin of Object.keys(recounted.pins)) {
    const [timeline, segno] = parseSegmentKey(pin);
    if (hasNumber(recounted.segments[String(timeline)] ?? [], segno)) wanted.add(pin);
  }
  return wanted;
}

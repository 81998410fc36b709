/**
 * The WAL segment size of a cluster, learnt from what its archive already says: a backup history file
 * (`<24hex>.<8hex>.backup`: its START WAL LOCATION and the segment and offset in its name), a WAL-G sentinel
 * (its start `LSN` against the segment in the backup name), or the long page header of a segment read
 * (`xlp_seg_size`). A configured size overrides detection but is still checked against the same evidence.
 * Facts: walg-layout.md §4.1, §4.4, §4.6.
 *
 * @example
 * detectSegmentSize(state, 'auto')
 * // { size: 67108864, source: 'sentinel', evidence: { source: 'sentinel', subject: 'base_…', sizes: [67108864] },
 * //   conflicts: [] }
 */
import { parseBackupName } from './keys.js';
import {
  DEFAULT_SEGMENT_SIZE,
  type Lsn,
  MAX_SEGMENT_SIZE,
  MIN_SEGMENT_SIZE,
  parseWalFileName,
  segmentBeforeLsn,
  segmentOfLsn,
  walFileName,
} from './lsn.js';
import type { ClusterState } from './state.js';

/** Where a cluster's segment size comes from, as the report says. */
export type SegmentSizeSource =
  | 'configured'
  | 'backup-label'
  | 'sentinel'
  | 'page-header'
  | 'object-size'
  | 'assumed';

/** A segment size setting for one cluster: bytes (an override) or `auto` (detect it). */
export type SegmentSizeSetting = number | 'auto';

/** The sources that read the archive, in the order they are trusted. */
const EVIDENCE_ORDER = ['backup-label', 'sentinel', 'page-header', 'object-size'] as const;

/** One thing in the archive that tells the segment size: the sizes it fits (one when reliable). */
export interface SizeEvidence {
  readonly source: (typeof EVIDENCE_ORDER)[number];
  /**
   * What says it: the backup history file's key, the backup's name, the segment read, or the lowest-named
   * uncompressed segment object of a valid segment size.
   */
  readonly subject: string;
  /** The valid segment sizes the object fits, smallest first; empty when it fits none. */
  readonly sizes: readonly number[];
}

/** The size a cluster's state is derived with, where it comes from, and the evidence that disagrees. */
export interface SegmentSizeDetection {
  readonly size: number;
  readonly source: SegmentSizeSource;
  /** The evidence that decided the size (`null` when configured or assumed). */
  readonly evidence: SizeEvidence | null;
  /** Evidence that does not fit `size`: each is a critical problem. */
  readonly conflicts: readonly SizeEvidence[];
}

/** A backup history file as the state keeps it: the start segment and offset of its name, its start LSN. */
export interface BackupLabelState {
  readonly walFile: string;
  readonly offset: number;
  readonly at: number;
  /** START WAL LOCATION as an exact decimal string; `null` when the file could not be read. */
  readonly startLsn: string | null;
}

/** The size a segment read says in its long page header, and which segment it was. */
export interface HeaderSegmentSize {
  readonly walFile: string;
  readonly size: number;
}

/** Every valid segment size, smallest first. */
export function validSegmentSizes(): number[] {
  const sizes: number[] = [];
  for (let size = MIN_SEGMENT_SIZE; size <= MAX_SEGMENT_SIZE; size *= 2) sizes.push(size);
  return sizes;
}

/**
 * The sizes under which a backup's start LSN lies in the segment its name gives: WAL-G names a backup after
 * the segment of its start LSN, or of the byte before it when the backup was taken on a replica.
 */
export function sizesFittingBackupStart(startWalFile: string, startLsn: Lsn): number[] {
  return validSegmentSizes().filter((size) => {
    const name = parseWalFileName(startWalFile, size);
    return (
      name.ok &&
      (segmentOfLsn(startLsn, size) === name.segno || segmentBeforeLsn(startLsn, size) === name.segno)
    );
  });
}

/** The sizes under which a backup history file's name (segment and offset) spells its start LSN. */
export function sizesFittingBackupLabel(walFile: string, offset: number, startLsn: Lsn): number[] {
  return validSegmentSizes().filter((size) => {
    const name = parseWalFileName(walFile, size);
    return (
      name.ok && segmentOfLsn(startLsn, size) === name.segno && Number(startLsn % BigInt(size)) === offset
    );
  });
}

/** The parts of a state that tell the segment size. */
export type SizeEvidenceState = Pick<
  ClusterState,
  'backups' | 'backupLabels' | 'headerSegmentSize' | 'plainSegmentSizes'
>;

/** Everything in the state that tells the segment size, most trusted source first, then by subject. */
export function collectSizeEvidence(state: SizeEvidenceState): SizeEvidence[] {
  const evidence: SizeEvidence[] = [];
  for (const [key, label] of Object.entries(state.backupLabels ?? {})) {
    if (label.startLsn === null) continue;
    evidence.push({
      source: 'backup-label',
      subject: key,
      sizes: sizesFittingBackupLabel(label.walFile, label.offset, BigInt(label.startLsn)),
    });
  }
  for (const [name, backup] of Object.entries(state.backups)) {
    const facts = backup.sentinel?.parse.ok ? backup.sentinel.parse.value : null;
    const parsedName = parseBackupName(name);
    if (facts?.format !== 'wal-g' || facts.startLsn === null || !parsedName) continue;
    evidence.push({
      source: 'sentinel',
      subject: name,
      sizes: sizesFittingBackupStart(parsedName.startWalFile, BigInt(facts.startLsn)),
    });
  }
  const header = state.headerSegmentSize;
  if (header) evidence.push({ source: 'page-header', subject: header.walFile, sizes: [header.size] });
  const plain = plainSizeEvidence(state.plainSegmentSizes);
  if (plain) evidence.push(plain);
  const rank = (entry: SizeEvidence): number => EVIDENCE_ORDER.indexOf(entry.source);
  return evidence.sort(
    (a, b) => rank(a) - rank(b) || (a.subject < b.subject ? -1 : a.subject > b.subject ? 1 : 0),
  );
}

/**
 * What the uncompressed segment objects of a valid segment size say: an archived segment is exactly the
 * segment size before compression, so when they all have one size, that is the size; objects of several
 * sizes decide nothing (and each size that does not fit is a defect of its own).
 */
function plainSizeEvidence(sizes: SizeEvidenceState['plainSegmentSizes']): SizeEvidence | undefined {
  const found = Object.keys(sizes ?? {})
    .map(Number)
    .sort((a, b) => a - b);
  if (!sizes || found.length === 0) return undefined;
  let subject: string | undefined;
  for (const size of found) {
    for (const [tli, runs] of Object.entries(sizes[String(size)] ?? {})) {
      const first = runs[0];
      if (!first) continue;
      const name = walFileName(Number(tli), first[0], MIN_SEGMENT_SIZE);
      if (subject === undefined || name < subject) subject = name;
    }
  }
  return { source: 'object-size', subject: subject ?? '', sizes: found };
}

/**
 * Decides a cluster's segment size: the configured size when set, else the first reliable evidence (one
 * that fits a single size; backup history files before sentinels before page headers before the sizes of
 * uncompressed segment objects), else 16 MiB,
 * assumed. Evidence that does not fit the decided size is returned as conflicts.
 */
export function detectSegmentSize(
  state: SizeEvidenceState,
  setting: SegmentSizeSetting,
): SegmentSizeDetection {
  const evidence = collectSizeEvidence(state);
  const conflictsWith = (size: number): SizeEvidence[] =>
    evidence.filter((entry) => !entry.sizes.includes(size));
  if (setting !== 'auto')
    return { size: setting, source: 'configured', evidence: null, conflicts: conflictsWith(setting) };
  const decider = evidence.find((entry) => entry.sizes.length === 1);
  if (decider) {
    const size = decider.sizes[0] as number;
    return { size, source: decider.source, evidence: decider, conflicts: conflictsWith(size) };
  }
  return {
    size: DEFAULT_SEGMENT_SIZE,
    source: 'assumed',
    evidence: null,
    conflicts: conflictsWith(DEFAULT_SEGMENT_SIZE),
  };
}

/** `64 MiB`, `1 GiB`: a segment size as people write it. */
export function formatSegmentSize(size: number): string {
  return size >= 1024 ** 3 ? `${size / 1024 ** 3} GiB` : `${size / 1024 ** 2} MiB`;
}

/** A piece of evidence in words, for problem messages. */
export function describeSizeEvidence(entry: SizeEvidence): string {
  const fits =
    entry.sizes.length === 0
      ? 'fits no segment size'
      : `says ${entry.sizes.map(formatSegmentSize).join(' or ')} segments`;
  const what =
    entry.source === 'backup-label'
      ? `backup history file ${entry.subject}`
      : entry.source === 'sentinel'
        ? `the sentinel of ${entry.subject}`
        : entry.source === 'page-header'
          ? `the page header of segment ${entry.subject}`
          : `the size of uncompressed segment objects (from ${entry.subject})`;
  return `${what} ${fits}`;
}

/**
 * What walwatch predicts a restore reaches, from the archive alone: the timeline, the end of the last
 * record replayed and the last transaction's commit or abort time. For `latest` this is the analysis's
 * latest recoverable point, refined by reading the chain's last segment; for a time or LSN target the
 * chain's segments are read from the backup's start to the record where recovery stops.
 */
import { loadNativeCrc32c } from '../codec/crc32c-native.js';
import { decompress } from '../codec/decompress.js';
import type { DrillPoint } from '../core/drill.js';
import { WAL_EXTENSIONS } from '../core/keys.js';
import { formatLsn, type Lsn, parseLsn, segmentOfLsn, segmentStartLsn, walFileName } from '../core/lsn.js';
import type { ClusterReport } from '../core/report.js';
import { WalReader } from '../core/wal/wal-reader.js';
import { isObjectAbsent, type ObjectReader } from '../sources/archive-source.js';

/** A drill's prediction: the point, and the span of the last record, within which the reached end may lie. */
export interface DrillPrediction {
  readonly point: DrillPoint;
  /** Start of the last record replayed: a reached end from here to `point.lsn` is the same record. */
  readonly lastRecordLsn: Lsn | null;
  readonly endLsn: Lsn | null;
  /** Whether recovery stops at the target (`true`) or runs out of WAL before it (`false`). */
  readonly stopsAtTarget: boolean;
  readonly notes: readonly string[];
}

/** A target recovery stops at, in the units the scan compares. */
export type StopTarget =
  | { readonly kind: 'latest' }
  | { readonly kind: 'time'; readonly micros: bigint }
  | { readonly kind: 'lsn'; readonly lsn: Lsn };

/**
 * Predicts the end of a restore of `backupStartLsn`'s backup to `target`.
 *
 * @param report - the cluster's analysis, with exact commit times (content read)
 */
export async function predictDrill(
  reader: ObjectReader,
  report: ClusterReport,
  target: StopTarget,
  backupStartLsn: Lsn,
): Promise<DrillPrediction> {
  const lrp = report.latestRecoverable;
  if (!lrp) {
    return {
      point: { timeline: null, lsn: null, lastCommitTime: null },
      lastRecordLsn: null,
      endLsn: null,
      stopsAtTarget: false,
      notes: ['no restorable backup: nothing to predict'],
    };
  }
  const size = report.segmentSize;
  const chainEnd = segmentOfLsn((parseLsn(lrp.lsn) as Lsn) - 1n, size);
  if (target.kind !== 'latest') {
    const scanned = await scanToTarget(reader, report, target, backupStartLsn, chainEnd);
    if (scanned) return scanned;
  }
  const notes: string[] = [];
  if (target.kind !== 'latest')
    notes.push('the target lies after the last archived transaction: recovery replays all archived WAL');
  const end = await readChainEnd(reader, report, chainEnd);
  if ('error' in end) notes.push(`the last segment of the chain could not be read: ${end.error}`);
  const endLsn = 'error' in end ? (parseLsn(lrp.lsn) as Lsn) : replayPositionAfter(end.endLsn);
  return {
    point: { timeline: lrp.timeline, lsn: formatLsn(endLsn), lastCommitTime: lrp.lastCommitTime },
    lastRecordLsn: 'error' in end ? (parseLsn(lrp.lastCommitLsn ?? '') ?? null) : end.lastRecordLsn,
    endLsn,
    stopsAtTarget: false,
    notes,
  };
}

async function readChainEnd(
  reader: ObjectReader,
  report: ClusterReport,
  segno: number,
): Promise<{ endLsn: Lsn; lastRecordLsn: Lsn } | { error: string }> {
  const size = report.segmentSize;
  const { crc32c } = loadNativeCrc32c();
  const walReader = new WalReader({ crc32c });
  // The segment before joins a record that began there, so the last record is known even then.
  let content: ReturnType<WalReader['readSegment']> | undefined;
  for (const n of [segno - 1, segno]) {
    if (n < 0) continue;
    const name = walFileName(expectedTimeline(report, n), n, size);
    const body = await readWalObject(reader, report.id, name, size);
    if ('error' in body) {
      if (n === segno) return body;
      continue;
    }
    content = walReader.readSegment(body.bytes, { fileName: name });
  }
  if (!content?.endLsn || content.lastRecordLsn === undefined)
    return { error: content?.error ?? 'no valid record' };
  // A WAL switch record ends its segment: PostgreSQL's replay position moves to the next segment's start.
  const endLsn = content.endsWithSwitch ? segmentStartLsn(segno + 1, size) : content.endLsn;
  return { endLsn, lastRecordLsn: content.lastRecordLsn };
}

/**
 * Reads the chain from the backup's start segment until the record where recovery stops for `target`:
 * for a time, before the first commit or abort later than it (`recovery_target_inclusive`); for an LSN,
 * after the first record starting at or past it. `undefined` when the chain ends first.
 */
async function scanToTarget(
  reader: ObjectReader,
  report: ClusterReport,
  target: Exclude<StopTarget, { kind: 'latest' }>,
  backupStartLsn: Lsn,
  chainEnd: number,
): Promise<DrillPrediction | undefined> {
  const size = report.segmentSize;
  const { crc32c } = loadNativeCrc32c();
  let records: Array<{ lsn: Lsn; end: Lsn }> = [];
  const walReader = new WalReader({
    crc32c,
    collectTimedRecords: true,
    onRecord: (record) =>
      records.push({ lsn: record.lsn, end: recordEnd(record.lsn, record.totalLength, size) }),
  });
  let previous: { lsn: Lsn; end: Lsn } | undefined;
  let lastTransaction: { time: string; lsn: Lsn } | undefined;
  for (let segno = segmentOfLsn(backupStartLsn, size); segno <= chainEnd; segno++) {
    const timeline = expectedTimeline(report, segno);
    const name = walFileName(timeline, segno, size);
    const body = await readWalObject(reader, report.id, name, size);
    if ('error' in body) return undefined;
    records = [];
    const content = walReader.readSegment(body.bytes, { fileName: name });
    const ends = (content.timedRecords ?? []).filter(
      (r): r is Extract<typeof r, { kind: 'commit' | 'abort' }> =>
        (r.kind === 'commit' || r.kind === 'abort') && r.lsn >= backupStartLsn,
    );
    let stop: { lsn: Lsn; end: Lsn; last: { lsn: Lsn; end: Lsn } } | undefined;
    if (target.kind === 'time') {
      const first = ends.find((r) => r.timeMicros > target.micros);
      if (first) {
        const at = records.findIndex((r) => r.lsn === first.lsn);
        const before = at > 0 ? records[at - 1] : previous;
        if (before) stop = { lsn: first.lsn, end: before.end, last: before };
      }
    } else {
      const first = records.find((r) => r.lsn >= target.lsn);
      if (first) stop = { lsn: first.lsn, end: first.end, last: first };
    }
    if (stop) {
      const stopLsn = stop.last.lsn;
      // PostgreSQL stops after the record an LSN target reaches before it notes that record's commit time
      // (xlogrecovery.c, recoveryStopsAfter): the target's own commit is replayed but is not the "last
      // completed transaction". A time target stops before a commit, after the one before it.
      const counts = (r: { lsn: Lsn; timeMicros: bigint }): boolean =>
        target.kind === 'time' ? r.lsn <= stopLsn && r.timeMicros <= target.micros : r.lsn < stopLsn;
      const last = ends.filter(counts).at(-1);
      if (last) lastTransaction = { time: last.time, lsn: last.lsn };
      const end = replayPositionAfter(stop.end);
      return {
        point: {
          timeline,
          lsn: formatLsn(end),
          lastCommitTime: lastTransaction?.time ?? null,
        },
        lastRecordLsn: stop.last.lsn,
        endLsn: end,
        stopsAtTarget: true,
        notes: [],
      };
    }
    const last = ends.at(-1);
    if (last) lastTransaction = { time: last.time, lsn: last.lsn };
    previous = records.at(-1) ?? previous;
  }
  return undefined;
}

const PAGE = 8192n;
/** PostgreSQL's MAXALIGN: records start on 8-byte boundaries. */
const MAXALIGN = 8n;

/**
 * The replay position PostgreSQL reports after a record ending at `end` (`pg_last_wal_replay_lsn()`, the
 * reader's `EndRecPtr`): the end rounded up to the next 8-byte boundary, where the next record would start.
 */
export function replayPositionAfter(end: Lsn): Lsn {
  return ((end + MAXALIGN - 1n) / MAXALIGN) * MAXALIGN;
}

/**
 * Where a record of `totalLength` bytes starting at `lsn` ends, past the page headers it crosses (24
 * bytes, 40 at a segment's first page); {@link replayPositionAfter} gives PostgreSQL's `EndRecPtr`.
 */
export function recordEnd(lsn: Lsn, totalLength: number, segmentSize: number): Lsn {
  const segment = BigInt(segmentSize);
  let at = lsn;
  let left = BigInt(totalLength);
  while (left > 0n) {
    if (at % PAGE === 0n) at += at % segment === 0n ? 40n : 24n;
    const room = PAGE - (at % PAGE);
    const take = left < room ? left : room;
    at += take;
    left -= take;
  }
  return at;
}

/** Reads and decompresses an archived WAL file under whichever extension holds it. */
export async function readWalObject(
  reader: ObjectReader,
  root: string,
  fileName: string,
  maxBytes: number,
): Promise<{ bytes: Uint8Array } | { error: string }> {
  const base = `${root === '' ? '' : `${root}/`}wal_005/${fileName}`;
  let lastError = 'not found';
  for (const [extension, method] of WAL_EXTENSIONS) {
    let body: Uint8Array;
    try {
      body = await reader.read(`${base}${extension}`);
    } catch (error) {
      if (!isObjectAbsent(error)) lastError = (error as Error).message;
      continue;
    }
    try {
      return { bytes: await decompress(body, method, { maxBytes }) };
    } catch (error) {
      return { error: `${fileName}: ${(error as Error).message}` };
    }
  }
  return { error: `${fileName}: ${lastError}` };
}

/** The timeline recovery reads segment `segno` from: the newest lineage timeline begun in or before it. */
export function expectedTimeline(report: ClusterReport, segno: number): number {
  const begin = (timeline: { switchLsn: string | null }): number =>
    timeline.switchLsn === null ? 0 : segmentOfLsn(parseLsn(timeline.switchLsn) as Lsn, report.segmentSize);
  const lineage = report.timelines.filter((t) => t.inLineage).sort((a, b) => a.id - b.id);
  let timeline = lineage[0]?.id ?? report.targetTimeline;
  for (const step of lineage) if (begin(step) <= segno) timeline = step.id;
  return timeline;
}

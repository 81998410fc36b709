/**
 * Exact commit times for recoverable intervals: reads the segment at the end of each recovery chain (and,
 * when it holds no commit, the ones before it) and finds the newest commit or abort record — the latest
 * valid `recovery_target_time`. Segment bodies are read here and nowhere else in a listing analysis.
 */

import { loadNativeCrc32c } from '../codec/crc32c-native.js';
import { decompress } from '../codec/decompress.js';
import type { SegmentCommit } from '../core/config.js';
import { WAL_EXTENSIONS } from '../core/keys.js';
import { formatLsn, parseLsn, segmentOfLsn, walFileName } from '../core/lsn.js';
import type { ClusterReport } from '../core/report.js';
import { readSegment } from '../core/wal/wal-reader.js';
import { isObjectAbsent, type ObjectReader } from './archive-source.js';

/** Newest commit per chain end, and why some could not be read. */
export interface ChainCommits {
  readonly commits: Map<string, SegmentCommit>;
  readonly errors: string[];
  /**
   * Chain ends (`"<timeline>:<segno>"`) not settled because a read failed for a passing reason (throttling,
   * a 5xx, the network): worth reading again, unlike a segment that is missing or unreadable.
   */
  readonly unsettled: Set<string>;
}

/** Per archive (report id), the index in `WAL_EXTENSIONS` that last held a segment: tried first next time. */
const lastExtension = new Map<string, number>();

/**
 * Reads the commits at the end of every recoverable interval of a report.
 *
 * @param lookBack - how many segments before the chain end to search for a commit
 */
export async function readChainCommits(
  source: ObjectReader,
  report: ClusterReport,
  lookBack = 8,
): Promise<ChainCommits> {
  const commits = new Map<string, SegmentCommit>();
  const errors: string[] = [];
  const unsettled = new Set<string>();
  const size = report.segmentSize;
  // Native CRC-32C where the package is installed (CLI, local monitor); the tables in Lambda bundles.
  const { crc32c } = loadNativeCrc32c();
  for (const interval of report.recoverableIntervals) {
    const end = segmentOfLsn((parseLsn(interval.toLsn) as bigint) - 1n, size);
    const endTimeline = expectedTimeline(report, end);
    const floor = segmentOfLsn(parseLsn(interval.fromLsn) as bigint, size);
    for (let segno = end; segno >= Math.max(floor, end - lookBack); segno--) {
      const timeline = expectedTimeline(report, segno);
      const name = walFileName(timeline, segno, size);
      const body = await readSegmentObject(
        source,
        `${report.id === '' ? '' : `${report.id}/`}wal_005/${name}`,
        size,
        report.id,
      );
      if ('error' in body) {
        errors.push(`${name}: ${body.error}`);
        if (body.passing) unsettled.add(`${endTimeline}:${end}`);
        break;
      }
      const content = readSegment(body.bytes, { fileName: name, crc32c });
      if (content.error && content.lastTransactionEnd === undefined) errors.push(`${name}: ${content.error}`);
      const last = content.lastTransactionEnd;
      if (last) {
        commits.set(`${endTimeline}:${end}`, {
          lastCommitTime: last.time,
          lastCommitLsn: formatLsn(last.lsn),
        });
        break;
      }
    }
  }
  return { commits, errors, unsettled };
}

/**
 * Reads a segment under whichever extension it was stored with, trying first the one that held the
 * archive's last segment. `passing` marks a failure worth retrying: some read failed for another reason
 * than the object being absent or refused.
 */
async function readSegmentObject(
  source: ObjectReader,
  base: string,
  segmentSize: number,
  archive: string,
): Promise<{ bytes: Uint8Array } | { error: string; passing: boolean }> {
  let lastError = 'not found';
  let passing: string | undefined;
  const first = lastExtension.get(archive) ?? 0;
  const order = [first, ...WAL_EXTENSIONS.keys()].filter((index, at) => at === 0 || index !== first);
  for (const index of order) {
    const [extension, method] = WAL_EXTENSIONS[index] as (typeof WAL_EXTENSIONS)[number];
    let body: Uint8Array;
    try {
      body = await source.read(`${base}${extension}`);
    } catch (error) {
      lastError = (error as Error).message;
      if (!isObjectAbsent(error)) passing ??= lastError;
      continue;
    }
    lastExtension.set(archive, index);
    try {
      return { bytes: await decompress(body, method, { maxBytes: segmentSize }) };
    } catch (error) {
      return { error: `${(error as Error).name}: ${(error as Error).message}`, passing: false };
    }
  }
  return passing === undefined
    ? { error: `cannot read the segment: ${lastError}`, passing: false }
    : { error: `cannot read the segment now: ${passing}`, passing: true };
}

/**
 * The timeline recovery reads segment `segno` from: the newest lineage timeline that began in or before it
 * (a switch segment is read from the new timeline).
 */
function expectedTimeline(report: ClusterReport, segno: number): number {
  const begin = (timeline: { switchLsn: string | null }): number =>
    timeline.switchLsn === null
      ? 0
      : segmentOfLsn(parseLsn(timeline.switchLsn) as bigint, report.segmentSize);
  const lineage = report.timelines.filter((t) => t.inLineage).sort((a, b) => a.id - b.id);
  let timeline = lineage[0]?.id ?? report.targetTimeline;
  for (const step of lineage) if (begin(step) <= segno) timeline = step.id;
  return timeline;
}

/** The `segmentCommit` hook of the analysis over what was read. */
export function commitLookup(
  commits: ReadonlyMap<string, SegmentCommit>,
): (timeline: number, segno: number) => SegmentCommit | undefined {
  return (timeline, segno) => commits.get(`${timeline}:${segno}`);
}

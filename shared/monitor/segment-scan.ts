/**
 * The content scan (`WALWATCH_READ_CONTENT=all`): reads every archived segment once, stores its summary
 * and keeps the segments recovery cannot read to the end in the cluster state (`defects`), where the
 * analysis treats them as missing.
 *
 * It walks each cluster's present segments in (timeline, segno) order from a stored cursor, reading those
 * without a summary, a bounded number per run. New segments are reached on the next run; segments that
 * arrive behind the cursor (a filled hole, an adopted listing) and replaced objects on the next pass over
 * the whole archive, which starts at most once per `passIntervalMs` — segments already summarized cost one
 * batched read per 100 then, never a download.
 */

import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { compressionMethodOfKey } from '../codec/compression-method.js';
import { walFileName } from '../core/lsn.js';
import { impossibleSegmentSize } from '../core/object-size.js';
import type { Run } from '../core/runs.js';
import { expectedSystemIdentifier, judgeSegment } from '../core/segment-summary.js';
import { type ClusterState, type StoredSegmentDefect, segmentKey } from '../core/state.js';
import type { ArchiveSource } from '../sources/archive-source.js';
import { readSegmentSummary } from '../sources/read-segment-summary.js';
import type { VersionedState } from '../store/cluster-states.js';
import { getFactItems } from '../store/fact-items.js';
import {
  getScanCursor,
  putScanCursor,
  putSegmentSummary,
  type ScanCursor,
  type StoredSegmentSummary,
  summarizedSegments,
} from '../store/segment-summaries.js';
import { segmentFactKey } from '../store/table.js';

/** What the scan needs: the table, state access with optimistic writes, and the archive's objects. */
export interface SegmentScanDependencies {
  readonly db: DynamoDBDocumentClient;
  readonly table: string;
  readonly getState: (clusterId: string) => Promise<VersionedState | undefined>;
  readonly putState: (state: ClusterState, ver: number) => Promise<'written' | 'conflict'>;
  readonly source: ArchiveSource;
  readonly now: () => number;
}

/** Limits of one run. */
export interface SegmentScanOptions {
  /** Segments downloaded at most per cluster and run (default 64). */
  readonly maxReads?: number;
  /** Stop starting new reads after this epoch-ms time (a Lambda's remaining time). */
  readonly deadline?: number;
  /** Segments read at once (default 4). */
  readonly concurrency?: number;
  /** Least time between two passes over the whole archive (default 24 h). */
  readonly passIntervalMs?: number;
}

/** What one run did for a cluster. */
export interface SegmentScanResult {
  /** Segments downloaded and summarized. */
  readonly read: number;
  /** Segments found sound before and skipped. */
  readonly skipped: number;
  /** Defects found in this run, by WAL file name. */
  readonly defects: readonly string[];
  /** Segments that could not be read (missing, unreadable compression): no defect, no summary of content. */
  readonly errors: readonly string[];
  /** Whether the cursor reached the newest segment. */
  readonly caughtUp: boolean;
}

const DEFAULT_MAX_READS = 64;
const DEFAULT_CONCURRENCY = 4;
const DEFAULT_PASS_INTERVAL_MS = 24 * 3_600_000;
const LOOK_AHEAD = 100;
const STATE_ATTEMPTS = 6;

/** Runs the content scan of one cluster once. */
export async function scanSegmentContent(
  deps: SegmentScanDependencies,
  clusterId: string,
  options: SegmentScanOptions = {},
): Promise<SegmentScanResult> {
  const maxReads = options.maxReads ?? DEFAULT_MAX_READS;
  const passIntervalMs = options.passIntervalMs ?? DEFAULT_PASS_INTERVAL_MS;
  const stored = await deps.getState(clusterId);
  const result = { read: 0, skipped: 0, defects: [] as string[], errors: [] as string[], caughtUp: false };
  if (!stored) return { ...result, caughtUp: true };
  const { state } = stored;
  const read = await getScanCursor(deps.db, deps.table, clusterId);
  let cursor: Omit<ScanCursor, 'ver'> = read;
  let pending = segmentsAfter(state, cursor.timeline, cursor.segno);
  if (pending.length === 0 && deps.now() - cursor.passStartedAt >= passIntervalMs) {
    cursor = { ...cursor, timeline: 0, segno: -1, passStartedAt: deps.now() };
    pending = segmentsAfter(state, 0, -1);
  }
  if (read.ver === 0) cursor = { ...cursor, passStartedAt: deps.now() };

  const systemIdentifier = expectedSystemIdentifier(state);
  const found = new Map<string, StoredSegmentDefect | null>();
  while (pending.length > 0 && result.read < maxReads) {
    if (options.deadline !== undefined && deps.now() >= options.deadline) break;
    const window = pending.slice(0, LOOK_AHEAD);
    const names = window.map(({ timeline, segno }) => walFileName(timeline, segno, state.segmentSize));
    const known = await summarizedSegments(deps.db, deps.table, clusterId, names);
    const facts = await getFactItems(
      deps.db,
      deps.table,
      names.map((walFile) => segmentFactKey(clusterId, walFile)),
    );
    // Decide per segment: read it (no summary of this object version) or skip it.
    const plan = window.map((segment, index) => {
      const walFile = names[index] as string;
      const item = facts.get(segmentFactKey(clusterId, walFile));
      const present = Object.entries(item?.facts ?? {})
        .filter(([, stored]) => stored.fact.present)
        .sort(([, a], [, b]) => b.fact.at - a.fact.at)[0];
      const summary = known.get(walFile);
      // The same object version: same key, ETag and stored-at (a folder has no ETags, only mtimes).
      const same =
        summary !== undefined &&
        present !== undefined &&
        summary.key === present[0] &&
        summary.etag === present[1].fact.etag &&
        summary.objectAt === present[1].fact.at;
      // A size that rules the object out is a defect the fold keeps already: nothing to download.
      const ruledOut =
        present !== undefined &&
        impossibleSegmentSize(
          present[1].fact.size,
          compressionMethodOfKey(present[0]).method,
          state.segmentSize,
        ) !== undefined;
      const read = present && !same && !ruledOut ? { key: present[0], fact: present[1].fact } : undefined;
      return { segment, read };
    });
    // Read a few at a time: a read waits mostly on S3.
    const outcomes = new Map<number, ReadOutcome>();
    const reads = plan.flatMap((step, index) => (step.read ? [index] : [])).slice(0, maxReads - result.read);
    let next = 0;
    const expired = (): boolean => options.deadline !== undefined && deps.now() >= options.deadline;
    const readNext = async (): Promise<void> => {
      const index = reads[next++] as number;
      const step = plan[index] as (typeof plan)[number];
      const { key, fact } = step.read as NonNullable<typeof step.read>;
      outcomes.set(index, await readOne(deps, state, systemIdentifier, clusterId, step.segment, key, fact));
    };
    const worker = async (): Promise<void> => {
      while (next < reads.length && !expired()) await readNext();
    };
    await Promise.all(Array.from({ length: options.concurrency ?? DEFAULT_CONCURRENCY }, worker));
    // Handled: every segment before the first read that did not start (cut by the read limit or deadline)
    // or failed for a passing reason.
    const firstUnread = plan.findIndex(
      (step, index) => step.read !== undefined && (outcomes.get(index)?.passing ?? true),
    );
    const retried = outcomes.get(firstUnread);
    if (retried) result.errors.push(`${retried.name}: ${retried.error} (read again next run)`);
    const handled = firstUnread === -1 ? plan.length : firstUnread;
    for (let index = 0; index < handled; index++) {
      const step = plan[index] as (typeof plan)[number];
      const outcome = outcomes.get(index);
      if (outcome) {
        result.read++;
        if (outcome.error) result.errors.push(`${outcome.name}: ${outcome.error}`);
        if (outcome.defect) result.defects.push(outcome.name);
        found.set(segmentKey(step.segment.timeline, step.segment.segno), outcome.defect);
      } else {
        result.skipped++;
      }
      cursor = { ...cursor, timeline: step.segment.timeline, segno: step.segment.segno };
    }
    pending = pending.slice(handled);
    if (handled < window.length) break;
  }
  result.caughtUp = pending.length === 0;

  await recordDefects(deps, clusterId, found, state.segmentSize);
  await putScanCursor(deps.db, deps.table, clusterId, read, cursor);
  return result;
}

/**
 * Runs the content scan over several clusters until `deadline`, giving each an equal share of the time left
 * when its turn comes, so one archive being backfilled does not starve the others.
 */
export async function scanClusters(
  deps: SegmentScanDependencies,
  clusterIds: readonly string[],
  options: Omit<SegmentScanOptions, 'deadline'> & { readonly deadline: number },
): Promise<Map<string, SegmentScanResult>> {
  const results = new Map<string, SegmentScanResult>();
  for (const [index, clusterId] of clusterIds.entries()) {
    const share = Math.max(0, (options.deadline - deps.now()) / (clusterIds.length - index));
    results.set(
      clusterId,
      await scanSegmentContent(deps, clusterId, { ...options, deadline: deps.now() + share }),
    );
  }
  return results;
}

interface ReadOutcome {
  readonly name: string;
  readonly defect: StoredSegmentDefect | null;
  readonly error: string | null;
  /** The download failed for a passing reason: nothing was stored and the segment is read again. */
  readonly passing: boolean;
}

async function readOne(
  deps: SegmentScanDependencies,
  state: ClusterState,
  systemIdentifier: string | null,
  clusterId: string,
  segment: { timeline: number; segno: number },
  key: string,
  object: { readonly etag: string | null; readonly at: number },
): Promise<ReadOutcome> {
  const { etag } = object;
  const { baseName } = compressionMethodOfKey(key);
  const outcome = await readSegmentSummary(deps.source, key, state.segmentSize);
  const { summary, readError, passing } = outcome;
  const oversized = outcome.summary === null ? outcome.oversized : undefined;
  // A download that may work later stores nothing: the cursor stays before the segment and reads it again.
  if (passing) return { name: baseName, defect: null, error: readError, passing: true };
  const judged =
    oversized ??
    (summary &&
      judgeSegment(summary, {
        ...segment,
        segmentSize: state.segmentSize,
        systemIdentifier,
      }));
  const relative = clusterId === '' ? key : key.slice(clusterId.length + 1);
  const defect: StoredSegmentDefect | null = judged ? { ...judged, key: relative, etag } : null;
  const stored: StoredSegmentSummary = {
    clusterId,
    ...segment,
    key,
    etag,
    objectAt: object.at,
    readAt: deps.now(),
    summary,
    readError,
    defect: judged ?? null,
  };
  await putSegmentSummary(
    deps.db,
    deps.table,
    walFileName(segment.timeline, segment.segno, state.segmentSize),
    stored,
  );
  return { name: baseName, defect, error: readError, passing: false };
}

/** Adds found defects to the state and drops those a new read found sound, with optimistic retries. */
async function recordDefects(
  deps: SegmentScanDependencies,
  clusterId: string,
  found: ReadonlyMap<string, StoredSegmentDefect | null>,
  segmentSize: number,
): Promise<void> {
  if (found.size === 0) return;
  for (let attempt = 0; attempt < STATE_ATTEMPTS; attempt++) {
    const stored = await deps.getState(clusterId);
    // Re-counted under another segment size meanwhile: these segment numbers mean other segments now.
    if (!stored || stored.state.segmentSize !== segmentSize) return;
    const defects = { ...(stored.state.defects ?? {}) };
    let changed = false;
    for (const [id, defect] of found) {
      if (defect) {
        if (JSON.stringify(defects[id]) !== JSON.stringify(defect)) changed = true;
        defects[id] = defect;
      } else if (id in defects) {
        delete defects[id];
        changed = true;
      }
    }
    if (!changed) return;
    if ((await deps.putState({ ...stored.state, defects }, stored.ver)) === 'written') return;
  }
  throw new Error(
    'the cluster state kept changing while recording segment defects; the next run tries again',
  );
}

/** Present segments after (timeline, segno), in (timeline, segno) order. */
function segmentsAfter(
  state: ClusterState,
  timeline: number,
  segno: number,
): Array<{ timeline: number; segno: number }> {
  const out: Array<{ timeline: number; segno: number }> = [];
  const timelines = Object.keys(state.segments)
    .map(Number)
    .filter((t) => t >= timeline)
    .sort((a, b) => a - b);
  for (const t of timelines) {
    for (const [first, last] of state.segments[String(t)] as Run[]) {
      for (let n = t === timeline ? Math.max(first, segno + 1) : first; n <= last; n++) {
        out.push({ timeline: t, segno: n });
        if (out.length >= 10_000) return out;
      }
    }
  }
  return out;
}

/**
 * `analyze --content all`: reads every listed segment of a cluster and finds those recovery cannot read
 * to the end. The cluster's database system is the one its newest backup names, else the one most of its
 * readable segments name, so one foreign segment stands out whatever order the listing has.
 */
import { parseObjectKey } from '../core/keys.js';
import { parseWalFileName } from '../core/lsn.js';
import { expectedSystemIdentifier, judgeSegment, type SegmentSummary } from '../core/segment-summary.js';
import { type ClusterState, type StoredSegmentDefect, segmentKey } from '../core/state.js';
import type { ArchiveSource } from './archive-source.js';
import { readSegmentSummary } from './read-segment-summary.js';

/** Defects by `"<timeline>:<segno>"`, and the objects that could not be read at all. */
export interface SegmentDefects {
  readonly defects: Record<string, StoredSegmentDefect>;
  readonly errors: string[];
}

/** Reads `keys` (segment objects of `state`'s cluster), a few at a time, and judges each. */
export async function findSegmentDefects(
  source: ArchiveSource,
  state: ClusterState,
  keys: readonly string[],
  options: {
    readonly concurrency?: number;
    readonly onProgress?: (event: { phase: 'reading'; done: number; total: number }) => void;
  } = {},
): Promise<SegmentDefects> {
  const read: Array<{ key: string; timeline: number; segno: number; summary: SegmentSummary }> = [];
  const defects: Record<string, StoredSegmentDefect> = {};
  const relativeOf = (key: string): string => (state.id === '' ? key : key.slice(state.id.length + 1));
  const errors: string[] = [];
  let next = 0;
  let done = 0;
  const worker = async (): Promise<void> => {
    while (next < keys.length) {
      const key = keys[next++] as string;
      const parsed = parseObjectKey(key);
      if (parsed?.object.kind !== 'segment') continue;
      const name = parseWalFileName(parsed.object.walFile, state.segmentSize);
      if (!name.ok) continue;
      const outcome = await readSegmentSummary(source, key, state.segmentSize);
      if (outcome.summary)
        read.push({ key, timeline: name.timeline, segno: name.segno, summary: outcome.summary });
      // A body larger than a segment is no segment of this cluster, whatever it holds.
      else if (outcome.oversized)
        defects[segmentKey(name.timeline, name.segno)] = { ...outcome.oversized, key: relativeOf(key) };
      else errors.push(`${parsed.object.walFile}: ${outcome.readError}`);
      done += 1;
      if (done % 16 === 0) options.onProgress?.({ phase: 'reading', done, total: keys.length });
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency ?? 4, 4) }, worker));

  // The newest backup names the cluster's database system; without one, most segments do.
  const votes = new Map<string, number>();
  for (const { summary } of read) {
    if (summary.systemIdentifier !== null)
      votes.set(summary.systemIdentifier, (votes.get(summary.systemIdentifier) ?? 0) + 1);
  }
  const systemIdentifier =
    expectedSystemIdentifier(state) ??
    [...votes.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))[0]?.[0];
  for (const { key, timeline, segno, summary } of read) {
    const defect = judgeSegment(summary, {
      timeline,
      segno,
      segmentSize: state.segmentSize,
      systemIdentifier: systemIdentifier ?? null,
    });
    if (defect) defects[segmentKey(timeline, segno)] = { ...defect, key: relativeOf(key), etag: null };
  }
  errors.sort();
  return { defects, errors };
}

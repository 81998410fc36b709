/**
 * WAL prefetch for a restore drill: while PostgreSQL replays, the drill process downloads the segments its
 * prediction says recovery reads next, decompressed, into a folder of the scratch directory. The drill's
 * `restore_command` moves a prefetched segment into place (`mv`, a rename on the same file system) and
 * falls back to `walwatch wal-fetch` for any other file, so a segment not prefetched, or one whose read
 * failed here, gets the verdict it gets without prefetch.
 *
 * Bounds: the plan runs from the backup's start segment to the segment of the predicted end, on the
 * timeline recovery reads each segment from, and stops at the drill's `--until` bound; at most
 * `concurrency` downloads run at once, and at most `lookaheadSegments` segments (or `lookaheadBytes`) lie
 * ahead of the last one the server is known to have taken. A wrong prediction costs at most that
 * lookahead in downloads.
 */
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { DrillPrefetch } from '../core/drill.js';
import { type Lsn, segmentOfLsn, walFileName } from '../core/lsn.js';
import type { ClusterReport } from '../core/report.js';
import type { ObjectReader } from '../sources/archive-source.js';
import { expectedTimeline } from './predict-drill.js';
import { isBeyondBound, readWalFile, type WalFetchBound, writeAtomically } from './wal-fetch.js';

/** One segment of a prefetch plan. */
export interface PrefetchSegment {
  /** The WAL file name recovery asks `restore_command` for. */
  readonly name: string;
  readonly segno: number;
}

/**
 * The segments a restore of the backup starting at `startLsn` reads, by the prediction: from the start
 * segment to the one holding the last byte before `endLsn`, each on the timeline recovery reads it from
 * (the newest lineage timeline begun in or before it), and none at or past the first one `bound` leaves
 * out of the archive (recovery ends at the first file it cannot get). Empty without a predicted end.
 *
 * @example
 * planPrefetch(report, 0x3000028n, 0x5000100n).map((s) => s.name)
 * // ['000000010000000000000003', '000000010000000000000004', '000000010000000000000005']
 */
export function planPrefetch(
  report: ClusterReport,
  startLsn: Lsn,
  endLsn: Lsn | null,
  bound?: WalFetchBound,
): PrefetchSegment[] {
  if (endLsn === null || endLsn <= startLsn) return [];
  const size = report.segmentSize;
  const plan: PrefetchSegment[] = [];
  for (let segno = segmentOfLsn(startLsn, size); segno <= segmentOfLsn(endLsn - 1n, size); segno++) {
    const name = walFileName(expectedTimeline(report, segno), segno, size);
    if (bound !== undefined && isBeyondBound(name, bound)) break;
    plan.push({ name, segno });
  }
  return plan;
}

/** What {@link startWalPrefetch} needs. */
export interface WalPrefetchOptions {
  /** Reads full keys of the bucket. */
  readonly reader: ObjectReader;
  /** The archive root (cluster id) holding `wal_005/`. */
  readonly root: string;
  /** The plan, in the order recovery reads it ({@link planPrefetch}). */
  readonly segments: readonly PrefetchSegment[];
  /** The folder segments are written to; it exists, and `restore_command` moves files out of it. */
  readonly dir: string;
  readonly segmentSize: number;
  /** Owner of the written files: the server's OS user when the drill runs as root. @default the current user */
  readonly owner?: { readonly uid: number; readonly gid: number };
  /** Downloads at once. @default 2 */
  readonly concurrency?: number;
  /** Segments fetched ahead of the last one the server took. @default 8 */
  readonly lookaheadSegments?: number;
  /** Bytes fetched ahead of the last segment the server took. @default 256 MiB */
  readonly lookaheadBytes?: number;
  /** How often the folder is read to see which files the server took. @default 100 ms */
  readonly pollMs?: number;
  /** Called with the counts when they change, at most every `progressMs`, and once more on stop. */
  readonly onProgress?: (counts: DrillPrefetch) => void;
  /** @default 1000 ms */
  readonly progressMs?: number;
}

/** A running prefetch. */
export interface WalPrefetch {
  /** The counts so far. */
  counts(): DrillPrefetch;
  /**
   * Tells the prefetch where replay is (`pg_last_wal_replay_lsn()`): the segments before it are taken,
   * also those the server fetched itself because they were not prefetched in time.
   */
  noteReplayed(lsn: Lsn): void;
  /**
   * Stops: aborts the reads under way, waits for the downloads to end (never for a hung read) and settles
   * the counts with a last look at the folder. Calling it again returns the same promise.
   */
  stop(): Promise<DrillPrefetch>;
}

type SegmentState = 'waiting' | 'fetching' | 'ready' | 'served' | 'failed' | 'absent' | 'passed' | 'unused';

const DEFAULT_LOOKAHEAD_BYTES = 256 * 1024 * 1024;

/**
 * Starts prefetching `segments` into `dir`. A file is written through a temporary dot file renamed into
 * place, so `restore_command` never moves part of a segment; the temporary names never match a WAL file
 * name PostgreSQL asks for. A segment the server took is seen by its file leaving the folder.
 *
 * @example
 * const prefetch = startWalPrefetch({ reader, root: 'spilo/demo/wal/15', segments, dir, segmentSize });
 * // … PostgreSQL replays, restore_command = mv -f dir/"%f" "%p" || walwatch wal-fetch …
 * const counts = await prefetch.stop(); // { planned, fetched, served, failed, absent }
 */
export function startWalPrefetch(options: WalPrefetchOptions): WalPrefetch {
  const { segments, dir } = options;
  const window = Math.max(
    1,
    Math.min(
      options.lookaheadSegments ?? 8,
      Math.floor((options.lookaheadBytes ?? DEFAULT_LOOKAHEAD_BYTES) / options.segmentSize),
    ),
  );
  const concurrency = Math.max(1, Math.min(options.concurrency ?? 2, window));
  const states: SegmentState[] = segments.map(() => 'waiting');
  // When each file was renamed into the folder, in poll generations: a listing begun before a file landed
  // says nothing about whether the server took it.
  const landedAt: number[] = segments.map(() => Number.POSITIVE_INFINITY);
  const counts = { planned: segments.length, fetched: 0, served: 0, failed: 0, absent: 0 };
  const abort = new AbortController();
  const aborted = new Promise<never>((_, reject) =>
    abort.signal.addEventListener('abort', () => reject(abort.signal.reason), { once: true }),
  );
  aborted.catch(() => undefined);
  let generation = 0;
  /** The last plan index the server is known to have taken; -1 before it took any. */
  let taken = -1;
  /** The plan ends before this index: recovery ends at the first file the archive does not hold. */
  let end = segments.length;
  let next = 0;
  let stopping: Promise<DrillPrefetch> | undefined;
  let wake: () => void = () => undefined;
  let woken = new Promise<void>((resolve) => {
    wake = resolve;
  });
  const signalChange = (): void => {
    const resolve = wake;
    woken = new Promise<void>((r) => {
      wake = r;
    });
    resolve();
  };

  const claim = async (): Promise<number | undefined> => {
    for (;;) {
      if (abort.signal.aborted) return undefined;
      while (next < end && next <= taken) states[next++] = 'passed';
      if (next >= end) return undefined;
      if (next <= taken + window) return next++;
      await woken;
    }
  };

  const fetchOne = async (index: number): Promise<void> => {
    const segment = segments[index] as PrefetchSegment;
    states[index] = 'fetching';
    const read = readWalFile(options.reader, options.root, segment.name, undefined, abort.signal);
    read.catch(() => undefined);
    try {
      const found = await Promise.race([read, aborted]);
      if (found.status === 'absent') {
        states[index] = 'absent';
        counts.absent += 1;
        end = Math.min(end, index + 1);
        return;
      }
      if (abort.signal.aborted) return;
      if (index <= taken) {
        states[index] = 'passed';
        return;
      }
      await writeAtomically(join(dir, segment.name), found.bytes, {
        sync: false,
        ...(options.owner ? { owner: options.owner } : {}),
      });
      states[index] = 'ready';
      landedAt[index] = generation;
      counts.fetched += 1;
    } catch {
      if (abort.signal.aborted) {
        states[index] = 'waiting';
        return;
      }
      // restore_command fetches this one itself, and gives the verdict it gives without prefetch.
      states[index] = 'failed';
      counts.failed += 1;
    }
  };

  const work = async (): Promise<void> => {
    for (let index = await claim(); index !== undefined; index = await claim()) await fetchOne(index);
  };

  let polling = false;
  const poll = async (): Promise<void> => {
    if (polling) return;
    polling = true;
    try {
      const listedFrom = ++generation;
      const takenAtListing = taken;
      let present: Set<string>;
      try {
        present = new Set(await readdir(dir));
      } catch {
        return;
      }
      let servedUpTo = -1;
      states.forEach((state, index) => {
        const segment = segments[index] as PrefetchSegment;
        if (state === 'ready' && (landedAt[index] as number) < listedFrom && !present.has(segment.name)) {
          states[index] = 'served';
          counts.served += 1;
          servedUpTo = index;
        }
      });
      const before = taken;
      taken = Math.max(taken, servedUpTo);
      // A file two or more segments behind the last one taken was fetched by the server itself: it will
      // not be asked for again. (One segment behind may still be: a backup whose checkpoint record lies in
      // the segment after its redo start is read checkpoint first.) Only what the listing can tell counts
      // here: the replay position may have moved past a file the server took after the listing was read.
      for (let index = 0; index < Math.max(takenAtListing, servedUpTo) - 1; index++) {
        const segment = segments[index] as PrefetchSegment;
        if (states[index] === 'ready' && present.has(segment.name)) {
          states[index] = 'unused';
          await rm(join(dir, segment.name), { force: true });
        }
      }
      if (taken !== before) signalChange();
    } finally {
      polling = false;
    }
  };

  let lastReported = '';
  let lastReportAt = Number.NEGATIVE_INFINITY;
  const report = (force: boolean): void => {
    const text = JSON.stringify(counts);
    const at = performance.now();
    if (!options.onProgress || text === lastReported) return;
    if (!force && at - lastReportAt < (options.progressMs ?? 1000)) return;
    lastReported = text;
    lastReportAt = at;
    options.onProgress({ ...counts });
  };

  report(true);
  const timer = setInterval(() => {
    void poll().then(() => report(false));
  }, options.pollMs ?? 100);
  const workers = Array.from({ length: concurrency }, () => work());

  return {
    counts: () => ({ ...counts }),
    noteReplayed: (lsn) => {
      const segno = segmentOfLsn(lsn - 1n, options.segmentSize);
      const first = segments[0]?.segno;
      if (first === undefined) return;
      const index = Math.min(segno - first, segments.length - 1);
      if (index > taken) {
        taken = index;
        signalChange();
      }
    },
    stop: () => {
      stopping ??= (async () => {
        clearInterval(timer);
        abort.abort(new Error('the prefetch was stopped'));
        signalChange();
        await Promise.allSettled(workers);
        while (polling) await new Promise((resolve) => setTimeout(resolve, 5));
        await poll();
        report(true);
        return { ...counts };
      })();
      return stopping;
    },
  };
}

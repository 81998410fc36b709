import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ClusterReport } from '../../../shared/core/report.js';
import { decompressLz4 } from '../postgres-archive.js';
import type { BaseBackupFacts } from '../postgres-backup.js';
import { dumpWal, formatPgLsn, parsePgLsn } from '../postgres-wal.js';
import type { PatroniCluster, PatroniNode } from './patroni-cluster.js';

// Expected values come from PostgreSQL (pg_stat_archiver, the archive status folder, pg_controldata, the
// history files, pg_waldump) and from the backups the test took, never from walwatch's own code.

/** The facts of a cluster that walwatch's report must show, in one comparable shape. */
export interface RecoverabilityFacts {
  readonly targetTimeline: number;
  /** `[id, parent, switchLsn]` of every timeline, oldest first. */
  readonly timelines: ReadonlyArray<readonly [number, number | null, string | null]>;
  readonly latest: {
    readonly timeline: number;
    readonly segment: string;
    readonly lsn: string;
    readonly lastCommitTime: string | null;
    readonly lastCommitLsn: string | null;
  } | null;
  readonly earliest: { readonly backup: string; readonly timeline: number; readonly lsn: string } | null;
  /** `[name, status, startLsn, finishLsn]`, oldest first. */
  readonly backups: ReadonlyArray<readonly [string, string, string | null, string | null]>;
  /** `[timeline, firstSegment, lastSegment]` of every gap. */
  readonly gaps: ReadonlyArray<readonly [number, string, string]>;
  /** Kinds of the warning and critical problems, sorted. */
  readonly problems: readonly string[];
}

/** Projects a walwatch cluster report onto {@link RecoverabilityFacts}. */
export function factsOfReport(report: ClusterReport | undefined): RecoverabilityFacts | undefined {
  if (!report) return undefined;
  const latest = report.latestRecoverable;
  const earliest = report.earliestRecoverable;
  return {
    targetTimeline: report.targetTimeline,
    timelines: report.timelines.map((t) => [t.id, t.parent, t.switchLsn] as const),
    latest: latest && {
      timeline: latest.timeline,
      segment: latest.segment,
      lsn: latest.lsn,
      lastCommitTime: latest.lastCommitTime,
      lastCommitLsn: latest.lastCommitLsn,
    },
    earliest: earliest && { backup: earliest.backup, timeline: earliest.timeline, lsn: earliest.lsn },
    backups: report.backups.map((b) => [b.name, b.status, b.startLsn, b.finishLsn] as const),
    gaps: report.gaps.map((g) => [g.timeline, g.firstSegment, g.lastSegment] as const),
    problems: report.problems
      .filter((p) => p.severity !== 'info')
      .map((p) => p.kind)
      .sort(),
  };
}

/** A timeline as its history file (in the leader's `pg_wal`) records it. */
interface HistoryEntry {
  readonly id: number;
  readonly parent: number | null;
  readonly switchLsn: string | null;
}

/**
 * Reads what PostgreSQL says about the cluster now, or `undefined` while it is not settled: the leader
 * must have archived every completed segment (no `.ready` status file, `pg_stat_archiver` names the
 * segment before the one being written) and its `pg_controldata` must show its current timeline.
 * `backups` are the WAL-G-style backups the test took, oldest first.
 */
export async function readClusterFacts(
  cluster: PatroniCluster,
  backups: readonly BaseBackupFacts[],
  commitCache: Map<string, CommitFact | null> = new Map(),
): Promise<RecoverabilityFacts | undefined> {
  const leader = await cluster.findLeader();
  if (!leader) return undefined;
  const segmentSize = cluster.walSegmentSize;
  const [current = '', ready = '', archived = ''] = (
    await leader.runSql(
      `SELECT pg_walfile_name(pg_current_wal_lsn()),
              (SELECT count(*) FROM pg_ls_archive_statusdir() WHERE name ~ '^[0-9A-F]{24}\\.ready$'),
              (SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver)`,
      5_000,
    )
  ).split('|');
  const timeline = Number.parseInt(current.slice(0, 8), 16);
  if (ready !== '0' || !/^[0-9A-F]{24}$/.test(archived) || archived.slice(0, 8) !== current.slice(0, 8))
    return undefined;
  const head = segmentNumber(archived, segmentSize);
  const writing = segmentNumber(current, segmentSize);
  if (head !== writing && head !== writing - 1) return undefined;
  const control = await leader.readControlData();
  if (Number(control["Latest checkpoint's TimeLineID"]) !== timeline) return undefined;

  const history = await readHistory(leader, timeline);
  const oldest = backups[0];
  return {
    targetTimeline: timeline,
    timelines: history.map((t) => [t.id, t.parent, t.switchLsn] as const),
    latest: oldest
      ? {
          timeline,
          segment: archived,
          lsn: formatPgLsn(BigInt(head + 1) * BigInt(segmentSize)),
          ...(await findLastCommit(cluster, history, head, commitCache)),
        }
      : null,
    earliest: oldest ? { backup: oldest.name, timeline: oldest.timeline, lsn: oldest.finishLsn } : null,
    backups: backups.map((b) => [b.name, 'restorable', b.startLsn, b.finishLsn] as const),
    gaps: [],
    problems: [],
  };
}

/** The newest commit or abort record of the archive's lineage, as pg_waldump prints it. */
export interface CommitFact {
  readonly lastCommitTime: string;
  readonly lastCommitLsn: string;
}

/** Reads the timelines of the lineage of `timeline` from the leader's history files. */
async function readHistory(leader: PatroniNode, timeline: number): Promise<HistoryEntry[]> {
  const entries: HistoryEntry[] = [{ id: 1, parent: null, switchLsn: null }];
  const walDir = join(leader.dataDir, 'pg_wal');
  if (timeline === 1) return entries;
  const name = `${timeline.toString(16).toUpperCase().padStart(8, '0')}.history`;
  const text = await readFile(join(walDir, name), 'utf8');
  const lines = text.split('\n').filter((line) => line.trim() && !line.startsWith('#'));
  // Line k: "<parent>\t<switch LSN>\t<reason>"; the child of line k's timeline is the next line's, the
  // last line's child is `timeline` itself.
  const parsed = lines.map((line) => {
    const [parent, lsn] = line.split(/\s+/);
    return { parent: Number(parent), switchLsn: formatPgLsn(parsePgLsn(String(lsn))) };
  });
  parsed.forEach((entry, index) => {
    entries.push({
      id: parsed[index + 1]?.parent ?? timeline,
      parent: entry.parent,
      switchLsn: entry.switchLsn,
    });
  });
  return entries;
}

/**
 * Finds the newest commit or abort at or before the end of segment `head`, walking back segment by segment
 * (each read from the archive on the timeline PostgreSQL's recovery would read it from) through pg_waldump.
 */
async function findLastCommit(
  cluster: PatroniCluster,
  history: readonly HistoryEntry[],
  head: number,
  cache: Map<string, CommitFact | null>,
): Promise<{ lastCommitTime: string | null; lastCommitLsn: string | null }> {
  const segmentSize = cluster.walSegmentSize;
  for (let n = head; n >= 0 && n > head - 64; n--) {
    const timeline = expectedTimeline(history, n, segmentSize);
    const name = formatSegmentName(timeline, n, segmentSize);
    let fact = cache.get(name);
    if (fact === undefined) {
      fact = await readSegmentCommit(cluster, name, timeline, n);
      cache.set(name, fact);
    }
    if (fact) return fact;
  }
  return { lastCommitTime: null, lastCommitLsn: null };
}

async function readSegmentCommit(
  cluster: PatroniCluster,
  name: string,
  timeline: number,
  n: number,
): Promise<CommitFact | null> {
  const object = cluster.locateArchivedWal(name);
  if (!existsSync(object)) return null;
  const dir = await mkdtemp(join(cluster.dir, 'waldump-'));
  try {
    await writeFile(join(dir, name), await decompressLz4(object));
    const size = BigInt(cluster.walSegmentSize);
    const dump = await dumpWal({
      walDir: dir,
      timeline,
      startLsn: formatPgLsn(BigInt(n) * size),
      endLsn: formatPgLsn(BigInt(n + 1) * size),
    });
    const ends = dump.records.flatMap((record) => {
      const match = /^(?:COMMIT|ABORT) (\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)(\.\d+)? UTC/.exec(
        record.description,
      );
      if (record.rmgr !== 'Transaction' || !match) return [];
      const fraction = (match[3] ?? '.').slice(1).padEnd(6, '0');
      return [{ lastCommitTime: `${match[1]}T${match[2]}.${fraction}Z`, lastCommitLsn: record.lsn }];
    });
    return ends.at(-1) ?? null;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The newest timeline of the lineage that begins at or before segment `n` (PostgreSQL's recovery rule). */
function expectedTimeline(history: readonly HistoryEntry[], n: number, segmentSize: number): number {
  let found = 1;
  for (const entry of history) {
    const begin = entry.switchLsn ? parsePgLsn(entry.switchLsn) / BigInt(segmentSize) : 0n;
    if (begin <= BigInt(n)) found = entry.id;
  }
  return found;
}

/** Segment number of a 24-hex WAL file name. */
export function segmentNumber(fileName: string, segmentSize: number): number {
  const perId = 0x100000000 / segmentSize;
  return Number.parseInt(fileName.slice(8, 16), 16) * perId + Number.parseInt(fileName.slice(16, 24), 16);
}

/** The 24-hex WAL file name of segment `n` on `timeline`. */
export function formatSegmentName(timeline: number, n: number, segmentSize: number): string {
  const perId = 0x100000000 / segmentSize;
  const hex = (value: number) => value.toString(16).toUpperCase().padStart(8, '0');
  return `${hex(timeline)}${hex(Math.floor(n / perId))}${hex(n % perId)}`;
}

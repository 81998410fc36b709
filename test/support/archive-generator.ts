/**
 * Generates WAL-G archives in memory: segments over several timelines with switch points and diverged
 * tails, `.partial` and history files, full and delta backups (some failed or corrupt), and holes.
 * Deterministic for its parameters, so property tests can shrink and benches can repeat.
 */
import { formatLsn, segmentStartLsn, walFileName } from '../../shared/core/lsn.js';
import type { ListedObject } from '../../shared/core/state.js';

/** Shape of a generated archive. */
export interface ArchiveSpec {
  readonly clusterId: string;
  readonly segmentSize: number;
  /** Segments written on the final lineage, numbered from `firstSegno`. */
  readonly segments: number;
  readonly firstSegno?: number;
  /** Segment numbers (relative to `firstSegno`) where the timeline switches; strictly increasing. */
  readonly switches: readonly number[];
  /** Whether each switch lands mid-segment (archives a `.partial`) rather than on a boundary. */
  readonly midSegmentSwitch?: boolean;
  /** Diverged segments the old primary archived after each switch. */
  readonly divergedTail?: number;
  /** Relative segment numbers of full backups' start; each backup spans `backupLength` segments. */
  readonly backups: readonly number[];
  readonly backupLength?: number;
  /** Indexes into `backups` to store as deltas of the previous backup. */
  readonly deltas?: readonly number[];
  /** Indexes into `backups` left without a sentinel (failed uploads). */
  readonly failed?: readonly number[];
  /** Indexes into `backups` whose sentinel is garbage. */
  readonly corrupt?: readonly number[];
  /** Relative segment numbers missing from the archive. */
  readonly holes?: readonly number[];
  /** Epoch ms of the first segment; each next one is stored `intervalMs` later. */
  readonly startAt?: number;
  readonly intervalMs?: number;
  /** Also store the backup history file (`.backup`) PostgreSQL archives when a backup stops. */
  readonly backupLabels?: boolean;
}

/** A generated object: listing fields plus the body the analysis would read. */
export interface GeneratedObject extends ListedObject {
  readonly content?: string;
}

const BASE_TIME = Date.parse('2026-11-01T00:00:00Z');

/** Builds every object of the archive described by `spec`. */
export function generateArchive(spec: ArchiveSpec): GeneratedObject[] {
  return [...iterateArchive(spec)];
}

/** Yields the objects of the archive described by `spec` one by one, without holding them. */
export function* iterateArchive(spec: ArchiveSpec): Generator<GeneratedObject> {
  const size = spec.segmentSize;
  const first = spec.firstSegno ?? 1;
  const interval = spec.intervalMs ?? 60_000;
  const start = spec.startAt ?? BASE_TIME;
  const holes = new Set((spec.holes ?? []).map((n) => n + first));
  const root = spec.clusterId === '' ? '' : `${spec.clusterId}/`;
  const timeOf = (segno: number): number => start + (segno - first) * interval;
  const switchSegnos = spec.switches.map((n) => n + first);

  // Timeline of each segment on the final lineage: timeline t+1 starts at the t-th switch.
  const timelineOf = (segno: number): number => 1 + switchSegnos.filter((s) => s <= segno).length;
  const last = first + spec.segments - 1;
  for (let segno = first; segno <= last; segno++) {
    if (holes.has(segno)) continue;
    const timeline = timelineOf(segno);
    yield {
      key: `${root}wal_005/${walFileName(timeline, segno, size)}.lz4`,
      at: timeOf(segno),
      size: 1000 + (segno % 97),
      etag: `e${timeline}-${segno}`,
    };
  }

  const history: string[] = [];
  for (const [index, switchSegno] of switchSegnos.entries()) {
    const parent = index + 1;
    const child = index + 2;
    const offset = spec.midSegmentSwitch ? 0x1a0n : 0n;
    const switchLsn = segmentStartLsn(switchSegno, size) + offset;
    if (history.length > 0) history.push('');
    history.push(`${parent}\t${formatLsn(switchLsn)}\tno recovery target specified`);
    const at = timeOf(switchSegno) - interval / 2;
    yield {
      key: `${root}wal_005/${hexTimeline(child)}.history.lz4`,
      at,
      size: 60,
      content: `${history.join('\n')}\n`,
    };
    if (spec.midSegmentSwitch) {
      yield {
        key: `${root}wal_005/${walFileName(parent, switchSegno, size)}.partial.lz4`,
        at,
        size: 900,
      };
    }
    for (let d = 0; d < (spec.divergedTail ?? 0); d++) {
      const segno = switchSegno + d + (spec.midSegmentSwitch ? 0 : 0);
      yield {
        key: `${root}wal_005/${walFileName(parent, segno, size)}.lz4`,
        at: at + d,
        size: 500,
        etag: `d${parent}-${segno}`,
      };
    }
  }

  const length = spec.backupLength ?? 2;
  for (const [index, relative] of spec.backups.entries()) {
    const startSegno = relative + first;
    const timeline = timelineOf(startSegno);
    const startWal = walFileName(timeline, startSegno, size);
    const previous = index > 0 ? spec.backups[index - 1] : undefined;
    const isDelta = (spec.deltas ?? []).includes(index) && previous !== undefined;
    const parentName = isDelta
      ? `base_${walFileName(timelineOf(previous + first), previous + first, size)}`
      : null;
    const name = parentName ? `base_${startWal}_D_${parentName.slice(5)}` : `base_${startWal}`;
    const startLsn = segmentStartLsn(startSegno, size) + 0x28n;
    const finishLsn = segmentStartLsn(startSegno + length - 1, size) + 0x100n;
    const finishAt = timeOf(startSegno + length - 1) + 1000;
    yield {
      key: `${root}basebackups_005/${name}/tar_partitions/part_001.tar.lz4`,
      at: finishAt - 500,
      size: 10_000,
    };
    if ((spec.failed ?? []).includes(index)) continue;
    if (spec.backupLabels) {
      const stopTimeline = timelineOf(startSegno + length - 1);
      const offset = (startLsn % BigInt(size)).toString(16).toUpperCase().padStart(8, '0');
      const stopWal = walFileName(stopTimeline, startSegno + length - 1, size);
      yield {
        key: `${root}wal_005/${hexTimeline(stopTimeline)}${startWal.slice(8)}.${offset}.backup.lz4`,
        at: finishAt - 100,
        size: 300,
        content: [
          `START WAL LOCATION: ${formatLsn(startLsn)} (file ${startWal})`,
          `STOP WAL LOCATION: ${formatLsn(finishLsn)} (file ${stopWal})`,
          `CHECKPOINT LOCATION: ${formatLsn(startLsn + 0x38n)}`,
          'BACKUP METHOD: streamed',
          'BACKUP FROM: primary',
          `START TIME: ${new Date(timeOf(startSegno)).toISOString().replace('T', ' ').slice(0, 19)} UTC`,
          `LABEL: ${name}`,
          `START TIMELINE: ${timeline}`,
          `STOP TIME: ${new Date(finishAt).toISOString().replace('T', ' ').slice(0, 19)} UTC`,
          `STOP TIMELINE: ${stopTimeline}`,
          '',
        ].join('\n'),
      };
    }
    yield {
      key: `${root}basebackups_005/${name}/metadata.json`,
      at: finishAt,
      size: 300,
      content: JSON.stringify({
        start_lsn: Number(startLsn),
        finish_lsn: Number(finishLsn),
        is_permanent: false,
      }),
    };
    const sentinel = (spec.corrupt ?? []).includes(index)
      ? '{"LSN": garbage'
      : `{"LSN":${startLsn},${parentName ? `"DeltaLSN":1,"DeltaFrom":"${parentName}","DeltaFullName":"${parentName}","DeltaCount":1,` : ''}"PgVersion":150015,"FinishLSN":${finishLsn},"SystemIdentifier":7507672962298572862,"UncompressedSize":1000,"CompressedSize":500,"ChkpNum":null,"Version":2,"StartTime":"${new Date(timeOf(startSegno)).toISOString()}","FinishTime":"${new Date(finishAt).toISOString()}","DateFmt":"%Y-%m-%dT%H:%M:%S.%fZ","Hostname":"pg-0","DataDir":"/home/postgres/pgdata/pgroot/data","IsPermanent":false}`;
    yield {
      key: `${root}basebackups_005/${name}_backup_stop_sentinel.json`,
      at: finishAt + 1,
      size: 400,
      content: sentinel,
    };
  }
}

function hexTimeline(timeline: number): string {
  return timeline.toString(16).toUpperCase().padStart(8, '0');
}

/** A content lookup over generated objects, as `buildClusterStates` takes it. */
export function contentLookup(
  objects: readonly GeneratedObject[],
): (key: string) => { text: string } | undefined {
  const byKey = new Map(
    objects.filter((o) => o.content !== undefined).map((o) => [o.key, { text: o.content as string }]),
  );
  return (key) => byKey.get(key);
}

/**
 * The benchmarks' archive: 1,000,000 segments over 3 timelines, 200 backups, holes, one segment a second.
 */
export const MILLION_SEGMENT_ARCHIVE: ArchiveSpec = {
  clusterId: 'spilo/bench/wal/16',
  segmentSize: 16 * 1024 * 1024,
  segments: 1_000_000,
  switches: [333_333, 666_666],
  midSegmentSwitch: true,
  divergedTail: 3,
  backups: Array.from({ length: 200 }, (_, i) => i * 4_990 + 10),
  backupLength: 3,
  holes: [1_234, 400_000, 400_001, 999_990],
  intervalMs: 1000,
};

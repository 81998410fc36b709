/**
 * A small WAL-G archive to try walwatch on, as `walwatch sample DIR` writes it: three Spilo clusters with
 * 16 MiB segments stored relative to `now`, so ages and alerts are live —
 *
 * - `spilo/orders/wal/15`: healthy; two nightly backups and a failover (timeline 2, with its history file
 *   and the old primary's `.partial`);
 * - `spilo/payments/wal/15`: one segment after the newest backup is missing: a lost, critical gap that cuts
 *   the latest recoverable point;
 * - `spilo/reports/wal/14`: archiving stopped three hours ago and the newest backup is two days old.
 *
 * Segments are real PostgreSQL 15 WAL (a page header, one commit, a switch), so exact commit times are read
 * from them. Pure: the caller compresses and stores the objects.
 */
import { formatLsn, segmentStartLsn, walFileName } from '../core/lsn.js';
import { buildCommitSegment } from './wal-segment.js';

/** One object of the sample archive. */
export interface SampleObject {
  readonly key: string;
  /** Uncompressed body; `compress` says whether WAL-G would have compressed it. */
  readonly body: Uint8Array;
  readonly compress: boolean;
  /** When the object was stored (epoch ms). */
  readonly storedAt: number;
}

/** The segment size of the sample clusters (PostgreSQL's default). */
export const SAMPLE_SEGMENT_SIZE = 16 * 1024 * 1024;

const SYSTEM_IDENTIFIER = 7_400_000_000_000_000_123n;

/**
 * Whether a cluster is one `walwatch sample` wrote: its backups carry the sample's system identifier. Their
 * tar partitions hold no data directory, so there is nothing to restore-drill.
 */
export function isSampleCluster(report: {
  readonly backups: readonly { systemIdentifier: string | null }[];
}): boolean {
  return (
    report.backups.length > 0 &&
    report.backups.every((backup) => backup.systemIdentifier === String(SYSTEM_IDENTIFIER))
  );
}
const MINUTE = 60_000;

interface ClusterPlan {
  readonly id: string;
  readonly pgVersion: number;
  /** Minutes before `now` when the newest segment was stored. */
  readonly newestAgoMinutes: number;
  /** Segments 1…count on the final lineage, one every `everyMinutes`. */
  readonly count: number;
  readonly everyMinutes: number;
  /** Segment numbers of the base backups' starts. */
  readonly backups: readonly number[];
  readonly missing?: readonly number[];
  /** A failover: timeline 2 begins inside this segment. */
  readonly switchAt?: number;
}

const PLANS: readonly ClusterPlan[] = [
  {
    id: 'spilo/orders/wal/15',
    pgVersion: 150013,
    newestAgoMinutes: 1,
    count: 40,
    everyMinutes: 3,
    backups: [2, 26],
    switchAt: 30,
  },
  {
    id: 'spilo/payments/wal/15',
    pgVersion: 150013,
    newestAgoMinutes: 2,
    count: 30,
    everyMinutes: 4,
    backups: [3, 18],
    missing: [24],
  },
  {
    id: 'spilo/reports/wal/14',
    pgVersion: 140017,
    newestAgoMinutes: 180,
    count: 20,
    everyMinutes: 150,
    backups: [2],
  },
];

const encoder = new TextEncoder();
const text = (value: string): Uint8Array => encoder.encode(value);

/** Every object of the sample archive as of `now` (epoch ms). */
export function sampleArchive(now: number): SampleObject[] {
  return PLANS.flatMap((plan) => clusterObjects(plan, now));
}

function clusterObjects(plan: ClusterPlan, now: number): SampleObject[] {
  const size = SAMPLE_SEGMENT_SIZE;
  const objects: SampleObject[] = [];
  const storedAt = (segno: number) =>
    now - plan.newestAgoMinutes * MINUTE - (plan.count - segno) * plan.everyMinutes * MINUTE;
  const timelineOf = (segno: number) => (plan.switchAt !== undefined && segno >= plan.switchAt ? 2 : 1);
  const wal = (name: string) => `${plan.id}/wal_005/${name}`;

  for (let segno = 1; segno <= plan.count; segno++) {
    if (plan.missing?.includes(segno)) continue;
    const timeline = timelineOf(segno);
    objects.push({
      key: wal(walFileName(timeline, segno, size)),
      body: buildCommitSegment(segno, size, SYSTEM_IDENTIFIER, storedAt(segno) - 20_000, timeline),
      compress: true,
      storedAt: storedAt(segno),
    });
  }
  if (plan.switchAt !== undefined) {
    const switchLsn = segmentStartLsn(plan.switchAt, size) + 0x100n;
    const at = storedAt(plan.switchAt) - 30_000;
    // The old primary's last segment, as far as it got, and the new timeline's history.
    objects.push({
      key: wal(`${walFileName(1, plan.switchAt, size)}.partial`),
      body: buildCommitSegment(plan.switchAt, size, SYSTEM_IDENTIFIER, at - 10_000, 1),
      compress: true,
      storedAt: at,
    });
    objects.push({
      key: wal('00000002.history'),
      body: text(`1\t${formatLsn(switchLsn)}\tno recovery target specified\n`),
      compress: true,
      storedAt: at,
    });
  }
  for (const start of plan.backups) {
    const name = `base_${walFileName(timelineOf(start), start, size)}`;
    const startLsn = segmentStartLsn(start, size) + 0x28n;
    const finishLsn = segmentStartLsn(start + 1, size) + 0x100n;
    const startTime = storedAt(start) - 30_000;
    const finishTime = storedAt(start + 1) + 5_000;
    const backupDir = `${plan.id}/basebackups_005/${name}`;
    objects.push({
      key: `${backupDir}/tar_partitions/part_1.tar`,
      body: text('sample backup part'),
      compress: true,
      storedAt: finishTime - 2_000,
    });
    objects.push({
      key: wal(`${walFileName(timelineOf(start), start, size)}.00000028.backup`),
      body: text(
        [
          `START WAL LOCATION: ${formatLsn(startLsn)} (file ${walFileName(timelineOf(start), start, size)})`,
          `STOP WAL LOCATION: ${formatLsn(finishLsn)} (file ${walFileName(timelineOf(start), start + 1, size)})`,
          `CHECKPOINT LOCATION: ${formatLsn(startLsn + 0x38n)}`,
          'BACKUP METHOD: streamed',
          'BACKUP FROM: primary',
          `START TIME: ${pgTime(startTime)}`,
          `LABEL: ${name}`,
          `START TIMELINE: ${timelineOf(start)}`,
          `STOP TIME: ${pgTime(finishTime)}`,
          `STOP TIMELINE: ${timelineOf(start)}`,
          '',
        ].join('\n'),
      ),
      compress: true,
      storedAt: finishTime,
    });
    // WAL-G writes the sentinel last: the backup exists once it does.
    objects.push({
      key: `${plan.id}/basebackups_005/${name}_backup_stop_sentinel.json`,
      body: text(
        `{"LSN":${startLsn},"PgVersion":${plan.pgVersion},"FinishLSN":${finishLsn},"SystemIdentifier":${SYSTEM_IDENTIFIER},` +
          `"UncompressedSize":104857600,"CompressedSize":31457280,"ChkpNum":null,"Version":2,` +
          `"StartTime":"${new Date(startTime).toISOString()}","FinishTime":"${new Date(finishTime).toISOString()}",` +
          `"DateFmt":"%Y-%m-%dT%H:%M:%S.%fZ","Hostname":"${plan.id.split('/')[1]}-0","DataDir":"/home/postgres/pgdata/pgroot/data","IsPermanent":false}`,
      ),
      compress: false,
      storedAt: finishTime + 1_000,
    });
  }
  return objects;
}

/** PostgreSQL's `START TIME` format: `2026-11-01 00:03:01 UTC`. */
function pgTime(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

/**
 * Restore plans (`../shared/spec/recoverability.md` §7): for a target time, LSN or `latest`, which backup to
 * fetch, which timeline to follow, whether the target is reachable and why not, and the settings that
 * restore it — Spilo's `CLONE_*` variables and the plain WAL-G steps.
 */
import { formatDuration } from './analyze.js';
import { formatLsn, type Lsn, parseLsn } from './lsn.js';
import type { BackupReport, ClusterReport, RecoverableInterval } from './report.js';
import { isoOf, parseTime, timeError } from './time.js';

/** What to restore to. */
export type RestoreTarget =
  | { readonly kind: 'latest' }
  | { readonly kind: 'time'; readonly time: string; readonly ms: number }
  | { readonly kind: 'lsn'; readonly lsn: string; readonly value: Lsn };

/**
 * Reads `latest`, an ISO 8601 time with a time zone, or an LSN; returns an error message otherwise. An empty
 * target is an error, not `latest` (a form sent half-filled must not plan for the newest point), and so is
 * an impossible calendar date or time (`2026-02-30`, `24:00`), which would otherwise roll over.
 */
export function parseRestoreTarget(
  text: string,
): { ok: true; target: RestoreTarget } | { ok: false; error: string } {
  const value = text.trim();
  if (value === '')
    return { ok: false, error: 'target is empty: give "latest", an ISO 8601 time with a zone, or an LSN' };
  if (value.toLowerCase() === 'latest') return { ok: true, target: { kind: 'latest' } };
  const lsn = parseLsn(value);
  if (lsn !== undefined) return { ok: true, target: { kind: 'lsn', lsn: formatLsn(lsn), value: lsn } };
  if (/^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}/.test(value)) {
    // Spilo's CLONE_TARGET_TIME and recovery_target_time need a zone: a bare local time is ambiguous.
    if (!/(Z|[+-]\d{2}(:?\d{2})?)$/i.test(value)) {
      return { ok: false, error: `target time ${value} has no time zone: add Z or an offset such as +01:00` };
    }
    const invalid = timeError(value);
    if (invalid !== undefined) return { ok: false, error: `target ${invalid}` };
    const ms = parseTime(value);
    if (!Number.isNaN(ms)) return { ok: true, target: { kind: 'time', time: isoOf(ms), ms } };
  }
  return {
    ok: false,
    error: `target must be "latest", an ISO 8601 time with a zone, or an LSN such as 0/5000028; got ${value}`,
  };
}

/** Where the archive lives, for the settings; the report alone does not know the bucket. */
export interface RestoreContext {
  readonly bucket?: string;
}

/** The answer for one target. */
export interface RestorePlan {
  readonly cluster: string;
  readonly target: { readonly kind: RestoreTarget['kind']; readonly value: string | null };
  readonly reachable: boolean;
  /** Why the target cannot be reached (before the earliest point, inside a gap, after the latest). */
  readonly reason: string | null;
  /** `exact` when commit times or LSNs decide; `upper-bound` when only archive times are known. */
  readonly certainty: 'exact' | 'upper-bound';
  readonly backup: string | null;
  readonly timeline: number | null;
  /** The backup Spilo's clone would choose (newest sentinel stored strictly before the target time). */
  readonly spiloBackup: string | null;
  readonly spiloEnv: Record<string, string>;
  readonly walgSteps: string[];
  readonly notes: string[];
}

/**
 * Plans a restore of one cluster to a target.
 *
 * @example
 * const plan = planRestore(report, { kind: 'latest' }, { bucket: 'my-wal-bucket' });
 * plan.reachable // true when a restorable backup exists
 */
export function planRestore(
  report: ClusterReport,
  target: RestoreTarget,
  context: RestoreContext = {},
): RestorePlan {
  const notes: string[] = [];
  const restorable = report.backups.filter(
    (b) => b.status === 'restorable' && report.recoverableIntervals.some((i) => i.backups.includes(b.name)),
  );
  const base = {
    cluster: report.id,
    target: {
      kind: target.kind,
      value: target.kind === 'time' ? target.time : target.kind === 'lsn' ? target.lsn : null,
    },
  };
  const unreachable = (reason: string, certainty: RestorePlan['certainty'] = 'exact'): RestorePlan => ({
    ...base,
    reachable: false,
    reason,
    certainty,
    backup: null,
    timeline: null,
    spiloBackup: target.kind === 'time' ? (spiloChoice(report.backups, target.ms)?.name ?? null) : null,
    spiloEnv: {},
    walgSteps: [],
    notes,
  });
  const lrp = report.latestRecoverable;
  const erp = report.earliestRecoverable;
  if (!lrp || !erp || restorable.length === 0)
    return unreachable('no backup of this cluster can be restored');

  let interval: RecoverableInterval | undefined;
  let backup: BackupReport | undefined;
  let certainty: RestorePlan['certainty'] = 'exact';
  if (target.kind === 'latest') {
    interval = report.recoverableIntervals.at(-1);
    backup = restorable.find((b) => b.name === lrp.backup);
  } else if (target.kind === 'lsn') {
    const value = target.value;
    if (value < (parseLsn(erp.lsn) as Lsn))
      return unreachable(`${target.lsn} is before the earliest recoverable point ${erp.lsn}`);
    if (value > (parseLsn(lrp.lsn) as Lsn))
      return unreachable(`${target.lsn} is after the latest recoverable point ${lrp.lsn}`);
    interval = report.recoverableIntervals.find(
      (i) => (parseLsn(i.fromLsn) as Lsn) <= value && value <= (parseLsn(i.toLsn) as Lsn),
    );
    if (!interval) return unreachable(`${target.lsn} lies inside a gap: no backup's WAL chain reaches it`);
    backup = newestBefore(restorable, interval, (b) => (parseLsn(b.finishLsn ?? '') ?? 0n) <= value);
  } else {
    const t = target.ms;
    const erpMs = erp.time === null ? null : parseTime(erp.time);
    if (erpMs !== null && t < erpMs)
      return unreachable(`${target.time} is before the earliest recoverable point (${erp.time})`);
    const lrpTime = lrp.lastCommitTime ?? lrp.archivedAt;
    certainty = lrp.lastCommitTime ? 'exact' : 'upper-bound';
    if (lrpTime !== null && t >= parseTime(lrpTime)) {
      const late = formatDuration(t - parseTime(lrpTime));
      return unreachable(
        lrp.lastCommitTime
          ? `${target.time} is after the last archived commit (${lrp.lastCommitTime}) by ${late}: recovery would end before reaching it`
          : `${target.time} is after all archived WAL (the last segment was stored ${lrp.archivedAt}) by ${late}`,
        certainty,
      );
    }
    interval = report.recoverableIntervals.find((i) => {
      const from = i.fromTime === null ? Number.NEGATIVE_INFINITY : parseTime(i.fromTime);
      const to = i.toTime === null ? Number.POSITIVE_INFINITY : parseTime(i.toTime);
      return from <= t && t < to;
    });
    if (!interval)
      return unreachable(
        `${target.time} lies inside a gap: no backup's WAL chain covers that time`,
        certainty,
      );
    backup = newestBefore(restorable, interval, (b) => b.finishTime !== null && parseTime(b.finishTime) <= t);
    if (certainty === 'upper-bound') {
      notes.push(
        `WAL through ${interval.toLsn} was stored by ${interval.toTime}; the exact last commit time is known only when segment content is read`,
      );
    }
  }
  if (!interval || !backup) return unreachable('no restorable backup finished before the target');

  const timeline = target.kind === 'lsn' ? lineageTimelineAt(report, target.value) : interval.timeline;
  const spilo =
    target.kind === 'time' ? spiloChoice(report.backups, target.ms) : latestSpiloChoice(report.backups);
  if (spilo && spilo.name !== backup.name) {
    notes.push(
      spilo.status === 'restorable'
        ? `Spilo's clone picks ${spilo.name} (newest sentinel stored before the target), not ${backup.name}; both reach the target, ${backup.name} replays less WAL`
        : `Spilo's clone would pick ${spilo.name}, which is ${spilo.status}: set the backup explicitly (plain WAL-G steps) or choose another target`,
    );
  }
  if (target.kind === 'lsn')
    notes.push("Spilo's clone takes a time, not an LSN: use the WAL-G steps for an LSN target");
  return {
    ...base,
    reachable: true,
    reason: null,
    certainty,
    backup: backup.name,
    timeline,
    spiloBackup: spilo?.name ?? null,
    spiloEnv: spiloEnvironment(report, target, timeline, context),
    walgSteps: walgSteps(report, target, backup.name, timeline, context),
    notes,
  };
}

function newestBefore(
  restorable: readonly BackupReport[],
  interval: RecoverableInterval,
  isBefore: (backup: BackupReport) => boolean,
): BackupReport | undefined {
  const candidates = restorable.filter((b) => interval.backups.includes(b.name) && isBefore(b));
  return candidates.sort((a, b) => compareLsnText(a.finishLsn, b.finishLsn)).at(-1);
}

function compareLsnText(a: string | null, b: string | null): number {
  const left = parseLsn(a ?? '') ?? 0n;
  const right = parseLsn(b ?? '') ?? 0n;
  return left < right ? -1 : left > right ? 1 : 0;
}

/** The lineage timeline holding `lsn`: the newest timeline on the path that began at or before it. */
function lineageTimelineAt(report: ClusterReport, lsn: Lsn): number {
  let timeline = report.targetTimeline;
  const lineage = report.timelines.filter((t) => t.inLineage).sort((a, b) => a.id - b.id);
  for (const step of lineage) {
    const begin = step.switchLsn === null ? 0n : (parseLsn(step.switchLsn) as Lsn);
    if (begin <= lsn) timeline = step.id;
  }
  return timeline;
}

/** Spilo's `choose_backup`: the newest sentinel stored strictly before the target time. */
function spiloChoice(backups: readonly BackupReport[], targetMs: number): BackupReport | undefined {
  return backups
    .filter((b) => b.sentinelStoredAt !== null && parseTime(b.sentinelStoredAt) < targetMs)
    .sort((a, b) => parseTime(a.sentinelStoredAt as string) - parseTime(b.sentinelStoredAt as string))
    .at(-1);
}

/** Without a target time Spilo restores `LATEST`: the backup with the newest sentinel. */
function latestSpiloChoice(backups: readonly BackupReport[]): BackupReport | undefined {
  return spiloChoice(backups, Number.POSITIVE_INFINITY);
}

function spiloEnvironment(
  report: ClusterReport,
  target: RestoreTarget,
  timeline: number,
  context: RestoreContext,
): Record<string, string> {
  const bucket = context.bucket ?? '<bucket>';
  const env: Record<string, string> = { CLONE_METHOD: 'CLONE_WITH_WALE' };
  if (report.scope) {
    env.CLONE_SCOPE = report.scope;
    env.CLONE_WAL_S3_BUCKET = bucket;
    if (report.uid) env.CLONE_WAL_BUCKET_SCOPE_SUFFIX = `/${report.uid}`;
  } else {
    env.CLONE_SCOPE = report.id.split('/').filter(Boolean).at(-1) ?? 'clone';
    env.CLONE_WALE_S3_PREFIX = `s3://${bucket}/${report.id}`;
  }
  env.CLONE_USE_WALG_RESTORE = 'true';
  if (target.kind === 'time') env.CLONE_TARGET_TIME = target.time.replace('Z', '+00:00');
  env.CLONE_TARGET_TIMELINE = target.kind === 'latest' ? 'latest' : String(timeline);
  return env;
}

function walgSteps(
  report: ClusterReport,
  target: RestoreTarget,
  backup: string,
  timeline: number,
  context: RestoreContext,
): string[] {
  const prefix = `s3://${context.bucket ?? '<bucket>'}/${report.id}`;
  const recovery =
    target.kind === 'time'
      ? [`recovery_target_time = '${target.time.replace('T', ' ').replace('Z', '+00')}'`]
      : target.kind === 'lsn'
        ? [`recovery_target_lsn = '${target.lsn}'`]
        : [];
  return [
    `export WALG_S3_PREFIX=${prefix}`,
    `wal-g backup-fetch "$PGDATA" ${backup}`,
    `touch "$PGDATA/recovery.signal"`,
    `cat >> "$PGDATA/postgresql.auto.conf" <<'EOF'\nrestore_command = 'wal-g wal-fetch "%f" "%p"'\n${[
      ...recovery,
      `recovery_target_timeline = '${target.kind === 'latest' ? 'latest' : timeline}'`,
      `recovery_target_action = '${target.kind === 'latest' ? 'promote' : 'pause'}'`,
    ].join('\n')}\nEOF`,
    'pg_ctl -D "$PGDATA" start',
  ];
}

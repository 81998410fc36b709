/**
 * `walwatch analyze`: analyses a bucket prefix or a folder and prints each cluster's recoverability.
 *
 * Exit codes: 0 every cluster ok, 1 a warning, 2 a critical problem, 3 usage or access error.
 */

import { ClusterSettingError, settingFor } from '../shared/config/cluster-setting.js';
import { parseSegmentSizes, type SegmentSizes } from '../shared/config/segment-sizes.js';
import { formatDuration } from '../shared/core/analyze.js';
import type { ClusterReport, Report } from '../shared/core/report.js';
import { parseTime, timeError } from '../shared/core/time.js';
import { analyzeArchive } from '../shared/sources/analyze-archive.js';
import { type ArchiveSource, SourceAccessError } from '../shared/sources/archive-source.js';
import { openDirSource } from '../shared/sources/dir-source.js';
import { openS3Source, parseS3Url } from '../shared/sources/s3-source.js';
import { runCommand } from './command.js';
import { parseDurationOption, UsageError } from './options.js';

const HELP = `usage: walwatch analyze s3://BUCKET[/PREFIX] [options]
       walwatch analyze --dir DIR [options]

Lists the archive, reads sentinels, metadata.json and history files, and prints per cluster the latest and
earliest recoverable point, recoverable intervals, gaps, backups, timelines, ages and problems.

options:
  --dir DIR                 treat DIR as the bucket (WAL-G file storage, WALG_FILE_PREFIX, works too)
  --json                    print the JSON report (spec/report.md) on stdout
  --content                 read the segments at the end of each recovery chain: exact last commit times
  --all-segments            with --content, read every segment too and report those recovery cannot read
                            to the end (corrupt, zeroed, renamed, another size or database system)
  --cluster ID              only this cluster (archive root, e.g. spilo/superman/wal/15)
  --segment-size SIZES      WAL segment size: auto (default: learnt from .backup files, sentinels and, with
                            --content, a page header; 16MiB until known) or bytes or 1MiB…1GiB, which
                            overrides it; per cluster, e.g. 'auto; 64MiB=spilo/big/*,spilo/huge/wal/16'
  --now TIME                analyse as of this ISO 8601 time (default: now)
  --gap-grace DUR           holes younger than this are pending (default 5m)
  --max-archive-age DUR     archive is stale after this (default 1h)
  --max-backup-age DUR      backups are stale after this (default 26h)
  --backup-stale-after DUR  unfinished backups count as failed after this (default 24h)
  --endpoint URL            S3-compatible endpoint (also AWS_ENDPOINT_URL)
  --path-style              path-style S3 addressing
  --region REGION           AWS region (default from the environment)
  --quiet                   no progress on stderr

exit codes: 0 ok, 1 warning, 2 critical, 3 usage or access error
`;

/** Runs the command; returns the exit code. */
export async function run(args: string[]): Promise<number> {
  return runCommand(
    args,
    {
      name: 'analyze',
      help: HELP,
      expected: [SourceAccessError],
      options: {
        dir: { type: 'string' },
        json: { type: 'boolean', default: false },
        content: { type: 'boolean', default: false },
        'all-segments': { type: 'boolean', default: false },
        cluster: { type: 'string' },
        'segment-size': { type: 'string' },
        now: { type: 'string' },
        'gap-grace': { type: 'string' },
        'max-archive-age': { type: 'string' },
        'max-backup-age': { type: 'string' },
        'backup-stale-after': { type: 'string' },
        endpoint: { type: 'string' },
        'path-style': { type: 'boolean', default: false },
        region: { type: 'string' },
        quiet: { type: 'boolean', default: false },
      },
    },
    async ({ values, positionals }) => {
      const segmentSizes = segmentSizesOption(values['segment-size']);
      const nowError = values.now === undefined ? undefined : timeError(values.now);
      if (nowError !== undefined) throw new UsageError(`--now ${nowError}`);
      const now = values.now === undefined ? Date.now() : parseTime(values.now);
      if (Number.isNaN(now)) throw new UsageError(`--now is not an ISO 8601 time: ${values.now}`);
      const source = await openSource(values.dir, positionals, values);
      const thresholds = {
        ...durationOption('gapGraceMs', values['gap-grace']),
        ...durationOption('maxArchiveAgeMs', values['max-archive-age']),
        ...durationOption('maxBackupAgeMs', values['max-backup-age']),
        ...durationOption('backupStaleAfterMs', values['backup-stale-after']),
      };
      const progress = !values.quiet;
      const report = await analyzeArchive(source, {
        now,
        thresholds,
        content: values['all-segments'] ? 'all' : values.content,
        ...(values.cluster === undefined ? {} : { cluster: values.cluster }),
        segmentSizeOf: (clusterId) => settingFor(segmentSizes, clusterId),
        onProgress: (event) => {
          if (!progress) return;
          const total = event.total === undefined ? '' : ` of ${event.total}`;
          process.stderr.write(`walwatch: ${event.phase} ${source.description}: ${event.done}${total}\n`);
        },
      });
      if (values.cluster !== undefined && report.clusters.length === 0) {
        throw new UsageError(`no cluster ${JSON.stringify(values.cluster)} in ${source.description}`);
      }
      process.stdout.write(
        values.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report, source),
      );
      return exitCodeOf(report);
    },
  );
}

function segmentSizesOption(text: string | undefined): SegmentSizes {
  try {
    return parseSegmentSizes(text, '--segment-size');
  } catch (error) {
    if (error instanceof ClusterSettingError) throw new UsageError(error.message);
    throw error;
  }
}

function durationOption(name: string, text: string | undefined): Record<string, number> {
  return text === undefined ? {} : { [name]: parseDurationOption(text) };
}

async function openSource(
  dir: string | undefined,
  positionals: string[],
  values: { endpoint?: string | undefined; 'path-style'?: boolean | undefined; region?: string | undefined },
): Promise<ArchiveSource> {
  if (dir !== undefined && positionals.length > 0)
    throw new UsageError('give either s3://BUCKET[/PREFIX] or --dir DIR, not both');
  if (dir !== undefined) return openDirSource(dir);
  if (positionals.length !== 1)
    throw new UsageError(`expected one s3://BUCKET[/PREFIX] or --dir DIR\n\n${HELP}`);
  const url = parseS3Url(positionals[0] as string);
  if (!url) throw new UsageError(`not an s3:// URL: ${positionals[0]}`);
  return openS3Source({
    ...url,
    ...(values.endpoint === undefined ? {} : { endpoint: values.endpoint }),
    ...(values['path-style'] ? { forcePathStyle: true } : {}),
    ...(values.region === undefined ? {} : { region: values.region }),
  });
}

/** 0 when every cluster is ok, 1 on a warning, 2 on a critical problem. */
export function exitCodeOf(report: Report): number {
  if (report.clusters.some((cluster) => cluster.status === 'critical')) return 2;
  if (report.clusters.some((cluster) => cluster.status === 'warning')) return 1;
  return 0;
}

/** The human summary: one block per cluster. */
export function formatReport(report: Report, source: { description: string }): string {
  if (report.clusters.length === 0) return `No WAL-G or WAL-E archive found in ${source.description}.\n`;
  return report.clusters.map((cluster) => formatCluster(cluster, Date.parse(report.generatedAt))).join('\n');
}

function formatCluster(cluster: ClusterReport, now: number): string {
  const lines: string[] = [];
  const ago = (iso: string | null): string =>
    iso === null ? '' : ` (${formatDuration(Math.max(0, now - Date.parse(iso)))} ago)`;
  const field = (label: string, value: string): void => {
    lines.push(`  ${label.padEnd(22)}${value}`);
  };
  const about = [
    cluster.scope ? `scope ${cluster.scope}` : null,
    cluster.uid ? `uid ${cluster.uid}` : null,
    cluster.pgMajor ? `PostgreSQL ${cluster.pgMajor}` : null,
    `${cluster.segmentSize / 1024 / 1024} MiB segments (${cluster.segmentSizeSource === 'assumed' ? 'assumed' : cluster.segmentSizeSource === 'configured' ? 'configured' : `from ${cluster.segmentSizeSource}`})`,
  ].filter(Boolean);
  lines.push(`${cluster.id || '(bucket root)'}  ${cluster.status.toUpperCase()}  (${about.join(', ')})`);

  const lrp = cluster.latestRecoverable;
  field(
    'latest recoverable',
    lrp
      ? `${lrp.lsn} on timeline ${lrp.timeline}, through ${lrp.segment}` +
          (lrp.lastCommitTime
            ? `, last commit ${lrp.lastCommitTime}`
            : `, archived ${lrp.archivedAt}${ago(lrp.archivedAt)}`)
      : 'none: no restorable backup',
  );
  const erp = cluster.earliestRecoverable;
  field('earliest recoverable', erp ? `${erp.lsn} (${erp.backup}, ${erp.time ?? 'time unknown'})` : 'none');
  for (const interval of cluster.recoverableIntervals) {
    field(
      'recoverable',
      `${interval.fromLsn} → ${interval.toLsn} (timeline ${interval.timeline}, ${interval.fromTime ?? '?'} → ${interval.toTime ?? '?'})`,
    );
  }
  field(
    'ages',
    `archive ${cluster.archiveAgeSeconds === null ? 'n/a' : formatDuration(cluster.archiveAgeSeconds * 1000)}, ` +
      `backup ${cluster.backupAgeSeconds === null ? 'n/a' : formatDuration(cluster.backupAgeSeconds * 1000)}, ` +
      `recovery point lag ${cluster.recoveryPointLagSeconds === null ? 'n/a' : formatDuration(cluster.recoveryPointLagSeconds * 1000)}`,
  );
  field('target timeline', String(cluster.targetTimeline));
  for (const timeline of cluster.timelines) {
    const parent = timeline.parent === null ? '' : `, from ${timeline.parent} at ${timeline.switchLsn}`;
    const span = timeline.firstSegment ? `, ${timeline.firstSegment} … ${timeline.lastSegment}` : '';
    field(
      `  timeline ${timeline.id}`,
      `${timeline.segments} segments${span}${parent}${timeline.history === 'ok' ? '' : `, history ${timeline.history}`}`,
    );
  }
  field('backups', String(cluster.backups.length));
  for (const backup of cluster.backups) {
    const span = backup.startLsn ? ` ${backup.startLsn} → ${backup.finishLsn}` : '';
    const flags = [
      backup.permanent ? 'permanent' : null,
      backup.delta ? `delta of ${backup.delta.parent}` : null,
    ].filter(Boolean);
    field(
      `  ${backup.status}`,
      `${backup.name}${span}${backup.finishTime ? `, ${backup.finishTime}` : ''}${flags.length ? ` [${flags.join(', ')}]` : ''}`,
    );
  }
  field('gaps', cluster.gaps.length === 0 ? 'none' : String(cluster.gaps.length));
  for (const gap of cluster.gaps) {
    field(
      `  ${gap.status} ${gap.severity}`,
      `${gap.firstSegment} … ${gap.lastSegment} (${gap.count} segment${gap.count === 1 ? '' : 's'})`,
    );
  }
  if (cluster.unreferencedSegments > 0 || cluster.divergedSegments > 0) {
    field(
      'other segments',
      `${cluster.unreferencedSegments} older than every backup, ${cluster.divergedSegments} on diverged timeline tails`,
    );
  }
  field('problems', cluster.problems.length === 0 ? 'none' : String(cluster.problems.length));
  for (const problem of cluster.problems)
    field(`  ${problem.severity}`, `${problem.kind}: ${problem.message}`);
  return `${lines.join('\n')}\n`;
}

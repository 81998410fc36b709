/**
 * `walwatch drill`: restores a backup of one cluster with PostgreSQL and holds what recovery reached
 * against walwatch's prediction.
 *
 * Exit codes: 0 verified, 2 mismatch or failed, 3 usage or access error.
 */
import { parseArgs } from 'node:util';
import { readByteSize } from '../shared/config/byte-size.js';
import type { DrillPrefetch, DrillRecord } from '../shared/core/drill.js';
import {
  type DrillArchive,
  type DrillProgress,
  DrillSetupError,
  runDrill,
} from '../shared/drill/run-drill.js';
import { SourceAccessError } from '../shared/sources/archive-source.js';
import { parseS3Url } from '../shared/sources/s3-source.js';
import { UsageError } from './options.js';

const HELP = `usage: walwatch drill s3://BUCKET[/PREFIX] --cluster ID [options]
       walwatch drill --dir DIR --cluster ID [options]

Restores a base backup of cluster ID with PostgreSQL, replays the archived WAL through
walwatch wal-fetch, and compares what PostgreSQL reached with walwatch's own prediction: verified,
mismatch or failed.

options:
  --dir DIR            treat DIR as the bucket
  --cluster ID         the cluster's archive root, e.g. spilo/superman/wal/15 (required)
  --target T           latest (default), an ISO 8601 time with a zone, or an LSN such as 0/5000028
  --backup NAME        restore this backup instead of the one the restore plan chooses
  --pg-bin DIR         PostgreSQL server binaries (default /usr/lib/postgresql/<major>/bin)
  --pg-user USER       OS user that runs PostgreSQL when walwatch runs as root (default postgres)
  --check-sql SQL      run SQL on the restored server and keep its single value
  --segment-size SIZE  WAL segment size (default 16MiB)
  --scratch DIR        parent folder of the scratch directory (default the temp folder)
  --keep               keep the scratch directory (data directory and server log)
  --no-prefetch        let restore_command fetch every WAL segment itself, none downloaded ahead
  --json               print the drill record as JSON on stdout
  --endpoint URL       S3-compatible endpoint (also AWS_ENDPOINT_URL)
  --path-style         path-style S3 addressing
  --region REGION      AWS region (default from the environment)
  --quiet              no progress on stderr

exit codes: 0 verified, 2 mismatch or failed, 3 usage or access error
`;

/** Runs the command; returns the exit code. */
export async function run(args: string[]): Promise<number> {
  try {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        dir: { type: 'string' },
        cluster: { type: 'string' },
        target: { type: 'string', default: 'latest' },
        backup: { type: 'string' },
        'pg-bin': { type: 'string' },
        'pg-user': { type: 'string' },
        'check-sql': { type: 'string' },
        'segment-size': { type: 'string' },
        scratch: { type: 'string' },
        keep: { type: 'boolean', default: false },
        'no-prefetch': { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
        endpoint: { type: 'string' },
        'path-style': { type: 'boolean', default: false },
        region: { type: 'string' },
        quiet: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
    if (values.help) {
      process.stdout.write(HELP);
      return 0;
    }
    if (values.cluster === undefined) throw new UsageError(`--cluster ID is required\n\n${HELP}`);
    const archive = archiveOption(values.dir, positionals, values);
    let segmentSize: number | undefined;
    if (values['segment-size'] !== undefined) {
      segmentSize = readByteSize(values['segment-size']);
      if (segmentSize === undefined)
        throw new UsageError(`not a size: ${values['segment-size']} (try 16MiB)`);
    }
    const quiet = values.quiet;
    const record = await runDrill({
      archive,
      cluster: values.cluster,
      target: values.target,
      ...(values.backup === undefined ? {} : { backup: values.backup }),
      ...(values['pg-bin'] === undefined ? {} : { pgBin: values['pg-bin'] }),
      ...(values['pg-user'] === undefined ? {} : { pgUser: values['pg-user'] }),
      ...(values['check-sql'] === undefined ? {} : { checkSql: values['check-sql'] }),
      ...(values.scratch === undefined ? {} : { scratchParent: values.scratch }),
      ...(segmentSize === undefined ? {} : { segmentSize }),
      keep: values.keep,
      prefetch: !values['no-prefetch'],
      now: Date.now,
      onProgress: (event) => {
        if (!quiet) process.stderr.write(`walwatch drill: ${describeProgress(event)}\n`);
      },
    });
    process.stdout.write(values.json ? `${JSON.stringify(record, null, 2)}\n` : formatRecord(record));
    return record.verdict === 'verified' ? 0 : 2;
  } catch (error) {
    if (
      error instanceof UsageError ||
      error instanceof DrillSetupError ||
      error instanceof SourceAccessError ||
      String((error as { code?: unknown }).code ?? '').startsWith('ERR_PARSE_ARGS')
    ) {
      process.stderr.write(`walwatch drill: ${(error as Error).message}\n`);
      return 3;
    }
    throw error;
  }
}

function archiveOption(
  dir: string | undefined,
  positionals: string[],
  values: { endpoint?: string | undefined; 'path-style'?: boolean | undefined; region?: string | undefined },
): DrillArchive {
  if (dir !== undefined && positionals.length > 0)
    throw new UsageError('give either s3://BUCKET[/PREFIX] or --dir DIR, not both');
  if (dir !== undefined) return { kind: 'dir', dir };
  if (positionals.length !== 1)
    throw new UsageError(`expected one s3://BUCKET[/PREFIX] or --dir DIR\n\n${HELP}`);
  const url = parseS3Url(positionals[0] as string);
  if (!url) throw new UsageError(`not an s3:// URL: ${positionals[0]}`);
  return {
    kind: 's3',
    ...url,
    ...(values.endpoint === undefined ? {} : { endpoint: values.endpoint }),
    ...(values['path-style'] ? { forcePathStyle: true } : {}),
    ...(values.region === undefined ? {} : { region: values.region }),
  };
}

function describeProgress(event: DrillProgress): string {
  switch (event.phase) {
    case 'download':
      return `downloaded ${event.part}: ${(event.bytes / 2 ** 20).toFixed(1)} of ${(event.totalBytes / 2 ** 20).toFixed(1)} MB`;
    case 'unpack':
      return `unpacked ${event.part} (${event.done} of ${event.total})`;
    case 'replay':
      return `replayed to ${event.lsn}`;
    case 'prefetch':
      return `prefetch: ${describePrefetch(event)}`;
    default:
      return event.message;
  }
}

function describePrefetch(counts: DrillPrefetch): string {
  return `${counts.planned} segments planned, ${counts.fetched} fetched, ${counts.served} served, ${counts.failed} failed, ${counts.absent} absent`;
}

/** The human summary of a drill record. */
export function formatRecord(record: DrillRecord): string {
  const lines = [
    `${record.cluster}  ${record.verdict.toUpperCase()}  (target ${record.target}, backup ${record.backup ?? 'none'})`,
  ];
  const point = (p: DrillRecord['predicted']): string =>
    `timeline ${p.timeline ?? '?'}, end ${p.lsn ?? '?'}, last transaction ${p.lastCommitTime ?? 'none'}`;
  lines.push(`  predicted   ${point(record.predicted)}`);
  lines.push(`  reached     ${point(record.reached)}`);
  if (record.consistentLsn) lines.push(`  consistent  at ${record.consistentLsn}`);
  if (record.checkResult !== null) lines.push(`  check       ${record.checkResult}`);
  if (record.timings)
    lines.push(
      `  took        download ${record.timings.downloadMs} ms, unpack ${record.timings.unpackMs} ms, replay ${record.timings.replayMs} ms`,
    );
  if (record.prefetch) lines.push(`  prefetch    ${describePrefetch(record.prefetch)}`);
  if (record.reason) lines.push(`  reason      ${record.reason}`);
  for (const note of record.notes ?? []) lines.push(`  note        ${note}`);
  if (record.logTail)
    lines.push(
      '  PostgreSQL log (tail):',
      ...record.logTail
        .trimEnd()
        .split('\n')
        .map((l) => `    ${l}`),
    );
  return `${lines.join('\n')}\n`;
}

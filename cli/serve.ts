/**
 * `walwatch serve` (what `npm start` runs): the local monitor on embedded defaults.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { formatClusterSetting } from '../shared/config/cluster-setting.js';
import {
  type ContentPolicy,
  DEFAULT_CONTENT_POLICY,
  formatContentPolicy,
  parseContentPolicy,
} from '../shared/config/content-policy.js';
import { DEFAULT_DRILL_EVERY_MS, type DrillPolicy, parseDrillPolicy } from '../shared/config/drill-policy.js';
import { ENV } from '../shared/config/env.js';
import { parseSegmentSizes, type SegmentSizes } from '../shared/config/segment-sizes.js';
import { AccessPolicyError, checkAccessOptions } from '../shared/local/access-policy.js';
import { DataFolderLockedError } from '../shared/local/data-lock.js';
import { startLocalMonitor } from '../shared/local/local-monitor.js';
import { parseS3Url } from '../shared/sources/s3-source.js';
import { parseDurationOption, UsageError } from './options.js';

const HELP = `usage: walwatch serve [options]

Runs the local monitor: an embedded store, the same ingest and sweeper logic as on AWS, the API, /metrics
and a web dashboard. With no options it watches ./walwatch-data/archive as a bucket.

options:
  --dir DIR               folder used as a bucket (default ./walwatch-data/archive); WAL-G writes there
                          with WALG_FILE_PREFIX
  --bucket s3://B[/P]     watch an S3 or S3-compatible bucket instead (incremental listing)
  --endpoint URL          S3-compatible endpoint
  --path-style            path-style S3 addressing
  --queue URL             also read S3 notifications from this SQS queue (with --bucket)
  --webhook-secret S      accept S3-format notifications (MinIO) at POST /webhook/s3 (with --bucket)
  --data DIR              store folder (default ./walwatch-data)
  --listen HOST:PORT      HTTP address (default 127.0.0.1:7070)
  --api-token T           require Authorization: Bearer T on the API and /metrics (else WALWATCH_API_TOKEN);
                          required when --listen is not a loopback address; the dashboard link carries it
  --allow-host NAME       also accept this Host (NAME: any port, NAME:PORT: that port); repeatable (else
                          WALWATCH_ALLOW_HOSTS, comma-separated). Loopback names and the listen address
                          are always accepted
  --allow-origin ORIGIN   let pages of ORIGIN (https://dash.example.com) call the API, with CORS;
                          repeatable (else WALWATCH_ALLOW_ORIGINS, comma-separated)
  --segment-size SIZES    WAL segment size: auto (default: learnt from .backup files, sentinels and page
                          headers; 16MiB until known) or a size overriding it; per cluster, e.g.
                          'auto; 64MiB=spilo/big/*'
  --sweep-every DUR       sweeper period (default 15s)
  --content POLICY        segment bodies to read: chain-ends (default; exact last commit times), all (also
                          every segment's summary and segments recovery cannot read), off; per cluster
                          with overrides, e.g. 'chain-ends; all=spilo/orders/*; off=spilo/scratch/*'
  --drill-every POLICY    restore drills: a period per cluster, e.g. 24h (default where PostgreSQL server
                          binaries are found; off where none are) or '24h; off=spilo/scratch/*'
  --pg-bin DIR            PostgreSQL server binaries for drills (default: /usr/lib/postgresql/<major>/bin,
                          /usr/pgsql-<major>/bin, Homebrew, PATH)
  --pg-user USER          OS user the drill's PostgreSQL runs as when walwatch runs as root (default postgres)
  --drill-stale-after DUR drill-stale alert after this long without a verified drill (default 3 periods)
  --alert-webhook URL     POST alerts as JSON to this URL too
  --alert-topic ARN       publish alerts to this SNS topic too
  --gap-grace, --max-archive-age, --max-backup-age, --backup-stale-after DUR   thresholds
`;

/** Runs the command until interrupted; returns the exit code. */
export async function run(args: string[]): Promise<number> {
  let values: Record<string, string | boolean | string[] | undefined>;
  try {
    values = parseArgs({
      args,
      options: {
        dir: { type: 'string' },
        bucket: { type: 'string' },
        endpoint: { type: 'string' },
        'path-style': { type: 'boolean' },
        queue: { type: 'string' },
        'webhook-secret': { type: 'string' },
        data: { type: 'string', default: 'walwatch-data' },
        listen: { type: 'string', default: '127.0.0.1:7070' },
        'api-token': { type: 'string' },
        'allow-host': { type: 'string', multiple: true },
        'allow-origin': { type: 'string', multiple: true },
        'segment-size': { type: 'string' },
        'sweep-every': { type: 'string', default: '15s' },
        content: { type: 'string' },
        'drill-every': { type: 'string' },
        'pg-bin': { type: 'string' },
        'pg-user': { type: 'string' },
        'drill-stale-after': { type: 'string' },
        'alert-webhook': { type: 'string' },
        'alert-topic': { type: 'string' },
        'gap-grace': { type: 'string' },
        'max-archive-age': { type: 'string' },
        'max-backup-age': { type: 'string' },
        'backup-stale-after': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }).values;
  } catch (error) {
    process.stderr.write(`walwatch serve: ${(error as Error).message}\n`);
    return 3;
  }
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  try {
    const options = toOptions(values);
    const monitor = await startLocalMonitor(options);
    printWelcome(monitor.url, options, monitor.drills.summary);
    await new Promise<void>((done) => {
      const shutdown = (): void => {
        process.stderr.write('\nwalwatch: stopping…\n');
        monitor.stop().then(done, (error) => {
          process.stderr.write(`walwatch: ${(error as Error).message}\n`);
          done();
        });
      };
      process.once('SIGINT', shutdown);
      process.once('SIGTERM', shutdown);
    });
    return 0;
  } catch (error) {
    if (error instanceof UsageError || error instanceof AccessPolicyError) {
      process.stderr.write(`walwatch serve: ${error.message}\n`);
      return 3;
    }
    if (error instanceof DataFolderLockedError) {
      process.stderr.write(`walwatch serve: ${error.message}\n`);
      return 3;
    }
    if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      process.stderr.write(
        `walwatch serve: ${String(values.listen)} is in use; choose another with --listen\n`,
      );
      return 3;
    }
    throw error;
  }
}

type Options = Parameters<typeof startLocalMonitor>[0];

function toOptions(values: Record<string, string | boolean | string[] | undefined>): Options {
  const text = (name: string): string | undefined =>
    typeof values[name] === 'string' ? (values[name] as string) : undefined;
  const listen = /^(.*):(\d+)$/.exec(text('listen') ?? '');
  if (!listen) throw new UsageError(`--listen must be HOST:PORT, got ${text('listen')}`);
  const list = (option: string, env: string): string[] => {
    const given = values[option];
    if (Array.isArray(given)) return given;
    return (process.env[env] ?? '')
      .split(',')
      .map((entry) => entry.trim())
      .filter((entry) => entry !== '');
  };
  const apiToken = text('api-token') ?? (process.env[ENV.apiToken] || undefined);
  const access = {
    host: listen[1] as string,
    ...(apiToken === undefined ? {} : { apiToken }),
    allowHosts: list('allow-host', ENV.allowHosts),
    allowOrigins: list('allow-origin', ENV.allowOrigins),
  };
  // Refused here, before the store or the port is touched.
  checkAccessOptions(access);
  let segmentSize: SegmentSizes;
  try {
    segmentSize = parseSegmentSizes(text('segment-size') ?? process.env[ENV.segmentSize], '--segment-size');
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const bucketUrl = text('bucket');
  const bucket = bucketUrl ? parseS3Url(bucketUrl) : undefined;
  if (bucketUrl && !bucket) throw new UsageError(`--bucket must be s3://BUCKET[/PREFIX], got ${bucketUrl}`);
  if ((text('queue') || text('webhook-secret')) && !bucket)
    throw new UsageError('--queue and --webhook-secret need --bucket');
  const thresholds: Record<string, number> = {};
  for (const [option, field] of [
    ['gap-grace', 'gapGraceMs'],
    ['max-archive-age', 'maxArchiveAgeMs'],
    ['max-backup-age', 'maxBackupAgeMs'],
    ['backup-stale-after', 'backupStaleAfterMs'],
  ] as const) {
    const value = text(option);
    if (value) thresholds[field] = parseDurationOption(value);
  }
  const dataDir = resolve(text('data') ?? 'walwatch-data');
  let readContent: ContentPolicy;
  try {
    readContent = parseContentPolicy(text('content') ?? process.env[ENV.readContent], '--content');
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  let drillEvery: DrillPolicy | undefined;
  try {
    const policy = text('drill-every') ?? process.env[ENV.drillEvery];
    drillEvery = policy?.trim()
      ? parseDrillPolicy(policy, '--drill-every', DEFAULT_DRILL_EVERY_MS)
      : undefined;
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const staleAfter = text('drill-stale-after') ?? process.env[ENV.drillStaleAfter];
  return {
    dataDir,
    readContent,
    drills: {
      ...(drillEvery ? { every: drillEvery } : {}),
      ...(text('pg-bin') ? { pgBin: resolve(text('pg-bin') as string) } : {}),
      ...(text('pg-user') ? { pgUser: text('pg-user') as string } : {}),
      ...(staleAfter ? { staleAfterMs: parseDurationOption(staleAfter) } : {}),
    },
    ...(bucket
      ? {
          bucket: {
            name: bucket.bucket,
            prefix: bucket.prefix,
            ...(text('endpoint') ? { endpoint: text('endpoint') as string } : {}),
            ...(values['path-style'] ? { forcePathStyle: true } : {}),
          },
        }
      : { archiveDir: resolve(text('dir') ?? `${dataDir}/archive`) }),
    ...(text('queue') ? { queueUrl: text('queue') as string } : {}),
    ...(text('webhook-secret') ? { webhookSecret: text('webhook-secret') as string } : {}),
    ...(text('alert-webhook') ? { alertWebhookUrl: text('alert-webhook') as string } : {}),
    ...(text('alert-topic') ? { alertTopicArn: text('alert-topic') as string } : {}),
    ...access,
    port: Number(listen[2]),
    segmentSize,
    thresholds,
    sweepIntervalMs: parseDurationOption(text('sweep-every') ?? '15s'),
  };
}

function printWelcome(url: string, options: Options, drills: string): void {
  const lines = [
    `walwatch is running (store ${options.dataDir}/store).`,
    '',
    // The page keeps the token of its link in the tab's sessionStorage and drops it from the address bar.
    `  dashboard  ${url}/${options.apiToken ? `#token=${options.apiToken}` : ''}`,
    `  API        ${url}/clusters${options.apiToken ? '   (Authorization: Bearer <token>)' : ''}`,
    `  metrics    ${url}/metrics`,
    '',
  ];
  if (options.archiveDir) {
    lines.push(
      `Watching ${options.archiveDir} as a bucket. To archive a cluster into it with WAL-G, set on the database host:`,
      `  WALG_FILE_PREFIX=${options.archiveDir}/spilo/<scope>/wal/<major>`,
      `  archive_command = 'wal-g wal-push %p'        # and 'wal-g backup-push $PGDATA' for base backups`,
      `Any tool that copies WAL-G's layout (wal_005/, basebackups_005/) into that folder works the same.`,
    );
  } else if (options.bucket) {
    lines.push(
      `Watching s3://${options.bucket.name}/${options.bucket.prefix} (listing every minute${options.queueUrl ? ', and its SQS notifications' : ''}).`,
    );
    if (options.webhookSecret)
      lines.push(
        `  S3-format notifications (MinIO): POST ${url}/webhook/s3 with "Authorization: Bearer <secret>"`,
      );
  }
  const sizes =
    typeof options.segmentSize !== 'object'
      ? { default: options.segmentSize, clusters: [] }
      : options.segmentSize;
  const mebibytes = (size: number | 'auto'): string => (size === 'auto' ? 'auto' : `${size / 2 ** 20}MiB`);
  lines.push(
    '',
    `Segment content read: ${formatContentPolicy(options.readContent ?? DEFAULT_CONTENT_POLICY)} (--content).`,
    `WAL segment size: ${formatClusterSetting(sizes, mebibytes)} (--segment-size).`,
    drills,
  );
  lines.push('', 'Ctrl-C stops it; restarting resumes from the stored state.');
  process.stderr.write(`${lines.join('\n')}\n`);
}

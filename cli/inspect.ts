/**
 * `walwatch inspect`: reads WAL segment files or S3 objects and prints how far their WAL reaches, in LSN and
 * in time (the last commit a `recovery_target_time` can reach), after checking every record's CRC.
 *
 * Exit codes: 0 ok, 2 content corrupt, truncated, foreign or unreadable (lzo, encrypted), 3 usage or access
 * error.
 */
import { readFile } from 'node:fs/promises';
import { compressionMethodOfKey } from '../shared/codec/compression-method.js';
import { loadNativeCrc32c } from '../shared/codec/crc32c-native.js';
import {
  type CompressionMethod,
  ContentTooLargeError,
  ContentUnreadableError,
  CorruptContentError,
  DEFAULT_MAX_BYTES,
  decompress,
} from '../shared/codec/decompress.js';
import { formatLsn } from '../shared/core/lsn.js';
import { summarizeSegment } from '../shared/core/segment-summary.js';
import type { TimedRecord } from '../shared/core/wal/record-facts.js';
import type { SegmentContent } from '../shared/core/wal/segment-content.js';
import { WalReader } from '../shared/core/wal/wal-reader.js';
import { SourceAccessError } from '../shared/sources/archive-source.js';
import { openS3Source, parseS3Url } from '../shared/sources/s3-source.js';
import { runCommand } from './command.js';
import { parseByteSize, UsageError } from './options.js';

const HELP = `usage: walwatch inspect FILE|s3://BUCKET/KEY... [options]

Reads WAL segments (decompressed by extension: .lz4 .lzma .zst .br .gz, none), checks every record's
CRC-32C and prints per segment: PostgreSQL version, timeline, segment size, first and last record LSN,
the first and last commit times, restore points, end-of-recovery and checkpoint records, and how the
segment ends. Several segments given in LSN order are read as one stream: records crossing from one
into the next are joined.

options:
  --records             list every commit and abort: LSN, xid, time
  --json                print JSON on stdout
  --compression METHOD  lz4, lzma, zstd, brotli, gzip or none, instead of the extension's
  --max-size SIZE       largest decompressed segment accepted (default 64MiB)
  --endpoint URL        S3-compatible endpoint (also AWS_ENDPOINT_URL)
  --path-style          path-style S3 addressing
  --region REGION       AWS region (default from the environment)

exit codes: 0 ok, 2 content corrupt, truncated, foreign or unreadable, 3 usage or access error
`;

const METHODS: readonly CompressionMethod[] = ['lz4', 'lzma', 'zstd', 'brotli', 'gzip', 'lzo', 'none'];
const EXIT_CONTENT = 2;

interface InspectOptions {
  readonly records: boolean;
  readonly json: boolean;
  readonly compression: CompressionMethod | undefined;
  readonly maxBytes: number;
  readonly endpoint: string | undefined;
  readonly pathStyle: boolean;
  readonly region: string | undefined;
}

/** What one argument gave: a summary, or why its content could not be read. */
type Inspection =
  | {
      readonly source: string;
      readonly method: CompressionMethod;
      readonly size: number;
      readonly content: SegmentContent;
    }
  | {
      readonly source: string;
      readonly method: CompressionMethod;
      readonly size: number;
      readonly problem: string;
    };

/** Runs the command; returns the exit code. */
export async function run(args: string[]): Promise<number> {
  return runCommand(
    args,
    {
      name: 'inspect',
      help: HELP,
      expected: [SourceAccessError],
      options: {
        records: { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
        compression: { type: 'string' },
        'max-size': { type: 'string' },
        endpoint: { type: 'string' },
        'path-style': { type: 'boolean', default: false },
        region: { type: 'string' },
      },
    },
    async ({ values, positionals }) => {
      if (positionals.length === 0)
        throw new UsageError(`expected a segment file or s3://BUCKET/KEY\n\n${HELP}`);
      const compression = values.compression as CompressionMethod | undefined;
      if (compression !== undefined && !METHODS.includes(compression)) {
        throw new UsageError(`--compression must be one of ${METHODS.join(', ')}, got ${compression}`);
      }
      const options: InspectOptions = {
        records: values.records,
        json: values.json,
        compression,
        maxBytes: values['max-size'] === undefined ? DEFAULT_MAX_BYTES : parseByteSize(values['max-size']),
        endpoint: values.endpoint,
        pathStyle: values['path-style'],
        region: values.region,
      };
      const reader = new WalReader({ collectTimedRecords: true, crc32c: loadNativeCrc32c().crc32c });
      const inspections: Inspection[] = [];
      for (const location of positionals) {
        const inspection = await inspect(location, reader, options);
        if ('problem' in inspection) reader.reset();
        inspections.push(inspection);
      }
      process.stdout.write(
        options.json
          ? `${JSON.stringify({ segments: inspections.map((i) => toJson(i, options)) }, null, 2)}\n`
          : inspections.map((i) => formatInspection(i, options)).join('\n'),
      );
      const bad = inspections.some((i) => 'problem' in i || i.content.error !== undefined);
      return bad ? EXIT_CONTENT : 0;
    },
  );
}

async function inspect(location: string, reader: WalReader, options: InspectOptions): Promise<Inspection> {
  const body = await readBody(location, options);
  const named = compressionMethodOfKey(location);
  const method = options.compression ?? named.method;
  let bytes: Uint8Array;
  try {
    bytes = await decompress(body, method, { maxBytes: options.maxBytes });
  } catch (error) {
    if (
      error instanceof CorruptContentError ||
      error instanceof ContentUnreadableError ||
      error instanceof ContentTooLargeError
    ) {
      return { source: location, method, size: body.length, problem: error.message };
    }
    throw error;
  }
  const content = reader.readSegment(bytes, { fileName: named.baseName });
  return { source: location, method, size: body.length, content };
}

async function readBody(location: string, options: InspectOptions): Promise<Uint8Array> {
  if (location.startsWith('s3://')) {
    const url = parseS3Url(location);
    if (!url || url.prefix === '') throw new UsageError(`expected s3://BUCKET/KEY, got ${location}`);
    const source = openS3Source({
      bucket: url.bucket,
      prefix: '',
      ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
      ...(options.pathStyle ? { forcePathStyle: true } : {}),
      ...(options.region === undefined ? {} : { region: options.region }),
    });
    return source.read(url.prefix);
  }
  try {
    return new Uint8Array(await readFile(location));
  } catch (error) {
    throw new SourceAccessError(`cannot read ${location}: ${(error as Error).message}`, { cause: error });
  }
}

function lsnText(lsn: bigint | undefined): string | null {
  return lsn === undefined ? null : formatLsn(lsn);
}

function timedJson(record: TimedRecord): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(record).map(([key, value]) => [
      key,
      typeof value === 'bigint'
        ? key.toLowerCase().endsWith('lsn')
          ? formatLsn(value)
          : value.toString()
        : value,
    ]),
  );
}

/** The JSON form: LSNs as `%X/%X`, 64-bit integers as decimal strings, absent values as null. */
function toJson(inspection: Inspection, options: InspectOptions): Record<string, unknown> {
  const head = { source: inspection.source, compression: inspection.method, objectSize: inspection.size };
  if ('problem' in inspection) return { ...head, readable: false, error: inspection.problem };
  const c = inspection.content;
  const maybe = (record: TimedRecord | undefined) => (record === undefined ? null : timedJson(record));
  return {
    ...head,
    readable: true,
    // The stored summary's fields (the content scan keeps the same), then what only inspect shows.
    ...summarizeSegment(c),
    pageMagic: c.pageMagic ?? null,
    lastCommitTimeMicros: c.lastCommitTimeMicros?.toString() ?? null,
    firstCommit: maybe(c.firstCommit),
    lastCommit: maybe(c.lastCommit),
    lastAbort: maybe(c.lastAbort),
    lastTransactionEnd: maybe(c.lastTransactionEnd),
    restorePoints: c.restorePoints.map(timedJson),
    endOfRecovery: maybe(c.endOfRecovery),
    lastCheckpoint: maybe(c.lastCheckpoint),
    continuation: c.continuation,
    incompleteRecord: c.incompleteRecord
      ? { ...c.incompleteRecord, lsn: formatLsn(c.incompleteRecord.lsn) }
      : null,
    abandonedRecordLsn: lsnText(c.abandonedRecordLsn),
    ...(options.records ? { transactionEnds: transactionEnds(c).map(timedJson) } : {}),
  };
}

function transactionEnds(content: SegmentContent): TimedRecord[] {
  return (content.timedRecords ?? []).filter((r) => r.kind === 'commit' || r.kind === 'abort');
}

function mebibytes(bytes: number): string {
  return bytes >= 1024 * 1024
    ? `${(bytes / 1024 / 1024).toFixed(bytes % (1024 * 1024) ? 1 : 0)} MiB`
    : `${bytes} bytes`;
}

const END_TEXT: Record<SegmentContent['end'], string> = {
  'segment-end': 'valid to the end of the segment',
  switch: 'ends with XLOG_SWITCH (the rest is padding)',
  'end-of-wal': 'WAL ends before the segment end (normal for .partial and live segments only)',
  invalid: 'stopped at corrupt or missing bytes',
};

/** The human summary of one argument. */
function formatInspection(inspection: Inspection, options: InspectOptions): string {
  const lines = [`${inspection.source} (${inspection.method}, ${mebibytes(inspection.size)})`];
  if ('problem' in inspection) return `${[...lines, `  unreadable: ${inspection.problem}`].join('\n')}\n`;
  const c = inspection.content;
  if (c.postgresVersion !== undefined) {
    lines.push(
      `  PostgreSQL ${c.postgresVersion} (page magic 0x${c.pageMagic?.toString(16).toUpperCase()}), timeline ${c.timeline}, ` +
        `segment size ${mebibytes(c.segmentSize ?? 0)}, system ${c.systemIdentifier}`,
    );
  }
  if (c.startLsn !== undefined) {
    lines.push(
      `  records: ${c.recordCount} (${c.recordBytes} bytes), first ${lsnText(c.firstRecordLsn) ?? '-'}, ` +
        `last ${lsnText(c.lastRecordLsn) ?? '-'}, valid WAL to ${lsnText(c.endLsn) ?? '-'}`,
    );
  }
  if (c.continuation !== 'none') {
    lines.push(
      c.continuation === 'joined'
        ? '  starts with the end of a record from the previous segment (joined)'
        : '  starts inside a record from an earlier segment (skipped)',
    );
  }
  lines.push(
    `  commits: ${c.commitCount}, aborts: ${c.abortCount}` +
      (c.lastCommit
        ? `; first commit ${c.firstCommitTime}, last commit ${c.lastCommitTime} at ${lsnText(c.lastCommitLsn)}`
        : ''),
  );
  if (c.lastTransactionEnd && c.lastTransactionEnd.kind === 'abort') {
    lines.push(
      `  last transaction end: abort at ${lsnText(c.lastTransactionEnd.lsn)}, ${c.lastTransactionEnd.time}`,
    );
  }
  for (const point of c.restorePoints) {
    lines.push(`  restore point ${JSON.stringify(point.name)} at ${formatLsn(point.lsn)}, ${point.time}`);
  }
  if (c.endOfRecovery) {
    const r = c.endOfRecovery;
    lines.push(
      `  end of recovery at ${formatLsn(r.lsn)}: timeline ${r.previousTimeline} → ${r.timeline}, ${r.time}`,
    );
  }
  if (c.lastCheckpoint) {
    const k = c.lastCheckpoint;
    lines.push(
      `  last checkpoint at ${formatLsn(k.lsn)} (${k.shutdown ? 'shutdown' : 'online'}, redo ${formatLsn(k.redoLsn)}), ${k.time}`,
    );
  }
  lines.push(`  ${END_TEXT[c.end]}`);
  if (c.incompleteRecord) {
    const r = c.incompleteRecord;
    lines.push(
      `  the record at ${formatLsn(r.lsn)} continues in the next segment (${r.bytesRead} of ${r.totalLength} bytes here)`,
    );
  }
  if (c.abandonedRecordLsn !== undefined) {
    lines.push(`  the record at ${formatLsn(c.abandonedRecordLsn)} was abandoned (overwrite contrecord)`);
  }
  if (c.error) lines.push(`  error: ${c.error}`);
  if (options.records) {
    for (const end of transactionEnds(c)) {
      if (end.kind !== 'commit' && end.kind !== 'abort') continue;
      lines.push(
        `  ${end.kind.padEnd(6)} ${formatLsn(end.lsn).padEnd(12)} xid ${String(end.xid).padEnd(10)} ${end.time}`,
      );
    }
  }
  return `${lines.join('\n')}\n`;
}

/**
 * `walwatch wal-fetch FILE DEST`: PostgreSQL's `restore_command`. Exit codes follow PostgreSQL's contract:
 * 0 fetched, 1 no such file in the archive, 2 any other failure (one line on stderr), 3 usage.
 */
import { parseArgs } from 'node:util';
import {
  fetchWalFile,
  parseWalFetchBound,
  type WalFetchBound,
  WalFetchError,
} from '../shared/drill/wal-fetch.js';
import { type ObjectReader, SourceAccessError } from '../shared/sources/archive-source.js';
import { openDirSource } from '../shared/sources/dir-source.js';
import { UsageError } from './options.js';

const HELP = `usage: walwatch wal-fetch FILE DEST --from s3://BUCKET/ROOT
       walwatch wal-fetch FILE DEST --dir DIR/ROOT

Fetches WAL file FILE (a segment or a .history file) from the archive root ROOT (the folder holding
wal_005/), decompresses it (lz4, zstd, brotli, lzma, gzip or none) and writes DEST atomically. Use it as
PostgreSQL's restore_command:

  restore_command = 'walwatch wal-fetch "%f" "%p" --from s3://my-bucket/spilo/demo/wal/15'

options:
  --from s3://BUCKET/ROOT   the archive root in S3
  --dir DIR/ROOT            the archive root in a folder
  --endpoint URL            S3-compatible endpoint (also AWS_ENDPOINT_URL)
  --path-style              path-style S3 addressing
  --region REGION           AWS region (default from the environment)
  --until SEGMENTS          serve the archive as it was: per timeline, the newest segment to fetch
                            (comma-separated WAL file names); later ones count as absent

exit codes: 0 fetched, 1 not in the archive, 2 any other failure, 3 usage error
`;

/** Runs the command; returns the exit code. */
export async function run(args: string[]): Promise<number> {
  let reader: ObjectReader;
  let root: string;
  let file: string;
  let dest: string;
  let bound: WalFetchBound | undefined;
  try {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        from: { type: 'string' },
        dir: { type: 'string' },
        endpoint: { type: 'string' },
        'path-style': { type: 'boolean', default: false },
        region: { type: 'string' },
        until: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
    if (values.help) {
      process.stdout.write(HELP);
      return 0;
    }
    if (positionals.length !== 2) throw new UsageError('expected FILE and DEST');
    [file, dest] = positionals as [string, string];
    if (values.until !== undefined) {
      try {
        bound = parseWalFetchBound(values.until);
      } catch (error) {
        throw new UsageError((error as Error).message);
      }
    }
    if ((values.from === undefined) === (values.dir === undefined))
      throw new UsageError('give either --from s3://BUCKET/ROOT or --dir DIR/ROOT');
    if (values.dir !== undefined) {
      reader = await openDirSource(values.dir);
      root = '';
    } else {
      // The SDK loads only for S3: PostgreSQL starts this command once per WAL file.
      const { openS3Source, parseS3Url } = await import('../shared/sources/s3-source.js');
      const url = parseS3Url(values.from as string);
      if (!url) throw new UsageError(`not an s3:// URL: ${values.from}`);
      reader = openS3Source({
        bucket: url.bucket,
        prefix: url.prefix,
        ...(values.endpoint === undefined ? {} : { endpoint: values.endpoint }),
        ...(values['path-style'] ? { forcePathStyle: true } : {}),
        ...(values.region === undefined ? {} : { region: values.region }),
      });
      root = url.prefix;
    }
  } catch (error) {
    const message = (error as Error).message.split('\n')[0];
    process.stderr.write(`walwatch wal-fetch: ${message}\n`);
    return error instanceof SourceAccessError ? 2 : 3;
  }
  try {
    const result = await fetchWalFile(reader, root, file, dest, bound);
    return result.status === 'absent' ? 1 : 0;
  } catch (error) {
    // Every failure but absence must exit 2: an uncaught error would exit 1, which PostgreSQL reads as
    // "not archived" and ends recovery early.
    const known = error instanceof WalFetchError || error instanceof SourceAccessError;
    const message = known ? (error as Error).message : String((error as Error).stack ?? error);
    process.stderr.write(`walwatch wal-fetch: ${file}: ${message.replace(/\s+/g, ' ')}\n`);
    return 2;
  }
}

/**
 * `walwatch sample DIR`: writes a small WAL-G archive into a folder to try walwatch on — three Spilo
 * clusters (healthy with a failover, one with a lost gap, one that stopped archiving), stored relative to
 * now, compressed with brotli as `WALG_COMPRESSION_METHOD=brotli` does.
 *
 * Exit codes: 0 written, 3 usage error or the folder already holds the sample.
 */
import { mkdir, rename, stat, utimes, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { brotliCompress, constants } from 'node:zlib';
import { parseTime } from '../shared/core/time.js';
import { sampleArchive } from '../shared/sample/sample-archive.js';
import { runCommand } from './command.js';
import { UsageError } from './options.js';

const compress = promisify(brotliCompress);

const HELP = `usage: walwatch sample DIR [options]

Writes a small WAL-G archive into DIR to try walwatch on: three Spilo clusters with 16 MiB segments
(brotli), stored relative to now — spilo/orders/wal/15 healthy with a failover to timeline 2,
spilo/payments/wal/15 with a lost gap, spilo/reports/wal/14 that stopped archiving. Point the local
monitor (npm start watches ./walwatch-data/archive) or walwatch analyze --dir at it.

options:
  --now TIME   store the objects relative to this ISO 8601 time (default: now)
  --quiet      no summary on stderr

exit codes: 0 written, 3 usage error or DIR already holds the sample
`;

/** Runs the command; returns the exit code. */
export async function run(args: string[]): Promise<number> {
  return runCommand(
    args,
    {
      name: 'sample',
      help: HELP,
      options: {
        now: { type: 'string' },
        quiet: { type: 'boolean', default: false },
      },
    },
    async ({ values, positionals }) => {
      if (positionals.length !== 1) throw new UsageError('give one folder: walwatch sample DIR');
      const now = values.now === undefined ? Date.now() : parseTime(values.now);
      if (Number.isNaN(now)) throw new UsageError(`--now is not an ISO 8601 time: ${values.now}`);
      const dir = resolve(positionals[0] as string);
      const objects = sampleArchive(now);
      const first = objects[0];
      if (first && (await exists(join(dir, `${first.key}.br`))))
        throw new UsageError(`${dir} already holds the sample archive: remove it or pick another folder`);
      let bytes = 0;
      for (const object of objects) {
        const body = object.compress
          ? await compress(object.body, { params: { [constants.BROTLI_PARAM_QUALITY]: 4 } })
          : object.body;
        const path = join(dir, ...`${object.key}${object.compress ? '.br' : ''}`.split('/'));
        await mkdir(dirname(path), { recursive: true });
        // Complete files only, as WAL-G's file storage writes them: a watcher never sees half a segment.
        const temporary = `${path}.tmp-${process.pid}`;
        await writeFile(temporary, body);
        await utimes(temporary, object.storedAt / 1000, object.storedAt / 1000);
        await rename(temporary, path);
        bytes += body.length;
      }
      if (!values.quiet)
        process.stderr.write(
          `walwatch: wrote ${objects.length} objects (${Math.ceil(bytes / 1024)} KiB) of 3 clusters to ${dir}\n` +
            `  next: walwatch analyze --dir ${dir}   (or watch it live: walwatch serve --dir ${dir})\n`,
        );
      return 0;
    },
  );
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

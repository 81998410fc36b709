/**
 * Real WAL for the WAL reader's tests and benchmark, made at test time by PostgreSQL 15.
 *
 * Starts a throw-away cluster (unix socket only, as an unprivileged OS user because PostgreSQL refuses root),
 * runs SQL, lets `archive_command` copy each finished segment into an archive folder, and reads the result
 * back with `pg_waldump`, which is the reference every expectation is derived from.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { appendFile, chmod, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parsePgLsn } from './postgres-wal.js';

/** Where the Debian `postgresql-15` package puts its programs. */
export const PG_BIN = '/usr/lib/postgresql/15/bin';
const OS_USER = 'walwatch-wal';

/** Whether PostgreSQL 15's server programs are installed. */
export function hasPostgres(): boolean {
  return existsSync(join(PG_BIN, 'initdb')) && existsSync(join(PG_BIN, 'pg_waldump'));
}

function run(
  command: string,
  args: string[],
  options: { input?: string; env?: NodeJS.ProcessEnv } = {},
): string {
  const asUser = process.getuid?.() === 0;
  const [file, argv] = asUser ? ['runuser', ['-u', OS_USER, '--', command, ...args]] : [command, args];
  const result = spawnSync(file, argv, {
    encoding: 'utf8',
    input: options.input,
    env: { ...process.env, TZ: 'UTC', PGTZ: 'UTC', LC_ALL: 'C', ...options.env },
    maxBuffer: 1024 * 1024 * 1024,
  });
  if (result.status !== 0) {
    throw new Error(
      `${command} ${args.join(' ')} failed (${result.status}): ${result.stderr}${result.stdout}`,
    );
  }
  return result.stdout;
}

function ensureOsUser(): void {
  if (process.getuid?.() !== 0) return;
  if (spawnSync('id', ['-u', OS_USER]).status === 0) return;
  const added = spawnSync('useradd', [
    '--system',
    '--no-create-home',
    '--shell',
    '/usr/sbin/nologin',
    OS_USER,
  ]);
  // Another test file may have created the user at the same moment.
  if (added.status !== 0 && spawnSync('id', ['-u', OS_USER]).status !== 0) {
    throw new Error(`useradd ${OS_USER} failed: ${added.stderr}`);
  }
}

/** A running throw-away PostgreSQL 15 cluster that archives every finished WAL segment. */
export class WalCluster {
  readonly dir: string;
  readonly dataDir: string;
  readonly archiveDir: string;
  readonly segmentSize: number;

  private constructor(dir: string, segmentSize: number) {
    this.dir = dir;
    this.dataDir = join(dir, 'data');
    this.archiveDir = join(dir, 'archive');
    this.segmentSize = segmentSize;
  }

  /** Creates and starts a cluster with `segmentSizeMiB` MiB segments. */
  static async start(segmentSizeMiB: number, settings: Record<string, string> = {}): Promise<WalCluster> {
    ensureOsUser();
    const dir = await mkdtemp(join(tmpdir(), 'walwatch-wal-'));
    await chmod(dir, 0o777);
    const cluster = new WalCluster(dir, segmentSizeMiB * 1024 * 1024);
    await mkdir(cluster.archiveDir, { mode: 0o777 });
    await chmod(cluster.archiveDir, 0o777);
    run(join(PG_BIN, 'initdb'), [
      '-D',
      cluster.dataDir,
      `--wal-segsize=${segmentSizeMiB}`,
      '-A',
      'trust',
      '-U',
      'postgres',
      '--no-sync',
      '--no-instructions',
    ]);
    const conf: Record<string, string> = {
      listen_addresses: "''",
      unix_socket_directories: `'${dir}'`,
      wal_level: 'replica',
      archive_mode: 'on',
      // Copy then rename, so that a file seen in the archive is always complete.
      archive_command: `'test ! -f ${cluster.archiveDir}/%f && cp %p ${cluster.archiveDir}/.%f.tmp && mv ${cluster.archiveDir}/.%f.tmp ${cluster.archiveDir}/%f'`,
      restore_command: `'cp ${cluster.archiveDir}/%f %p'`,
      fsync: 'off',
      full_page_writes: 'on',
      autovacuum: 'off',
      checkpoint_timeout: '1h',
      max_wal_size: '4GB',
      shared_buffers: '128MB',
      ...settings,
    };
    const lines = Object.entries(conf).map(([key, value]) => `${key} = ${value}`);
    await appendFile(join(cluster.dataDir, 'postgresql.conf'), `${lines.join('\n')}\n`);
    cluster.startServer();
    return cluster;
  }

  private startServer(): void {
    run(join(PG_BIN, 'pg_ctl'), ['-D', this.dataDir, '-l', join(this.dir, 'server.log'), '-w', 'start']);
  }

  /** Runs SQL through psql and returns its unaligned, tuples-only output. */
  sql(text: string): string {
    return run(
      join(PG_BIN, 'psql'),
      ['-h', this.dir, '-U', 'postgres', '-d', 'postgres', '-X', '-q', '-A', '-t'],
      {
        input: `\\set ON_ERROR_STOP on\n${text}\n`,
      },
    ).trim();
  }

  /** Runs pgbench with `args` against the cluster. */
  pgbench(args: string[]): void {
    run(join(PG_BIN, 'pgbench'), ['-h', this.dir, '-U', 'postgres', ...args, 'postgres']);
  }

  /** Ends the current segment (`pg_switch_wal()`) and waits until the archiver has copied it. */
  async switchAndArchive(): Promise<string> {
    const name = this.sql('SELECT pg_walfile_name(pg_current_wal_lsn()); SELECT pg_switch_wal();').split(
      '\n',
    )[0];
    if (name === undefined) throw new Error('no WAL file name');
    await this.waitForArchived(name);
    return name;
  }

  /** Waits until `fileName` is in the archive folder. */
  async waitForArchived(fileName: string, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!existsSync(join(this.archiveDir, fileName))) {
      if (Date.now() > deadline) throw new Error(`${fileName} was not archived within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /**
   * Turns the server into a standby of its own archive and promotes it: a new timeline with an
   * `XLOG_END_OF_RECOVERY` record, the old timeline's last segment archived as `.partial`, a `.history` file.
   */
  async promoteToNewTimeline(): Promise<void> {
    run(join(PG_BIN, 'pg_ctl'), ['-D', this.dataDir, '-m', 'fast', '-w', 'stop']);
    await writeFile(join(this.dataDir, 'standby.signal'), '');
    spawnSync('chown', [OS_USER, join(this.dataDir, 'standby.signal')]);
    this.startServer();
    run(join(PG_BIN, 'pg_ctl'), ['-D', this.dataDir, '-w', 'promote']);
  }

  /** `pg_controldata`'s output as label → value. */
  controlData(): Record<string, string> {
    const text = run(join(PG_BIN, 'pg_controldata'), ['-D', this.dataDir]);
    return Object.fromEntries(
      text
        .split('\n')
        .map((line) => /^([^:]+):\s+(.*)$/.exec(line))
        .filter((match): match is RegExpExecArray => match !== null)
        .map((match) => [match[1] as string, match[2] as string]),
    );
  }

  /**
   * Pads WAL with a non-transactional logical message so that the next record starts between `minGap`
   * and about `minGap + 300` bytes before the end of the current segment (page headers included).
   */
  fillSegmentUntil(minGap: number): void {
    const segmentOffset = () => {
      const lsn = parsePgLsn(this.sql('SELECT pg_current_wal_insert_lsn();'));
      return Number(lsn % BigInt(this.segmentSize));
    };
    let remaining = this.segmentSize - segmentOffset();
    if (remaining < minGap + 16_384) {
      this.sql(`SELECT pg_logical_emit_message(false, 'walwatch-pad', repeat('p', ${remaining + 1000}));`);
      remaining = this.segmentSize - segmentOffset();
    }
    // Each 8 KiB page costs a 24-byte header; the message record itself about 60 bytes.
    const pages = Math.ceil(remaining / 8192);
    const payload = remaining - minGap - pages * 24 - 60 - 200;
    this.sql(`SELECT pg_logical_emit_message(false, 'walwatch-pad', repeat('p', ${payload}));`);
  }

  /**
   * Simulates a crash that loses the end of WAL: stops the server without a checkpoint
   * (`pg_ctl stop -m immediate`), deletes `fileName` from `pg_wal`, and starts it again. A record that ran
   * into the deleted file is then abandoned and PostgreSQL writes `XLOG_OVERWRITE_CONTRECORD` over it.
   */
  async crashLosingWalFile(fileName: string): Promise<void> {
    run(join(PG_BIN, 'pg_ctl'), ['-D', this.dataDir, '-m', 'immediate', '-w', 'stop']);
    await rm(join(this.dataDir, 'pg_wal', fileName));
    this.startServer();
  }

  /** The archive folder's file names, sorted. */
  async archivedFiles(): Promise<string[]> {
    return (await readdir(this.archiveDir)).filter((name) => !name.startsWith('.')).sort();
  }

  /** Stops the server and deletes everything. */
  async destroy(): Promise<void> {
    const stop = [join(PG_BIN, 'pg_ctl'), '-D', this.dataDir, '-m', 'immediate', 'stop'];
    if (process.getuid?.() === 0) spawnSync('runuser', ['-u', OS_USER, '--', ...stop]);
    else spawnSync(stop[0] as string, stop.slice(1));
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** One record as `pg_waldump` prints it. */
export interface DumpedRecord {
  readonly rmgr: string;
  readonly totalLength: number;
  readonly xid: number;
  /** Start of the record, parsed from pg_waldump's `%X/%08X`. */
  readonly lsn: bigint;
  readonly prev: bigint;
  readonly description: string;
}

const RECORD_LINE =
  /^rmgr: (\S+)\s+len \(rec\/tot\):\s*(\d+)\/\s*(\d+), tx:\s*(\d+), lsn: ([0-9A-F]+\/[0-9A-F]+), prev ([0-9A-F]+\/[0-9A-F]+), desc: (.*)$/;

/**
 * Runs `pg_waldump` over `files` (paths of consecutive segments of one timeline, in order) and parses
 * every record line. `pg_waldump` stops at the first invalid record; its complaint is returned too.
 */
export function dumpWal(files: string[]): { records: DumpedRecord[]; stopMessage: string } {
  const first = files[0];
  const last = files[files.length - 1];
  if (first === undefined || last === undefined) throw new Error('no files');
  const result = spawnSync(join(PG_BIN, 'pg_waldump'), files.length === 1 ? [first] : [first, last], {
    encoding: 'utf8',
    env: { ...process.env, TZ: 'UTC', LC_ALL: 'C' },
    maxBuffer: 4 * 1024 * 1024 * 1024,
  });
  const records = parseWaldumpOutput(result.stdout);
  return { records, stopMessage: result.stderr.trim() };
}

/** Parses every record line of `pg_waldump`'s output. */
export function parseWaldumpOutput(text: string): DumpedRecord[] {
  const records: DumpedRecord[] = [];
  for (const line of text.split('\n')) {
    const match = RECORD_LINE.exec(line);
    if (!match) continue;
    records.push({
      rmgr: match[1] as string,
      totalLength: Number(match[3]),
      xid: Number(match[4]),
      lsn: parsePgLsn(match[5] as string),
      prev: parsePgLsn(match[6] as string),
      description: match[7] as string,
    });
  }
  return records;
}

/** A commit or abort as `pg_waldump` describes it, with its time in µs since the Unix epoch. */
export interface DumpedTransactionEnd {
  readonly kind: 'commit' | 'abort';
  readonly lsn: bigint;
  readonly xid: number;
  readonly totalLength: number;
  readonly unixMicros: bigint;
}

const XACT_DESC =
  /^(COMMIT|ABORT|COMMIT_PREPARED|ABORT_PREPARED)\b.*?(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)(?:\.(\d{1,6}))? UTC/;

/** Parses `2026-11-24 14:32:15.485281` (UTC) into µs since the Unix epoch. */
export function parseWaldumpTime(date: string, fraction = ''): bigint {
  const seconds = BigInt(Date.parse(`${date.replace(' ', 'T')}Z`) / 1000);
  return seconds * 1_000_000n + BigInt(fraction.padEnd(6, '0') || '0');
}

/** The commit and abort records of a dump, in order. */
export function transactionEnds(records: readonly DumpedRecord[]): DumpedTransactionEnd[] {
  const ends: DumpedTransactionEnd[] = [];
  for (const record of records) {
    if (record.rmgr !== 'Transaction') continue;
    const match = XACT_DESC.exec(record.description);
    if (!match) continue;
    ends.push({
      kind: (match[1] as string).startsWith('COMMIT') ? 'commit' : 'abort',
      lsn: record.lsn,
      xid: record.xid,
      totalLength: record.totalLength,
      unixMicros: parseWaldumpTime(match[2] as string, match[3]),
    });
  }
  return ends;
}

import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import {
  appendFile,
  chmod,
  chown,
  mkdir,
  mkdtemp,
  open,
  readdir,
  readFile,
  rm,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type ArchiveLayout,
  decompressLz4,
  formatRestoreCommand,
  listObjectKeys,
  locateArchivedWal,
  writeArchiveScripts,
} from './postgres-archive.js';
import { type BaseBackupFacts, takeWalgBaseBackup } from './postgres-backup.js';
import {
  ensurePostgresOsUser,
  isProcessRunning,
  isRoot,
  type OsUser,
  POSTGRES_BIN,
  POSTGRES_OS_USER,
  runCommand,
} from './postgres-exec.js';
import { dumpWal, parsePgLsn, type WalDump } from './postgres-wal.js';

export type { BaseBackupFacts } from './postgres-backup.js';
export { CommandFailedError } from './postgres-exec.js';
export {
  computeSegmentEndLsn,
  formatPgLsn,
  parsePgLsn,
  type WalDump,
  type WalRecord,
} from './postgres-wal.js';

/** Options of {@link startPostgres}. */
export interface StartPostgresOptions {
  /** `initdb --wal-segsize`, in bytes: a power of two from 1 MiB to 1 GiB. @default 1048576 (fast tests) */
  readonly walSegmentSize?: number;
  /** `archive_timeout` in seconds; 0 turns it off. @default 0 */
  readonly archiveTimeoutSeconds?: number;
  /**
   * Key prefix of the archive root inside the bucket folder, Spilo's shape by default.
   * @default 'spilo/walwatch/wal/15'
   */
  readonly archivePrefix?: string;
  /** More `postgresql.conf` settings for every server, e.g. `{ wal_compression: 'on' }`. @default {} */
  readonly settings?: Readonly<Record<string, string | number>>;
}

/** A timeline's history file, as PostgreSQL wrote it. */
export interface TimelineHistory {
  /** The timeline the file belongs to. */
  readonly timeline: number;
  /** Its parent: the timeline of the file's last entry. */
  readonly parentTimeline: number;
  /** Where the parent timeline ends, from the file's last entry (`%X/%X`). */
  readonly switchLsn: string;
  /** `0000000N.history`. */
  readonly historyFileName: string;
  /** The file's text. */
  readonly historyFile: string;
}

/** What archive recovery of a base backup reached, as PostgreSQL reports it. */
export interface RecoveryFacts {
  /** The restored server, running on its new timeline. */
  readonly server: PostgresServer;
  /** The timeline recovery followed to its end (the archive's latest). */
  readonly recoveredTimeline: number;
  /** Where recovery ran out of WAL: the switch LSN in the new timeline's history file. */
  readonly endOfRecoveryLsn: string;
  /** The timeline the server started at the end of recovery. */
  readonly newTimeline: number;
  /** The new timeline's history file. */
  readonly historyFile: string;
}

/** What a promotion did, as PostgreSQL reports it: the new timeline's history and more. */
export interface PromotionFacts extends TimelineHistory {
  /** The end of the last record the standby replayed before promotion (`pg_last_wal_replay_lsn()`). */
  readonly replayedLsn: string;
  /** The parent timeline's last segment renamed `<24hex>.partial`, when the switch was mid-segment. */
  readonly partialFileName: string | undefined;
}

/** `pg_controldata`'s output: label → value, e.g. `'Database system identifier'` → `'7507672962298572862'`. */
export type ControlData = Readonly<Record<string, string>>;

interface Workspace {
  readonly dir: string;
  readonly osUser: OsUser;
  readonly archive: ArchiveLayout;
  readonly archiveCommand: string;
  readonly restoreCommand: string;
  readonly walSegmentSize: number;
  readonly servers: PostgresServer[];
}

const WORKSPACE_PREFIX = 'walwatch-pg-';
const OWNER_FILE = 'owner.pid';
const running = new Set<PostgresServer>();
let exitHookInstalled = false;

/**
 * One PostgreSQL 15 server of a {@link PostgresHarness}: its own data directory and unix socket folder
 * (no TCP), run by the unprivileged {@link POSTGRES_OS_USER} when the tests run as root.
 */
export class PostgresServer {
  /** The server's data directory. */
  readonly dataDir: string;
  /** Folder of its unix socket; pass it as `host` to clients. */
  readonly socketDir: string;
  /** Names the socket file `.s.PGSQL.<port>`; nothing listens on TCP. */
  readonly port = 5432;
  /** The server log (the postmaster's output). */
  readonly logFile: string;
  /** The running postmaster process, from {@link PostgresServer.start} until {@link PostgresServer.stop}. */
  private postmaster: { readonly exited: Promise<void>; isDone: boolean } | undefined;

  constructor(
    /** A short name for messages and folders, e.g. `primary`, `standby-1`. */
    readonly name: string,
    private readonly workspace: Workspace,
  ) {
    const home = join(workspace.dir, name);
    this.dataDir = join(home, 'data');
    this.socketDir = join(home, 'socket');
    this.logFile = join(home, 'server.log');
  }

  /** The archive this server's `archive_command` writes to. */
  get archive(): ArchiveLayout {
    return this.workspace.archive;
  }

  /** The cluster's `wal_segment_size` in bytes. */
  get walSegmentSize(): number {
    return this.workspace.walSegmentSize;
  }

  /**
   * Runs SQL (one or more statements) through `psql -X -A -t` over the unix socket and returns the output
   * of the statements, trimmed; values of a row are separated by `|`. Stops at the first error.
   */
  async runSql(sql: string): Promise<string> {
    const result = await runCommand(
      `${POSTGRES_BIN}/psql`,
      [
        '-X',
        '-A',
        '-t',
        '-q',
        '-v',
        'ON_ERROR_STOP=1',
        '-h',
        this.socketDir,
        '-p',
        String(this.port),
        '-d',
        'postgres',
        '-f',
        '-',
      ],
      // A base backup copies the data directory inside one session: minutes for a large benchmark database.
      { input: sql, asPostgresUser: true, cwd: this.workspace.dir, timeoutMs: 900_000 },
    );
    return result.stdout.toString('utf8').trim();
  }

  /**
   * Inserts `rows` rows into table `walwatch_load` in one transaction (about 0.5 MiB of WAL per 2000 rows)
   * and returns the LSN after the commit.
   */
  async generateLoad(rows = 2000): Promise<string> {
    return this.runSql(`
      CREATE TABLE IF NOT EXISTS walwatch_load (id bigserial PRIMARY KEY, payload text NOT NULL);
      INSERT INTO walwatch_load (payload) SELECT md5(g::text) || repeat('x', 100) FROM generate_series(1, ${rows}) g;
      SELECT pg_current_wal_lsn();
    `);
  }

  /**
   * Forces a switch to a new WAL file (`pg_switch_wal()`) and returns the name of the file just completed,
   * which the archiver picks up next. On an idle server nothing switches and the name of the last
   * completed file is returned.
   */
  async switchWal(): Promise<string> {
    return this.runSql('SELECT pg_walfile_name(pg_switch_wal());');
  }

  /** Returns `pg_current_wal_lsn()` (`%X/%X`). */
  async readCurrentLsn(): Promise<string> {
    return this.runSql('SELECT pg_current_wal_lsn();');
  }

  /** Returns the name of the WAL file being written, `pg_walfile_name(pg_current_wal_lsn())`. */
  async readCurrentWalFile(): Promise<string> {
    return this.runSql('SELECT pg_walfile_name(pg_current_wal_lsn());');
  }

  /** Returns `pg_stat_archiver`'s `last_archived_wal`, `archived_count` and `failed_count`. */
  async readArchiverStats(): Promise<{
    lastArchivedWal: string;
    archivedCount: number;
    failedCount: number;
  }> {
    const [last = '', archived = '0', failed = '0'] = (
      await this.runSql('SELECT last_archived_wal, archived_count, failed_count FROM pg_stat_archiver;')
    ).split('|');
    return { lastArchivedWal: last, archivedCount: Number(archived), failedCount: Number(failed) };
  }

  /**
   * Waits until WAL file `fileName` (segment, `.history`, `.partial` or `.backup`) is in the archive
   * (polls the archive folder) and returns the object's path. Fails with the archiver's state on timeout.
   */
  async waitForArchived(fileName: string, timeoutMs = 20_000): Promise<string> {
    const path = locateArchivedWal(this.workspace.archive, fileName);
    const deadline = Date.now() + timeoutMs;
    while (!existsSync(path)) {
      if (Date.now() > deadline) {
        const stats = await this.runSql('SELECT row_to_json(a) FROM pg_stat_archiver a;').catch(String);
        throw new Error(
          `${this.name}: ${fileName} not archived within ${timeoutMs} ms; pg_stat_archiver: ${stats}`,
        );
      }
      await sleep(50);
    }
    return path;
  }

  /** Waits until this standby has replayed WAL up to at least `lsn` (`pg_last_wal_replay_lsn()`). */
  async waitForReplay(lsn: string, timeoutMs = 20_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const replayed = await this.runSql('SELECT pg_last_wal_replay_lsn();');
      if (replayed && parsePgLsn(replayed) >= parsePgLsn(lsn)) return replayed;
      if (Date.now() > deadline)
        throw new Error(`${this.name}: replayed only to ${replayed}, waited for ${lsn}`);
      await sleep(50);
    }
  }

  /** Waits until the server has left recovery (`pg_is_in_recovery()` is false). */
  async waitForRecoveryEnd(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while ((await this.runSql('SELECT pg_is_in_recovery();')) !== 'f') {
      if (Date.now() > deadline) throw new Error(`${this.name}: still in recovery after ${timeoutMs} ms`);
      await sleep(50);
    }
  }

  /** Runs `pg_controldata` on the data directory and returns its fields by label. */
  async readControlData(): Promise<ControlData> {
    const result = await runCommand(`${POSTGRES_BIN}/pg_controldata`, ['-D', this.dataDir], {
      asPostgresUser: true,
      cwd: this.workspace.dir,
    });
    const fields: Record<string, string> = {};
    for (const line of result.stdout.toString('utf8').split('\n')) {
      const colon = line.indexOf(':');
      if (colon > 0) fields[line.slice(0, colon).trim()] = line.slice(colon + 1).trim();
    }
    return fields;
  }

  /** Runs `pg_waldump` over this server's `pg_wal` from `startLsn` on `timeline` (default 1). */
  async dumpWal(options: { startLsn: string; endLsn?: string; timeline?: number }): Promise<WalDump> {
    return dumpWal({ ...options, walDir: join(this.dataDir, 'pg_wal') });
  }

  /** Returns the bytes of a file in this server's `pg_wal` (a segment, `.history` or `.partial`). */
  async readWalFile(fileName: string): Promise<Buffer> {
    return readFile(join(this.dataDir, 'pg_wal', fileName));
  }

  /**
   * Takes a base backup the way `wal-g backup-push` does (walg-layout §2.6–2.8) and stores it in the
   * archive, sentinel last. See {@link takeWalgBaseBackup}.
   */
  async takeBaseBackup(options: { permanent?: boolean } = {}): Promise<BaseBackupFacts> {
    return takeWalgBaseBackup(
      {
        dataDir: this.dataDir,
        runSql: (sql) => this.runSql(sql),
        readControlData: () => this.readControlData(),
        osUser: this.workspace.osUser,
        scratchDir: join(this.workspace.dir, 'backups'),
      },
      this.workspace.archive,
      options,
    );
  }

  /**
   * Promotes this standby (`pg_ctl promote -w`), waits until the new `.history` file is archived, and
   * returns what PostgreSQL recorded: new timeline, parent, switch LSN (history file), the replayed end
   * before promotion and the `.partial` file, if any.
   */
  async promote(): Promise<PromotionFacts> {
    const replayedLsn = await this.runSql('SELECT pg_last_wal_replay_lsn();');
    await runCommand(`${POSTGRES_BIN}/pg_ctl`, ['promote', '-w', '-t', '60', '-D', this.dataDir], {
      asPostgresUser: true,
      cwd: this.workspace.dir,
    });
    const history = await this.readLatestHistory();
    await this.waitForArchived(history.historyFileName);
    const walFiles = await readdir(join(this.dataDir, 'pg_wal'));
    return { ...history, replayedLsn, partialFileName: walFiles.find((name) => name.endsWith('.partial')) };
  }

  /**
   * Reads the newest `.history` file in `pg_wal`: the current timeline, its parent and where the parent
   * ended (its last entry).
   */
  async readLatestHistory(): Promise<TimelineHistory> {
    const walFiles = await readdir(join(this.dataDir, 'pg_wal'));
    const historyFileName = walFiles
      .filter((name) => /^[0-9A-F]{8}\.history$/.test(name))
      .sort()
      .at(-1);
    if (!historyFileName) throw new Error(`${this.name}: no timeline history file in pg_wal`);
    const historyFile = (await this.readWalFile(historyFileName)).toString('utf8');
    const lastEntry = historyFile
      .split('\n')
      .filter((line) => line.trim() && !line.startsWith('#'))
      .at(-1);
    const fields = /^(\d+)\s+([0-9A-Fa-f]+\/[0-9A-Fa-f]+)/.exec(lastEntry ?? '');
    if (!fields)
      throw new Error(`${this.name}: cannot read ${historyFileName}: ${JSON.stringify(historyFile)}`);
    return {
      timeline: Number.parseInt(historyFileName.slice(0, 8), 16),
      parentTimeline: Number(fields[1]),
      switchLsn: String(fields[2]),
      historyFileName,
      historyFile,
    };
  }

  /** Starts the postmaster on the existing data directory and waits until it accepts connections. */
  async start(): Promise<void> {
    // The postmaster runs as a child of this process (through runuser when root), not daemonised by
    // pg_ctl: its exit is then reaped here, even where PID 1 does not reap orphans.
    const log = await open(this.logFile, 'a');
    const argv = [`${POSTGRES_BIN}/postgres`, '-D', this.dataDir];
    const [file, ...args] = (isRoot() ? ['runuser', '-u', POSTGRES_OS_USER, '--', ...argv] : argv) as [
      string,
      ...string[],
    ];
    const postmaster = spawn(file, args, {
      cwd: this.workspace.dir,
      stdio: ['ignore', log.fd, log.fd],
      env: { ...process.env, LC_ALL: 'C', TZ: 'UTC' },
    });
    await log.close();
    const exited = new Promise<void>((resolve) => postmaster.once('exit', () => resolve()));
    this.postmaster = { exited, isDone: false };
    const state = this.postmaster;
    void exited.then(() => {
      state.isDone = true;
    });
    running.add(this);
    const deadline = Date.now() + 60_000;
    for (;;) {
      const ready = await runCommand(
        `${POSTGRES_BIN}/pg_isready`,
        ['-q', '-h', this.socketDir, '-p', String(this.port)],
        {
          allowedExitCodes: [0, 1, 2, 3],
        },
      );
      if (ready.exitCode === 0) return;
      if (state.isDone || Date.now() > deadline) {
        await this.stop();
        const text = await readFile(this.logFile, 'utf8').catch(() => '');
        throw new Error(`${this.name}: PostgreSQL did not start\n${text.slice(-3000)}`);
      }
      await sleep(50);
    }
  }

  /**
   * Stops the server: a clean `fast` shutdown (a shutdown checkpoint, standbys receive all WAL), falling
   * back to `immediate` and then to killing the postmaster. Does nothing when it is not running.
   */
  async stop(): Promise<void> {
    const postmaster = this.postmaster;
    if (!postmaster) return;
    if (!postmaster.isDone) {
      const pgCtl = (mode: string) =>
        runCommand(`${POSTGRES_BIN}/pg_ctl`, ['stop', '-w', '-t', '30', '-m', mode, '-D', this.dataDir], {
          asPostgresUser: true,
          cwd: this.workspace.dir,
        });
      try {
        await pgCtl('fast');
      } catch {
        await pgCtl('immediate').catch(() => killPostmaster(this.dataDir));
      }
      await Promise.race([postmaster.exited, sleep(10_000)]);
    }
    this.postmaster = undefined;
    running.delete(this);
  }

  /** Whether the server was started and not stopped since. */
  get isRunning(): boolean {
    return this.postmaster !== undefined && !this.postmaster.isDone;
  }

  /** Writes settings to `postgresql.conf` (later lines win). */
  async configure(settings: Readonly<Record<string, string | number>>): Promise<void> {
    const lines = Object.entries(settings).map(([key, value]) =>
      typeof value === 'number' ? `${key} = ${value}` : `${key} = ${quoteSetting(value)}`,
    );
    await appendFile(
      join(this.dataDir, 'postgresql.conf'),
      `\n# walwatch test harness\n${lines.join('\n')}\n`,
    );
  }

  /** Creates the server's folders, owned by the PostgreSQL OS user. */
  async createHome(): Promise<void> {
    for (const dir of [join(this.workspace.dir, this.name), this.socketDir]) {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      await chown(dir, this.workspace.osUser.uid, this.workspace.osUser.gid);
    }
  }
}

/**
 * A throw-away set of PostgreSQL 15 servers sharing one WAL-G-layout archive in a fresh temp folder.
 * Start it with {@link startPostgres}; {@link PostgresHarness.stop} stops every server and removes it all.
 */
export class PostgresHarness {
  /** The first server, created by `initdb` and archiving from the start. */
  readonly primary: PostgresServer;

  constructor(private readonly workspace: Workspace) {
    const primary = workspace.servers[0];
    if (!primary) throw new Error('a harness needs a primary');
    this.primary = primary;
  }

  /** The temp folder holding everything: servers, scripts, scratch space and the bucket. */
  get dir(): string {
    return this.workspace.dir;
  }

  /** The folder standing in for the S3 bucket; `walwatch analyze --dir` reads it. */
  get bucketDir(): string {
    return join(this.workspace.dir, 'bucket');
  }

  /** The archive WAL-G writes to, `<bucketDir>/<archivePrefix>`. */
  get archive(): ArchiveLayout {
    return this.workspace.archive;
  }

  /** The cluster's `wal_segment_size` in bytes. */
  get walSegmentSize(): number {
    return this.workspace.walSegmentSize;
  }

  /** Returns the path of the object holding an archived WAL file: `<root>/wal_005/<fileName>.lz4`. */
  locateArchivedWal(fileName: string): string {
    return locateArchivedWal(this.workspace.archive, fileName);
  }

  /** Returns the decompressed bytes of an archived WAL file (decoded with the `lz4` CLI). */
  async readArchivedWal(fileName: string): Promise<Buffer> {
    return decompressLz4(this.locateArchivedWal(fileName));
  }

  /**
   * Decompresses archived WAL files (from this harness's archive or `archiveRoot`) into a new folder and
   * returns it: a `pg_wal` stand-in for `pg_waldump` or a WAL reader. Files missing from the archive are
   * skipped, as a restore would lack them.
   */
  async extractArchivedWal(
    fileNames: readonly string[],
    options: { archiveRoot?: string } = {},
  ): Promise<string> {
    const archive = { root: options.archiveRoot ?? this.workspace.archive.root, stagingDir: '' };
    const dir = await mkdtemp(join(this.workspace.dir, 'extracted-'));
    for (const fileName of fileNames) {
      const object = locateArchivedWal(archive, fileName);
      if (existsSync(object)) await writeFile(join(dir, fileName), await decompressLz4(object));
    }
    return dir;
  }

  /**
   * Runs `pg_waldump` over a folder of WAL files, e.g. one from {@link PostgresHarness.extractArchivedWal}.
   * `timeline` picks the files read (default 1); records stop at the end of valid WAL or at `endLsn`.
   */
  async dumpWal(options: {
    walDir: string;
    startLsn: string;
    endLsn?: string;
    timeline?: number;
  }): Promise<WalDump> {
    return dumpWal(options);
  }

  /** Lists every object key under the bucket folder (`spilo/…/wal_005/….lz4`, …), sorted. */
  async listObjectKeys(): Promise<string[]> {
    return listObjectKeys(this.bucketDir);
  }

  /**
   * Creates and starts a streaming standby of `source` (default: the primary): `pg_basebackup -X none -R`
   * (its WAL comes from the archive through `restore_command`, then by streaming), hot standby.
   */
  async startStandby(source: PostgresServer = this.primary): Promise<PostgresServer> {
    const standby = new PostgresServer(`standby-${this.workspace.servers.length}`, this.workspace);
    await standby.createHome();
    await runCommand(
      `${POSTGRES_BIN}/pg_basebackup`,
      [
        '-h',
        source.socketDir,
        '-p',
        String(source.port),
        '-D',
        standby.dataDir,
        '-X',
        'none',
        '-R',
        '-c',
        'fast',
        '--no-sync',
      ],
      { asPostgresUser: true, cwd: this.workspace.dir },
    );
    await standby.configure({ unix_socket_directories: standby.socketDir, hot_standby: 'on' });
    this.workspace.servers.push(standby);
    await standby.start();
    return standby;
  }

  /**
   * Restores base backup `backupName` from an archive the way `wal-g backup-fetch` plus archive recovery
   * does: extracts every `tar_partitions/*.tar.lz4` into a new data directory, adds `recovery.signal` and a
   * `restore_command` reading `<archiveRoot>/wal_005/%f.lz4`, and starts it (`archive_mode` off, so the
   * archive stays untouched). PostgreSQL replays all WAL it can fetch along the latest timeline, then ends
   * recovery on a new timeline; its history file says where the recovered WAL ended. `settings` add
   * recovery targets, e.g. `{ recovery_target: 'immediate', recovery_target_action: 'promote' }`.
   */
  async restoreBackup(
    backupName: string,
    options: { archiveRoot?: string; settings?: Readonly<Record<string, string | number>> } = {},
  ): Promise<RecoveryFacts> {
    const root = options.archiveRoot ?? this.workspace.archive.root;
    const server = new PostgresServer(`restore-${this.workspace.servers.length}`, this.workspace);
    await server.createHome();
    await mkdir(server.dataDir, { mode: 0o700 });
    await chown(server.dataDir, this.workspace.osUser.uid, this.workspace.osUser.gid);
    const partsDir = join(root, 'basebackups_005', backupName, 'tar_partitions');
    for (const part of (await readdir(partsDir)).filter((name) => name.endsWith('.tar.lz4'))) {
      await runCommand(
        'sh',
        ['-c', 'lz4 -q -d -c "$1" | tar -x -f - -C "$2"', 'extract', join(partsDir, part), server.dataDir],
        {
          asPostgresUser: true,
          cwd: this.workspace.dir,
        },
      );
    }
    await mkdir(join(server.dataDir, 'pg_wal'), { recursive: true, mode: 0o700 });
    await writeFile(join(server.dataDir, 'recovery.signal'), '');
    await chown(
      join(server.dataDir, 'recovery.signal'),
      this.workspace.osUser.uid,
      this.workspace.osUser.gid,
    );
    await server.configure({
      unix_socket_directories: server.socketDir,
      archive_mode: 'off',
      restore_command: formatRestoreCommand(join(this.workspace.dir, 'bin'), root),
      recovery_target_timeline: 'latest',
      ...options.settings,
    });
    this.workspace.servers.push(server);
    await server.start();
    // pg_ctl returns once a hot standby accepts connections, which can be long before recovery ends.
    await server.waitForRecoveryEnd();
    const history = await server.readLatestHistory();
    return {
      server,
      recoveredTimeline: history.parentTimeline,
      endOfRecoveryLsn: history.switchLsn,
      newTimeline: history.timeline,
      historyFile: history.historyFile,
    };
  }

  /** Stops every server of the harness (clean shutdown, forced if need be) and removes the temp folder. */
  async stop(): Promise<void> {
    await Promise.all(this.workspace.servers.map((server) => server.stop()));
    await rm(this.workspace.dir, { recursive: true, force: true });
  }
}

/**
 * Starts a fresh PostgreSQL 15 primary in a new temp folder, archiving every WAL file to a WAL-G-layout
 * archive (`<bucketDir>/<archivePrefix>/wal_005/<file>.lz4`). Unix socket only; `fsync` off.
 * Call {@link PostgresHarness.stop} when done; servers of a test process that died are cleaned up by the
 * next harness start, and an exit hook stops servers still running when this process exits.
 *
 * @example
 * const pg = await startPostgres({ archivePrefix: 'spilo/demo/wal/15' });
 * await pg.primary.generateLoad();
 * await pg.primary.waitForArchived(await pg.primary.switchWal());
 * await pg.stop();
 */
export async function startPostgres(options: StartPostgresOptions = {}): Promise<PostgresHarness> {
  const walSegmentSize = options.walSegmentSize ?? 1024 * 1024;
  const mib = walSegmentSize / 2 ** 20;
  if (!Number.isInteger(mib) || mib < 1 || mib > 1024 || (mib & (mib - 1)) !== 0) {
    throw new Error(`walSegmentSize must be a power of two from 1 MiB to 1 GiB, got ${walSegmentSize}`);
  }
  await removeAbandonedWorkspaces();
  const osUser = await ensurePostgresOsUser();
  const dir = await mkdtemp(join(tmpdir(), WORKSPACE_PREFIX));
  await chmod(dir, 0o755);
  await writeFile(join(dir, OWNER_FILE), String(process.pid));
  const archive: ArchiveLayout = {
    root: join(
      dir,
      'bucket',
      ...(options.archivePrefix ?? 'spilo/walwatch/wal/15').split('/').filter(Boolean),
    ),
    stagingDir: join(dir, 'staging'),
  };
  for (const [path, owner] of [
    [join(dir, 'bin'), false],
    [join(archive.root, 'wal_005'), true],
    [archive.stagingDir, true],
  ] as const) {
    await mkdir(path, { recursive: true, mode: 0o755 });
    if (owner) await chown(path, osUser.uid, osUser.gid);
  }
  const { archiveCommand, restoreCommand } = await writeArchiveScripts(archive, join(dir, 'bin'));
  const workspace: Workspace = {
    dir,
    osUser,
    archive,
    archiveCommand,
    restoreCommand,
    walSegmentSize,
    servers: [],
  };
  installExitHook();
  const primary = new PostgresServer('primary', workspace);
  workspace.servers.push(primary);
  const harness = new PostgresHarness(workspace);
  try {
    await primary.createHome();
    await runCommand(
      `${POSTGRES_BIN}/initdb`,
      [
        '-D',
        primary.dataDir,
        `--wal-segsize=${walSegmentSize / 2 ** 20}`,
        '--auth=trust',
        '--encoding=UTF8',
        '--locale=C',
        '--no-sync',
        '--no-instructions',
      ],
      { asPostgresUser: true, cwd: dir },
    );
    await primary.configure({
      listen_addresses: '',
      unix_socket_directories: primary.socketDir,
      port: primary.port,
      archive_mode: 'on',
      archive_command: archiveCommand,
      restore_command: restoreCommand,
      archive_timeout: options.archiveTimeoutSeconds ?? 0,
      wal_level: 'replica',
      max_wal_senders: 5,
      wal_keep_size: '64MB',
      wal_retrieve_retry_interval: '200ms',
      fsync: 'off',
      shared_buffers: '16MB',
      max_connections: 20,
      timezone: 'UTC',
      log_timezone: 'UTC',
      ...options.settings,
    });
    await primary.start();
  } catch (error) {
    await harness.stop();
    throw error;
  }
  return harness;
}

function quoteSetting(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function killPostmaster(dataDir: string): Promise<void> {
  const pid = Number(
    (await readFile(join(dataDir, 'postmaster.pid'), 'utf8').catch(() => '')).split('\n')[0],
  );
  if (pid > 0) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
}

function stopImmediatelySync(dataDir: string): void {
  const argv = [`${POSTGRES_BIN}/pg_ctl`, 'stop', '-m', 'immediate', '-w', '-t', '10', '-D', dataDir];
  const [file, ...args] = isRoot() ? ['runuser', '-u', POSTGRES_OS_USER, '--', ...argv] : argv;
  spawnSync(file as string, args, { stdio: 'ignore', cwd: tmpdir() });
}

/** Stops servers still running when the test process exits (a crashed or interrupted test run). */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const server of running) stopImmediatelySync(server.dataDir);
  });
}

/**
 * Removes workspaces left by harness processes that died without stopping their servers: their
 * `owner.pid` names a process that no longer exists. Their servers are stopped first. Workspaces of live
 * processes (tests running in parallel) are left alone.
 */
async function removeAbandonedWorkspaces(): Promise<void> {
  const names = await readdir(tmpdir()).catch(() => [] as string[]);
  for (const name of names.filter((entry) => entry.startsWith(WORKSPACE_PREFIX))) {
    const dir = join(tmpdir(), name);
    const owner = Number(await readFile(join(dir, OWNER_FILE), 'utf8').catch(() => '0'));
    if (!(owner > 0) || isProcessRunning(owner)) continue;
    const servers = await readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const server of servers) {
      const dataDir = join(dir, server.name, 'data');
      if (server.isDirectory() && existsSync(join(dataDir, 'postmaster.pid'))) stopImmediatelySync(dataDir);
    }
    await rm(dir, { recursive: true, force: true });
  }
}

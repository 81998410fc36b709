/**
 * A PostgreSQL server for a restore drill: run as an unprivileged OS user (PostgreSQL refuses root), on a
 * unix socket in the drill's scratch folder, with no TCP listener.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** The OS user PostgreSQL runs as, and whether this process must switch to it. */
export interface ServerUser {
  readonly name: string | null;
  readonly uid: number;
  readonly gid: number;
  /** This process is root: commands run through `runuser -u <name> --`. */
  readonly switchUser: boolean;
}

/** Options of a command run for the drill. */
interface CommandOptions {
  readonly user: ServerUser;
  readonly input?: string;
  readonly timeoutMs?: number;
}

/** Runs a command (as the server user) to completion: exit code and output, never throws on exit codes. */
export function runAs(
  command: string,
  args: readonly string[],
  options: CommandOptions,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const argv = options.user.switchUser
    ? ['runuser', '-u', options.user.name as string, '--', command, ...args]
    : [command, ...args];
  return new Promise((resolve) => {
    const child = spawn(argv[0] as string, argv.slice(1), {
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: options.timeoutMs ?? 60_000,
      env: { ...process.env, LC_ALL: 'C', TZ: 'UTC', PGTZ: 'UTC' },
      cwd: '/',
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    child.on('error', (error) => resolve({ code: null, stdout: '', stderr: String(error) }));
    child.on('close', (code) =>
      resolve({
        code,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      }),
    );
    child.stdin.on('error', () => {
      // A command that exits without reading stdin closes the pipe; its exit code tells the story.
    });
    child.stdin.end(options.input);
  });
}

/**
 * Finds the OS user to run PostgreSQL as: the current user when not root, else `name`.
 * `undefined` when root and no such user exists.
 */
export async function resolveServerUser(name: string): Promise<ServerUser | undefined> {
  const uid = process.getuid?.() ?? 0;
  if (uid !== 0) return { name: null, uid, gid: process.getgid?.() ?? 0, switchUser: false };
  const self: ServerUser = { name: null, uid: 0, gid: 0, switchUser: false };
  const [u, g] = await Promise.all([
    runAs('id', ['-u', name], { user: self }),
    runAs('id', ['-g', name], { user: self }),
  ]);
  if (u.code !== 0 || g.code !== 0) return undefined;
  return { name, uid: Number(u.stdout.trim()), gid: Number(g.stdout.trim()), switchUser: true };
}

/** A running postmaster. */
export interface RestoreServer {
  readonly exited: Promise<number | null>;
  isDone(): boolean;
  /** Runs SQL through psql; `{ error }` when psql fails. */
  query(sql: string): Promise<{ text: string } | { error: string }>;
  /**
   * Whether the server accepts connections: its `postmaster.pid` says `ready`. Read from the file, not by
   * connecting, so that polling writes nothing to the server log.
   */
  isReady(): Promise<boolean>;
  /** Stops it: fast shutdown, then immediate, then SIGKILL. */
  stop(): Promise<void>;
}

/** Starts `postgres -D dataDir` as `user`, its output appended to `logFile`. */
export async function startRestoreServer(options: {
  readonly pgBin: string;
  readonly dataDir: string;
  readonly socketDir: string;
  readonly logFile: string;
  readonly user: ServerUser;
  /** Database roles to connect as, tried in order. */
  readonly roles: readonly string[];
}): Promise<RestoreServer> {
  const { pgBin, dataDir, socketDir, user } = options;
  const log = await open(options.logFile, 'a');
  const argv = [`${pgBin}/postgres`, '-D', dataDir];
  const full = user.switchUser ? ['runuser', '-u', user.name as string, '--', ...argv] : argv;
  const child = spawn(full[0] as string, full.slice(1), {
    stdio: ['ignore', log.fd, log.fd],
    env: { ...process.env, LC_ALL: 'C', TZ: 'UTC' },
    cwd: '/',
  });
  await log.close();
  let done = false;
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => {
      done = true;
      resolve(code);
    });
    child.once('error', () => {
      done = true;
      resolve(null);
    });
  });
  let role: string | undefined;
  const psql = (name: string, sql: string) =>
    runAs(
      `${pgBin}/psql`,
      [
        '-X',
        '-A',
        '-t',
        '-q',
        '-v',
        'ON_ERROR_STOP=1',
        '-h',
        socketDir,
        '-U',
        name,
        '-d',
        'postgres',
        '-f',
        '-',
      ],
      { user, input: sql },
    );
  const query = async (sql: string): Promise<{ text: string } | { error: string }> => {
    const candidates = role === undefined ? options.roles : [role];
    let lastError = 'no database role to connect as';
    for (const name of candidates) {
      const result = await psql(name, sql);
      if (result.code === 0) {
        role = name;
        return { text: result.stdout.trim() };
      }
      lastError = result.stderr.trim() || `psql exited with ${result.code}`;
      if (!/role .* does not exist/.test(lastError)) break;
    }
    return { error: lastError };
  };
  return {
    exited,
    isDone: () => done,
    query,
    isReady: async () => (await readPostmasterStatus(dataDir)) === 'ready',
    stop: async () => {
      if (done) return;
      for (const mode of ['fast', 'immediate']) {
        const result = await runAs(`${pgBin}/pg_ctl`, ['stop', '-w', '-t', '60', '-m', mode, '-D', dataDir], {
          user,
          timeoutMs: 90_000,
        });
        if (result.code === 0) break;
      }
      if (!done) child.kill('SIGKILL');
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 10_000))]);
    },
  };
}

/**
 * What a postmaster says of itself on line 8 of `postmaster.pid` (PostgreSQL ≥ 10;
 * `LOCK_FILE_LINE_PM_STATUS` in PostgreSQL's src/include/utils/pidfile.h), as `pg_ctl -w` reads it:
 * `starting`, `ready` (accepting connections, read-only ones during hot standby), `standby` (recovering
 * with `hot_standby` off: no connections), `stopping`.
 */
export type PostmasterStatus = 'starting' | 'ready' | 'standby' | 'stopping';

const PM_STATUS_LINE = 8;
const PM_STATUSES: readonly string[] = ['starting', 'ready', 'standby', 'stopping'];

/**
 * Reads the status line of a `postmaster.pid`'s text; `null` when it has none yet (the postmaster adds
 * the line once it has opened its sockets) or an unknown value.
 */
export function parsePostmasterStatus(text: string): PostmasterStatus | null {
  // PostgreSQL pads the values with spaces to one length, so that it can rewrite the line in place.
  const status = text.split('\n')[PM_STATUS_LINE - 1]?.trim() ?? '';
  return PM_STATUSES.includes(status) ? (status as PostmasterStatus) : null;
}

/** The status in `dataDir/postmaster.pid`; `null` when there is no such file (no server, or one that stopped). */
export async function readPostmasterStatus(dataDir: string): Promise<PostmasterStatus | null> {
  try {
    return parsePostmasterStatus(await readFile(join(dataDir, 'postmaster.pid'), 'utf8'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

/** The last `bytes` of a log file. */
export async function readLogTail(logFile: string, bytes = 4000): Promise<string> {
  if (!existsSync(logFile)) return '';
  const text = await readFile(logFile, 'utf8');
  return text.length <= bytes ? text : text.slice(-bytes);
}

/** What the server log says recovery did. */
export interface RecoveryLog {
  readonly consistentLsn: string | null;
  /** `redo done at`: the start of the last record replayed. */
  readonly redoDoneLsn: string | null;
  /** `last completed transaction was at log time`, as PostgreSQL printed it. */
  readonly lastTransactionTime: string | null;
  /** The timeline of the last segment restored from the archive. */
  readonly lastRestoredTimeline: number | null;
  readonly targetNotReached: boolean;
}

/** Reads the recovery facts PostgreSQL logs. */
export function parseRecoveryLog(text: string): RecoveryLog {
  const last = (pattern: RegExp): RegExpExecArray | undefined => {
    let found: RegExpExecArray | undefined;
    for (const match of text.matchAll(pattern)) found = match as RegExpExecArray;
    return found;
  };
  const restored = last(/restored log file "([0-9A-F]{8})[0-9A-F]{16}" from archive/g);
  return {
    consistentLsn: last(/consistent recovery state reached at ([0-9A-F]+\/[0-9A-F]+)/g)?.[1] ?? null,
    redoDoneLsn: last(/redo done at ([0-9A-F]+\/[0-9A-F]+)/g)?.[1] ?? null,
    lastTransactionTime:
      last(/last completed transaction was at log time ([0-9][0-9:. +-]+[0-9])/g)?.[1] ?? null,
    lastRestoredTimeline: restored ? Number.parseInt(restored[1] as string, 16) : null,
    targetNotReached: text.includes('recovery ended before configured recovery target was reached'),
  };
}

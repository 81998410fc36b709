import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** Where Debian's `postgresql-15` package puts the server binaries (`.ci/run` installs it when missing). */
export const POSTGRES_BIN = '/usr/lib/postgresql/15/bin';

/** The unprivileged system user that runs PostgreSQL when the tests run as root (PostgreSQL refuses root). */
export const POSTGRES_OS_USER = 'walwatch-pg';

/** A command exited with a code the caller did not allow, or could not be started. */
export class CommandFailedError extends Error {
  override readonly name = 'CommandFailedError';

  constructor(
    readonly command: readonly string[],
    readonly exitCode: number | null,
    readonly stdout: string,
    readonly stderr: string,
    options?: { cause?: unknown },
  ) {
    super(
      `${command.join(' ')} exited with ${exitCode ?? 'a signal'}${stderr.trim() ? `: ${stderr.trim().slice(-2000)}` : ''}`,
      options,
    );
  }
}

/** What a finished command wrote and how it exited. */
export interface CommandResult {
  readonly stdout: Buffer;
  readonly stderr: string;
  readonly exitCode: number;
}

/** Options of {@link runCommand}. */
export interface RunCommandOptions {
  /** Bytes or text written to the command's standard input. @default nothing (stdin is closed) */
  readonly input?: string | Buffer;
  /** Working directory. @default the current one */
  readonly cwd?: string;
  /** Run as the PostgreSQL OS user (through `runuser`) when this process is root. @default false */
  readonly asPostgresUser?: boolean;
  /** Exit codes that count as success. @default [0] */
  readonly allowedExitCodes?: readonly number[];
  /** Kill the command after this many milliseconds. @default 60_000 */
  readonly timeoutMs?: number;
}

/** Whether this process runs as root, so PostgreSQL must run as {@link POSTGRES_OS_USER}. */
export function isRoot(): boolean {
  return process.getuid?.() === 0;
}

/**
 * Runs a command to completion and returns its output; throws {@link CommandFailedError} on a disallowed
 * exit code. With `asPostgresUser` the command runs as {@link POSTGRES_OS_USER} via `runuser -u … --`.
 */
export function runCommand(
  command: string,
  args: readonly string[],
  options: RunCommandOptions = {},
): Promise<CommandResult> {
  const argv =
    options.asPostgresUser && isRoot()
      ? ['runuser', '-u', POSTGRES_OS_USER, '--', command, ...args]
      : [command, ...args];
  const [file, ...rest] = argv as [string, ...string[]];
  return new Promise((resolve, reject) => {
    const child = spawn(file, rest, {
      cwd: options.cwd,
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: options.timeoutMs ?? 60_000,
      env: { ...process.env, LC_ALL: 'C', TZ: 'UTC', PGTZ: 'UTC' },
    });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.on('error', (error) =>
      reject(new CommandFailedError(argv, null, '', String(error), { cause: error })),
    );
    child.on('close', (code) => {
      const out = Buffer.concat(stdout);
      const err = Buffer.concat(stderr).toString('utf8');
      if (code !== null && (options.allowedExitCodes ?? [0]).includes(code)) {
        resolve({ stdout: out, stderr: err, exitCode: code });
      } else {
        reject(new CommandFailedError(argv, code, out.toString('utf8'), err));
      }
    });
    child.stdin.on('error', () => {
      // A command that exits without reading its input closes the pipe early; its exit code tells the story.
    });
    child.stdin.end(options.input);
  });
}

/** The numeric ids PostgreSQL's files and processes belong to. */
export interface OsUser {
  readonly uid: number;
  readonly gid: number;
}

/**
 * Returns the OS user that runs PostgreSQL: {@link POSTGRES_OS_USER} when this process is root (created as
 * a system user when missing), else the current user.
 */
export async function ensurePostgresOsUser(): Promise<OsUser> {
  if (!isRoot()) return { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };
  for (let attempt = 0; ; attempt += 1) {
    const existing = await lookUpUser(POSTGRES_OS_USER);
    if (existing) return existing;
    try {
      await runCommand('useradd', [
        '--system',
        '--no-create-home',
        '--home-dir',
        '/nonexistent',
        '--shell',
        '/usr/sbin/nologin',
        POSTGRES_OS_USER,
      ]);
    } catch (error) {
      // Parallel test files race to create the user; /etc/passwd is locked by the winner. Look again.
      if (attempt >= 20) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

async function lookUpUser(name: string): Promise<OsUser | undefined> {
  const result = await runCommand('id', [name], { allowedExitCodes: [0, 1] });
  const match = /uid=(\d+).*?gid=(\d+)/.exec(result.stdout.toString('utf8'));
  return result.exitCode === 0 && match ? { uid: Number(match[1]), gid: Number(match[2]) } : undefined;
}

/**
 * Whether process `pid` exists and has not exited. A zombie counts as exited: where PID 1 does not reap
 * orphans (some container inits), a stopped postmaster lingers as one.
 */
export function isProcessRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    // /proc/<pid>/stat: "pid (comm) state …"; the command name may contain spaces and parentheses.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

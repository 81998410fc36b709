import { type ChildProcess, spawn } from 'node:child_process';
import { open } from 'node:fs/promises';
import { createServer } from 'node:net';
import { isProcessRunning, isRoot, POSTGRES_OS_USER } from '../postgres-exec.js';

/**
 * Returns `count` distinct TCP ports that were free on 127.0.0.1 a moment ago: each is bound to port 0 and
 * released, so parallel test files get different ports.
 */
export async function findFreePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
          const server = createServer();
          server.once('error', reject);
          server.listen(0, '127.0.0.1', () => resolve(server));
        }),
    ),
  );
  const ports = servers.map((server) => {
    const address = server.address();
    if (!address || typeof address === 'string') throw new Error('no TCP address');
    return address.port;
  });
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}

/** A long-running process in its own process group, its output appended to a log file. */
export class GroupProcess {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();

  constructor(
    /** A name for messages. */
    readonly name: string,
    private readonly argv: readonly string[],
    private readonly options: {
      readonly logFile: string;
      readonly cwd: string;
      /** Run as the unprivileged PostgreSQL OS user when this process is root. */
      readonly asPostgresUser: boolean;
      readonly env?: Readonly<Record<string, string>>;
    },
  ) {}

  /** The process group id (the leader's pid) while running. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Whether the process was started and has not exited. */
  get isRunning(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Starts the process, detached into a new process group (so one signal reaches all it runs). */
  async start(): Promise<void> {
    if (this.isRunning) return;
    const log = await open(this.options.logFile, 'a');
    const argv =
      this.options.asPostgresUser && isRoot()
        ? ['runuser', '-u', POSTGRES_OS_USER, '--', ...this.argv]
        : [...this.argv];
    const [file, ...args] = argv as [string, ...string[]];
    const child = spawn(file, args, {
      cwd: this.options.cwd,
      detached: true,
      stdio: ['ignore', log.fd, log.fd],
      env: { ...process.env, LC_ALL: 'C', TZ: 'UTC', PGTZ: 'UTC', ...this.options.env },
    });
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    const spawned = new Promise<void>((resolve, reject) => {
      child.once('spawn', () => resolve());
      child.once('error', reject);
    });
    await log.close();
    await spawned;
  }

  /** Sends `signal` to the whole process group. */
  signal(signal: NodeJS.Signals): void {
    const pid = this.child?.pid;
    if (pid === undefined || !this.isRunning) return;
    try {
      process.kill(-pid, signal);
    } catch {
      // The group is gone already.
    }
  }

  /** SIGTERM to the group, then SIGKILL after `graceMs`; resolves once the leader has exited. */
  async stop(graceMs = 10_000): Promise<void> {
    if (!this.child) return;
    this.signal('SIGTERM');
    const killed = await Promise.race([this.exited.then(() => false), sleep(graceMs).then(() => true)]);
    if (killed) {
      this.signal('SIGKILL');
      await Promise.race([this.exited, sleep(5_000)]);
    }
    // Members of the group that outlived the leader (SIGTERM only reached the leader's own handling).
    killGroupSync(this.child.pid);
  }

  /** SIGKILL to the whole group, as a machine crash would; resolves once the leader has exited. */
  async kill(): Promise<void> {
    if (!this.child) return;
    this.signal('SIGKILL');
    await Promise.race([this.exited, sleep(5_000)]);
  }
}

/** SIGKILLs a process group (a no-op when it is gone); synchronous, so exit hooks can use it. */
export function killGroupSync(pgid: number | undefined): void {
  if (!pgid) return;
  try {
    process.kill(-pgid, 'SIGKILL');
  } catch {
    // Gone already.
  }
}

/** SIGKILLs one process if it still runs (a zombie counts as gone). */
export function killProcessSync(pid: number): void {
  if (!(pid > 0) || !isProcessRunning(pid)) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // Gone already.
  }
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Thrown by a {@link pollUntil} probe to stop polling at once: waiting longer cannot help. */
export class PollAbortedError extends Error {
  override readonly name = 'PollAbortedError';
}

/**
 * Polls `probe` every `intervalMs` until it returns a value other than `undefined`, and returns it; throws
 * with `describe()` of the last attempt after `timeoutMs`.
 */
export async function pollUntil<T>(
  probe: () => Promise<T | undefined>,
  options: { timeoutMs: number; intervalMs?: number; describe: () => string },
): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    const value = await probe().catch((error: unknown) => {
      if (error instanceof PollAbortedError) throw error;
      return undefined;
    });
    if (value !== undefined) return value;
    if (Date.now() > deadline)
      throw new Error(`not reached within ${options.timeoutMs} ms: ${options.describe()}`);
    await sleep(options.intervalMs ?? 200);
  }
}

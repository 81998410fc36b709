/**
 * Watches a folder used as a bucket and turns new, replaced and removed files into object events.
 *
 * `fs.watch` (recursive) says when to look; a scan says what changed, by comparing each file's size and
 * mtime with the previous scan. The last scan that was folded into the store is saved next to it, so a
 * restart reports exactly the files that changed while the monitor was down — removals included — and
 * repeats nothing (repeats would be harmless: folding is idempotent).
 *
 * The saved scan is written atomically (a temporary file, fsync, rename, fsync of the folder), so a crash or
 * power loss leaves the previous scan or the new one, never a torn file. A saved scan that cannot be read all
 * the same (damaged disk, hand edits) is replaced by a full rescan: every file is folded again, and
 * `recoverRemovals` finds what the store holds as present that the folder no longer has.
 */
import { type FSWatcher, watch } from 'node:fs';
import { mkdir, open, readFile, rename, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { ObjectEvent } from '../core/facts.js';
import { openDirSource } from '../sources/dir-source.js';

/** Size and mtime of a file at the last scan. */
type Snapshot = Record<string, readonly [at: number, size: number]>;

/** Options of a watcher. */
export interface DirectoryWatcherOptions {
  readonly root: string;
  /** Where the last folded scan is kept. */
  readonly snapshotFile: string;
  /** Receives each scan's events; the scan counts as done only when it resolves. */
  readonly onEvents: (events: ObjectEvent[]) => Promise<void>;
  /** Full rescans also run on this interval, in case a watch event was missed. @default 10 s */
  readonly rescanMs?: number;
  /** Waits this long after a change before scanning, so a burst costs one scan. @default 200 ms */
  readonly debounceMs?: number;
  readonly now?: () => number;
  /**
   * Receives watch and scan errors, each once per path until it changes: a symlink loop or an unreadable
   * folder fails every scan and every watch event the same way, and says so once.
   */
  readonly onError?: (error: unknown) => void;
  /** Notices worth a log line (a damaged saved scan). */
  readonly onNotice?: (line: string) => void;
  /**
   * After a full rescan that replaced a damaged saved scan: removal events for objects the store holds as
   * present that the rescan did not find (the saved scan would have reported them).
   */
  readonly recoverRemovals?: (present: ReadonlySet<string>, scanStartedAt: number) => Promise<ObjectEvent[]>;
}

/** A running watcher. */
export class DirectoryWatcher {
  private snapshot: Snapshot = {};
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();
  private pending = false;
  private stopped = false;
  /** Set when the saved scan was unreadable: the next scan also looks for removals in the store. */
  private recovering = false;
  /** The last error reported per path, by its code (or message): repeats of it are not reported again. */
  private readonly reported = new Map<string, string>();

  constructor(private readonly options: DirectoryWatcherOptions) {}

  /** Loads the saved snapshot, reports what changed since, and starts watching. */
  async start(): Promise<void> {
    await mkdir(this.options.root, { recursive: true });
    let text: string | undefined;
    try {
      text = await readFile(this.options.snapshotFile, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    if (text !== undefined) {
      const saved = parseSnapshot(text);
      if (saved) this.snapshot = saved;
      else {
        this.recovering = true;
        this.options.onNotice?.(
          `walwatch: ${this.options.snapshotFile} is damaged (${text.length} bytes that are no saved scan): rescanning the whole folder`,
        );
      }
    }
    await this.scanNow();
    this.watcher = watch(this.options.root, { recursive: true }, () => this.schedule());
    this.watcher.on('error', (error) => this.report(error));
    this.timer = setInterval(() => this.schedule(), this.options.rescanMs ?? 10_000);
  }

  /** Scans now (after any scan under way) and resolves when its events are folded. */
  scanNow(): Promise<void> {
    this.running = this.running
      .then(() => this.forgetChangedErrors())
      .then(() => this.scan())
      .catch((error) => this.report(error));
    return this.running;
  }

  /** Stops watching and waits for the scan under way. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.watcher?.close();
    clearInterval(this.timer);
    clearTimeout(this.debounce);
    await this.running;
  }

  private report(error: unknown): void {
    const failure = pathError(error);
    if (failure) {
      if (this.reported.get(failure.path) === failure.code) return;
      this.reported.set(failure.path, failure.code);
    }
    this.options.onError?.(error);
  }

  /** Paths whose error is gone or another now: the next error there is news again. */
  private async forgetChangedErrors(): Promise<void> {
    for (const [path, code] of this.reported) {
      const now = await stat(path).then(
        () => undefined,
        (error: NodeJS.ErrnoException) => error.code ?? error.message,
      );
      if (now !== code) this.reported.delete(path);
    }
  }

  private schedule(): void {
    if (this.stopped || this.pending) return;
    this.pending = true;
    this.debounce = setTimeout(() => {
      this.pending = false;
      void this.scanNow();
    }, this.options.debounceMs ?? 200);
  }

  private async scan(): Promise<void> {
    const startedAt = (this.options.now ?? Date.now)();
    const source = await openDirSource(this.options.root);
    const current: Snapshot = {};
    const events: ObjectEvent[] = [];
    for await (const object of source.list()) {
      const size = object.size ?? 0;
      current[object.key] = [object.at, size];
      const before = this.snapshot[object.key];
      if (!before || before[0] !== object.at || before[1] !== size) {
        events.push({ key: object.key, type: 'created', at: object.at, size, etag: null });
      }
    }
    const now = (this.options.now ?? Date.now)();
    for (const key of Object.keys(this.snapshot)) {
      if (!(key in current))
        events.push({ key, type: 'removed', at: Math.max(now, (this.snapshot[key]?.[0] ?? 0) + 1) });
    }
    const recovering = this.recovering;
    if (recovering && this.options.recoverRemovals)
      events.push(...(await this.options.recoverRemovals(new Set(Object.keys(current)), startedAt)));
    if (events.length > 0) await this.options.onEvents(events);
    this.snapshot = current;
    if (events.length > 0 || recovering) await this.save();
    this.recovering = false;
  }

  private async save(): Promise<void> {
    await writeFileDurably(this.options.snapshotFile, JSON.stringify(this.snapshot));
  }
}

/** The path and code of a file system error (also one wrapped as `cause`), if it names a path. */
function pathError(error: unknown): { path: string; code: string } | undefined {
  for (let current = error; current instanceof Error; current = current.cause) {
    const { path, code } = current as NodeJS.ErrnoException;
    if (typeof path === 'string') return { path, code: code ?? current.message };
  }
  return undefined;
}

/** A saved scan, or `undefined` when the text is not one (torn, garbage, another shape). */
function parseSnapshot(text: string): Snapshot | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  for (const entry of Object.values(value)) {
    if (!Array.isArray(entry) || entry.length !== 2 || !entry.every((n) => typeof n === 'number'))
      return undefined;
  }
  return value as Snapshot;
}

/**
 * Replaces `path` with `text` so that a crash at any moment leaves the old or the new content: written to a
 * temporary file and flushed to disk, renamed over the old one, and the folder flushed so the rename is too.
 */
export async function writeFileDurably(path: string, text: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const temporary = `${path}.tmp`;
  const file = await open(temporary, 'w');
  try {
    await file.writeFile(text);
    await file.sync();
  } finally {
    await file.close();
  }
  await rename(temporary, path);
  const folder = await open(dirname(path), 'r');
  try {
    await folder.sync();
  } finally {
    await folder.close();
  }
}

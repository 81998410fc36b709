/**
 * Watches a folder used as a bucket and turns new, replaced and removed files into object events.
 *
 * `fs.watch` (recursive) says when to look; a scan says what changed, by comparing each file's size and
 * mtime with the previous scan. The last scan that was folded into the store is saved next to it, so a
 * restart reports exactly the files that changed while the monitor was down — removals included — and
 * repeats nothing (repeats would be harmless: folding is idempotent).
 */
import { type FSWatcher, watch } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
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
  readonly onError?: (error: unknown) => void;
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

  constructor(private readonly options: DirectoryWatcherOptions) {}

  /** Loads the saved snapshot, reports what changed since, and starts watching. */
  async start(): Promise<void> {
    await mkdir(this.options.root, { recursive: true });
    try {
      this.snapshot = JSON.parse(await readFile(this.options.snapshotFile, 'utf8')) as Snapshot;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    await this.scanNow();
    this.watcher = watch(this.options.root, { recursive: true }, () => this.schedule());
    this.watcher.on('error', (error) => this.options.onError?.(error));
    this.timer = setInterval(() => this.schedule(), this.options.rescanMs ?? 10_000);
  }

  /** Scans now (after any scan under way) and resolves when its events are folded. */
  scanNow(): Promise<void> {
    this.running = this.running.then(() => this.scan()).catch((error) => this.options.onError?.(error));
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

  private schedule(): void {
    if (this.stopped || this.pending) return;
    this.pending = true;
    this.debounce = setTimeout(() => {
      this.pending = false;
      void this.scanNow();
    }, this.options.debounceMs ?? 200);
  }

  private async scan(): Promise<void> {
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
    if (events.length > 0) await this.options.onEvents(events);
    this.snapshot = current;
    if (events.length > 0) await this.save();
  }

  private async save(): Promise<void> {
    await mkdir(dirname(this.options.snapshotFile), { recursive: true });
    const temporary = `${this.options.snapshotFile}.tmp`;
    await writeFile(temporary, JSON.stringify(this.snapshot));
    await rename(temporary, this.options.snapshotFile);
  }
}

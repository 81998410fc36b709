/**
 * Seeded archives for the event pipeline's tests and benchmark: the objects WAL-G would store (segments
 * with holes and compression variants, a timeline switch with its history, partials, backups with
 * sentinel, metadata and parts, an unknown key) as the S3 events that stored and removed them.
 */
import { brotliCompressSync } from 'node:zlib';
import type { ObjectEvent } from '../../shared/core/facts.js';
import { formatLsn, walFileName } from '../../shared/core/lsn.js';
import type { ListedObject } from '../../shared/core/state.js';

/** Segment size of generated clusters (the default). */
export const SEGMENT_SIZE = 16 * 1024 * 1024;

/** A generated archive: its events in the order S3 performed them, and every document body. */
export interface GeneratedArchive {
  readonly events: readonly ObjectEvent[];
  /** Document bodies by key, as stored (history bodies brotli-compressed, `.br`). */
  readonly bodies: ReadonlyMap<string, Uint8Array>;
  /** Decompressed document text by key. */
  readonly texts: ReadonlyMap<string, string>;
  /** The time just after the last event. */
  readonly end: number;
}

/** How big an archive to generate. */
export interface ArchiveShape {
  readonly clusters: readonly string[];
  /** Segments per cluster on timeline 1 (before holes). */
  readonly segments: number;
  /** Whether each cluster switches to timeline 2 near its end. */
  readonly timelineSwitch?: boolean;
}

/** A small deterministic PRNG (mulberry32). */
export function createRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Generates an archive; the same seed gives the same archive. */
export function generateArchive(seed: number, shape: ArchiveShape): GeneratedArchive {
  const random = createRandom(seed);
  const events: ObjectEvent[] = [];
  const bodies = new Map<string, Uint8Array>();
  const texts = new Map<string, string>();
  let clock = Date.parse('2026-11-24T10:00:00Z');
  let sequence = 0x1000;
  const store = (key: string, text?: string, size = 16 * 1024 * 1024): void => {
    clock += 1000 + Math.floor(random() * 1000);
    let body: Uint8Array | undefined;
    if (text !== undefined) {
      body = key.endsWith('.br') ? brotliCompressSync(text) : new TextEncoder().encode(text);
      bodies.set(key, body);
      texts.set(key, text);
    }
    const etag = `e${(seed >>> 0).toString(16)}${(size + (text?.length ?? 0)).toString(16)}${key.length}`;
    events.push({
      key,
      type: 'created',
      at: clock,
      size: body?.byteLength ?? size,
      etag,
      sequencer: (sequence++).toString(16).toUpperCase().padStart(18, '0'),
    });
  };
  const remove = (key: string): void => {
    clock += 500;
    events.push({
      key,
      type: 'removed',
      at: clock,
      sequencer: (sequence++).toString(16).toUpperCase().padStart(18, '0'),
    });
  };

  for (const cluster of shape.clusters) {
    const wal = (name: string): string => `${cluster}/wal_005/${name}`;
    const backups = `${cluster}/basebackups_005/`;
    const last = shape.segments;
    const switchAt = shape.timelineSwitch ? Math.max(4, last - 3) : last + 1;
    store(wal('README'), undefined, 10);
    for (let segno = 1; segno <= last; segno++) {
      const onSwitchedTimeline = segno >= switchAt;
      if (segno === switchAt) {
        const switchLsn = BigInt(segno) * BigInt(SEGMENT_SIZE) + 0x1000n;
        store(wal(`${walFileName(1, segno, SEGMENT_SIZE)}.partial.lz4`));
        store(wal('00000002.history.br'), `1\t${formatLsn(switchLsn)}\tno recovery target specified\n`);
      }
      const timeline = onSwitchedTimeline ? 2 : 1;
      const name = walFileName(timeline, segno, SEGMENT_SIZE);
      if (random() < 0.05 && segno > 6) continue; // a hole
      store(wal(`${name}.lz4`));
      if (random() < 0.03) store(wal(`${name}.br`)); // a compression variant of the same segment
      if (random() < 0.03) {
        // Removed and stored again (a manual repair): present at the end.
        remove(wal(`${name}.lz4`));
        store(wal(`${name}.lz4`));
      }
      if (segno === 2 || segno === Math.floor(last / 2)) {
        const backup = `base_${walFileName(1, segno, SEGMENT_SIZE)}`;
        const start = BigInt(segno) * BigInt(SEGMENT_SIZE) + 40n;
        const finish = BigInt(segno + 2) * BigInt(SEGMENT_SIZE) + 100n;
        store(`${backups}${backup}/tar_partitions/part_1.tar.lz4`, undefined, 4096);
        store(`${backups}${backup}/tar_partitions/part_tmp.tar.lz4`, undefined, 64);
        remove(`${backups}${backup}/tar_partitions/part_tmp.tar.lz4`);
        store(
          `${backups}${backup}/metadata.json`,
          // Written as text: the system identifier is above 2^53 and must survive exactly.
          '{"start_time":"2026-11-24T10:00:00Z","finish_time":"2026-11-24T10:05:00Z","is_permanent":false,' +
            '"system_identifier":7507672962298572862}',
        );
        store(
          `${backups}${backup}_backup_stop_sentinel.json`,
          `{"LSN":${start},"FinishLSN":${finish},"SystemIdentifier":7507672962298572862,"PgVersion":150004,` +
            `"StartTime":"2026-11-24T10:00:00Z","FinishTime":"2026-11-24T10:05:00Z"}`,
        );
      }
    }
  }
  return { events, bodies, texts, end: clock + 1000 };
}

/** The objects present after all events: what a listing of the bucket would return. */
export function listFinalObjects(events: readonly ObjectEvent[]): ListedObject[] {
  const last = new Map<string, ObjectEvent>();
  for (const event of events) last.set(event.key, event);
  return [...last.values()]
    .filter((event) => event.type === 'created')
    .map((event) => ({ key: event.key, at: event.at, size: event.size ?? null, etag: event.etag ?? null }));
}

/**
 * Delivery as SQS gives it: shuffled within windows of `window` events, and a share of events delivered
 * twice (the copy somewhere later).
 */
export function scrambleDelivery<T>(
  items: readonly T[],
  seed: number,
  window: number,
  duplicateShare: number,
): T[] {
  const random = createRandom(seed ^ 0x5eed);
  const out: T[] = [];
  for (let start = 0; start < items.length; start += window) {
    const chunk = items.slice(start, start + window);
    for (let i = chunk.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [chunk[i], chunk[j]] = [chunk[j] as T, chunk[i] as T];
    }
    out.push(...chunk);
  }
  const copies = Math.round(items.length * duplicateShare);
  for (let i = 0; i < copies; i++) {
    const from = Math.floor(random() * out.length);
    const to = from + Math.floor(random() * (out.length - from + 1));
    out.splice(to, 0, out[from] as T);
  }
  return out;
}

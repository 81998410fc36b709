/**
 * Per-object facts and the last-writer-wins gate that makes event delivery order irrelevant.
 *
 * S3 delivers notifications at least once and in any order. For one key, the event with the greater
 * `sequencer` happened later; a listing observation has no sequencer and is ordered by its time. The gate
 * keeps, per key, the latest version seen and whether the object exists; stale and duplicate events change
 * nothing. Every store of a key with another size or ETag than an earlier store is an overwrite, whichever
 * arrives first.
 */

/** One thing that happened to one object: stored (`created`) or removed. */
export interface ObjectEvent {
  readonly key: string;
  readonly type: 'created' | 'removed';
  /** Epoch ms: the event time, or the object's LastModified for a listing observation. */
  readonly at: number;
  readonly size?: number | null;
  readonly etag?: string | null;
  /** S3's per-key order token (hex); absent for listing observations. */
  readonly sequencer?: string | null;
}

/** What the store remembers of one key. */
export interface KeyFact {
  readonly present: boolean;
  /** When the current version was stored (present) or removed (tombstone), epoch ms. */
  readonly at: number;
  readonly sequencer: string | null;
  /** Size and ETag of the latest store of this key, kept across removal to recognise overwrites. */
  readonly size: number | null;
  readonly etag: string | null;
  /**
   * Version of the store `size` and `etag` come from. A store older than a removal can arrive after it:
   * it then fills in or replaces the kept content only if it is the newest store seen.
   */
  readonly store?: { readonly at: number; readonly sequencer: string | null } | null;
}

/** The gate's verdict on one event. */
export interface FactDecision {
  /** The fact to store (the previous one when the event changed nothing). */
  readonly fact: KeyFact;
  /** Whether the current version of the object changed: presence, stored-at, size or ETag. */
  readonly changed: boolean;
  /** Set when this event and the stored fact are two stores of the key with different content. */
  readonly overwrite: { readonly previousSize: number | null; readonly previousEtag: string | null } | null;
}

/**
 * Compares two versions of a key: negative when `a` is older. Sequencers compare as hex numbers (the
 * shorter left-padded with zeros); otherwise times; at equal times a removal is later than a store.
 */
export function compareVersions(
  a: { at: number; sequencer?: string | null | undefined; removed: boolean },
  b: { at: number; sequencer?: string | null | undefined; removed: boolean },
): number {
  if (a.sequencer && b.sequencer) {
    const width = Math.max(a.sequencer.length, b.sequencer.length);
    const left = a.sequencer.toUpperCase().padStart(width, '0');
    const right = b.sequencer.toUpperCase().padStart(width, '0');
    if (left !== right) return left < right ? -1 : 1;
  }
  if (a.at !== b.at) return a.at < b.at ? -1 : 1;
  if (a.removed !== b.removed) return a.removed ? 1 : -1;
  return 0;
}

/**
 * Decides what an event means given the stored fact of its key.
 *
 * @example
 * decideKeyFact(undefined, { key, type: 'created', at: 1, etag: '"a"', sequencer: '0A' }).changed // true
 */
export function decideKeyFact(previous: KeyFact | undefined, event: ObjectEvent): FactDecision {
  const removed = event.type === 'removed';
  const storeVersion = removed ? null : { at: event.at, sequencer: event.sequencer ?? null };
  // The content a later store is compared with: the newest store seen so far, by version.
  const keptStore =
    previous?.store ?? (previous?.present ? { at: previous.at, sequencer: previous.sequencer } : null);
  const newestStore =
    storeVersion !== null &&
    (keptStore === null ||
      previous === undefined ||
      (previous.size === null && previous.etag === null) ||
      compareVersions({ ...storeVersion, removed: false }, { ...keptStore, removed: false }) > 0);
  const kept = {
    size: newestStore ? (event.size ?? null) : (previous?.size ?? null),
    etag: newestStore ? normaliseEtag(event.etag) : (previous?.etag ?? null),
    store: newestStore ? storeVersion : keptStore,
  };
  const incoming: KeyFact = { present: !removed, at: event.at, sequencer: event.sequencer ?? null, ...kept };
  if (!previous) return { fact: incoming, changed: true, overwrite: null };

  const overwrite =
    !removed &&
    (differs(previous.size, event.size ?? null) || differsText(previous.etag, normaliseEtag(event.etag)))
      ? { previousSize: previous.size, previousEtag: previous.etag }
      : null;
  const order = compareVersions(
    { at: incoming.at, sequencer: incoming.sequencer, removed: !incoming.present },
    { at: previous.at, sequencer: previous.sequencer, removed: !previous.present },
  );
  if (incoming.present && previous.present && !overwrite && !(incoming.sequencer && previous.sequencer)) {
    // The same content seen by an event and by a listing (which has no sequencer): the object has existed
    // since the earlier of the two times, whichever arrives first.
    const at = Math.min(previous.at, incoming.at);
    const fact = order > 0 ? { ...incoming, at } : { ...previous, at };
    return { fact, changed: at !== previous.at, overwrite: null };
  }
  // An older event changes nothing about the object, but an older store may still be the newest store
  // seen (it arrived after a removal): its content is kept for comparing later stores.
  if (order <= 0) return { fact: { ...previous, ...kept }, changed: false, overwrite };
  const changed =
    incoming.present !== previous.present ||
    (incoming.present &&
      (incoming.at !== previous.at || incoming.size !== previous.size || incoming.etag !== previous.etag));
  return { fact: incoming, changed, overwrite };
}

function differs(a: number | null, b: number | null): boolean {
  return a !== null && b !== null && a !== b;
}

function differsText(a: string | null, b: string | null): boolean {
  return a !== null && b !== null && a !== b;
}

/** ETags arrive quoted from S3 APIs and unquoted in event notifications: compare them unquoted. */
export function normaliseEtag(etag: string | null | undefined): string | null {
  if (etag === null || etag === undefined || etag === '') return null;
  return etag.replace(/^"|"$/g, '');
}

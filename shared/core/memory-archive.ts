/**
 * An archive kept in memory and updated one event at a time, through the same gate and state functions
 * as the event pipeline. It is the reference the DynamoDB store must agree with, and the way tests fold
 * events in arbitrary orders.
 */

import { decideKeyFact, type KeyFact, type ObjectEvent } from './facts.js';
import { parseObjectKey } from './keys.js';
import { parseWalFileName } from './lsn.js';
import type { SegmentObject } from './segment-size.js';
import {
  applyObjectChange,
  type ClusterState,
  createClusterState,
  isNewer,
  needsContent,
  type ObjectPresence,
  parseSegmentKey,
  type SegmentLookup,
  type SegmentPresence,
  type SegmentTime,
  segmentKey,
} from './state.js';

/** Body of a document object (sentinel, metadata, history), or why it could not be read. */
export type DocumentContent = { readonly text: string } | { readonly error: string };

/** What applying one event did. */
export type ApplyOutcome = 'applied' | 'unchanged' | 'outside-archive';

/** Facts per key and the state of every cluster, folded from events. */
export class MemoryArchive {
  private readonly facts = new Map<string, KeyFact>();
  /** Per cluster: `"<timeline>:<segno>"` → the keys (compression variants) naming that segment. */
  private readonly segmentKeys = new Map<string, Map<string, Set<string>>>();
  readonly states = new Map<string, ClusterState>();

  constructor(private readonly segmentSizeOf: (clusterId: string) => number) {}

  /**
   * Folds one event in. `content` is the object's body for documents the analysis reads; it is used only
   * when the event is the key's newest version.
   */
  apply(event: ObjectEvent, content?: DocumentContent): ApplyOutcome {
    const parsed = parseObjectKey(event.key);
    if (!parsed) return 'outside-archive';
    const decision = decideKeyFact(this.facts.get(event.key), event);
    this.facts.set(event.key, decision.fact);

    let state = this.states.get(parsed.clusterId);
    if (!state) {
      state = createClusterState(parsed.clusterId, this.segmentSizeOf(parsed.clusterId));
      this.states.set(parsed.clusterId, state);
    }
    const object = parsed.object;
    const watched = object.kind === 'segment' || object.kind === 'history' || object.kind === 'partial';
    if (decision.overwrite && watched) {
      state.overwritten[parsed.relativeKey] = {
        key: parsed.relativeKey,
        at: Math.max(event.at, decision.fact.at),
        previousSize: decision.overwrite.previousSize,
        size: event.size ?? null,
        previousEtag: decision.overwrite.previousEtag,
        etag: event.etag ?? null,
      };
    }
    if (object.kind === 'segment') {
      const name = parseWalFileName(object.walFile, state.segmentSize);
      if (name.ok) this.register(parsed.clusterId, segmentKey(name.timeline, name.segno), event.key);
    }
    if (!decision.changed) return 'unchanged';

    const fact = decision.fact;
    const presence: ObjectPresence = fact.present
      ? {
          present: true,
          at: fact.at,
          size: fact.size,
          etag: fact.etag,
          ...(needsContent(object) ? { content: content ?? { error: 'content not read' } } : {}),
        }
      : { present: false };
    applyObjectChange(state, parsed, presence, this.lookupFor(parsed.clusterId));
    return 'applied';
  }

  /** The segment lookup of one cluster, answered from the facts. */
  lookupFor(clusterId: string): SegmentLookup {
    const keys = this.segmentKeys.get(clusterId) ?? new Map<string, Set<string>>();
    const presenceOf = (id: string): SegmentPresence => {
      const variants = keys.get(id);
      if (!variants) return { present: false, removed: false };
      let earliest: number | undefined;
      const objects: SegmentObject[] = [];
      const base = clusterId === '' ? 0 : clusterId.length + 1;
      for (const key of variants) {
        const fact = this.facts.get(key);
        if (!fact?.present) continue;
        if (earliest === undefined || fact.at < earliest) earliest = fact.at;
        objects.push({ key: key.slice(base), size: fact.size, etag: fact.etag });
      }
      return earliest === undefined
        ? { present: false, removed: true }
        : { present: true, at: earliest, objects };
    };
    return {
      segment: (timeline, segno) => presenceOf(segmentKey(timeline, segno)),
      newest: () => {
        let newest: SegmentTime | undefined;
        for (const id of keys.keys()) {
          const presence = presenceOf(id);
          if (!presence.present) continue;
          const [timeline, segno] = parseSegmentKey(id);
          const candidate = { timeline, segno, at: presence.at };
          if (newest === undefined || isNewer(candidate, newest)) newest = candidate;
        }
        return newest;
      },
    };
  }

  private register(clusterId: string, id: string, key: string): void {
    let keys = this.segmentKeys.get(clusterId);
    if (!keys) {
      keys = new Map();
      this.segmentKeys.set(clusterId, keys);
    }
    let variants = keys.get(id);
    if (!variants) {
      variants = new Set();
      keys.set(id, variants);
    }
    variants.add(key);
  }
}

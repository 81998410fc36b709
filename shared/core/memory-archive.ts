/**
 * An archive kept in memory and updated one event at a time, through the same gate and state functions
 * as the event pipeline. It is the reference the DynamoDB store must agree with, and the way tests fold
 * events in arbitrary orders.
 */

import { decideKeyFact, type KeyFact, type ObjectEvent } from './facts.js';
import { parseObjectKey } from './keys.js';
import { DEFAULT_SEGMENT_SIZE, parseWalFileName, walFileName } from './lsn.js';
import type { SegmentObject } from './object-size.js';
import { detectSegmentSize, type SegmentSizeSetting } from './segment-size.js';
import {
  applyObjectChange,
  type ClusterState,
  changeSegmentSize,
  createClusterState,
  isNewer,
  needsContent,
  type ObjectPresence,
  type SegmentPresence,
  type SegmentTime,
  type SizeChangeLookup,
} from './state.js';

/** Body of a document object (sentinel, metadata, history), or why it could not be read. */
export type DocumentContent = { readonly text: string } | { readonly error: string };

/** What applying one event did. */
export type ApplyOutcome = 'applied' | 'unchanged' | 'outside-archive';

/** Facts per key and the state of every cluster, folded from events. */
export class MemoryArchive {
  private readonly facts = new Map<string, KeyFact>();
  /** Per cluster: WAL file name → the keys (compression variants) naming that segment. */
  private readonly segmentKeys = new Map<string, Map<string, Set<string>>>();
  readonly states = new Map<string, ClusterState>();

  /** @param segmentSizeOf - each cluster's size, or `auto` to learn it from the archive */
  constructor(private readonly segmentSizeOf: (clusterId: string) => SegmentSizeSetting) {}

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
      const setting = this.segmentSizeOf(parsed.clusterId);
      state =
        setting === 'auto'
          ? createClusterState(parsed.clusterId, DEFAULT_SEGMENT_SIZE, 'assumed')
          : createClusterState(parsed.clusterId, setting, 'configured');
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
    if (object.kind === 'segment') this.register(parsed.clusterId, object.walFile, event.key);
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
    applyObjectChange(state, parsed, presence, this.lookupFor(parsed.clusterId, state.segmentSize));
    this.redetectSegmentSize(state);
    return 'applied';
  }

  /** Re-counts a cluster's segments when what its archive tells changes its segment size. */
  private redetectSegmentSize(state: ClusterState): void {
    const detection = detectSegmentSize(state, this.segmentSizeOf(state.id));
    if (detection.size === state.segmentSize && detection.source === state.segmentSizeSource) return;
    const lookup = this.lookupFor(state.id, detection.size);
    this.states.set(state.id, changeSegmentSize(state, detection.size, detection.source, lookup));
  }

  /** The segment lookup of one cluster under a segment size, answered from the facts. */
  lookupFor(clusterId: string, segmentSize: number): SizeChangeLookup {
    const keys = this.segmentKeys.get(clusterId) ?? new Map<string, Set<string>>();
    const root = clusterId === '' ? 0 : clusterId.length + 1;
    const presenceOf = (id: string): SegmentPresence => {
      const variants = keys.get(id);
      if (!variants) return { present: false, removed: false };
      let earliest: number | undefined;
      const objects: SegmentObject[] = [];
      for (const key of variants) {
        const fact = this.facts.get(key);
        if (!fact?.present) continue;
        if (earliest === undefined || fact.at < earliest) earliest = fact.at;
        objects.push({ key: key.slice(root), size: fact.size, etag: fact.etag });
      }
      return earliest === undefined
        ? { present: false, removed: true }
        : { present: true, at: earliest, objects };
    };
    return {
      segment: (timeline, segno) => presenceOf(walFileName(timeline, segno, segmentSize)),
      newest: () => {
        let newest: SegmentTime | undefined;
        for (const walFile of keys.keys()) {
          const name = parseWalFileName(walFile, segmentSize);
          const presence = presenceOf(walFile);
          if (!name.ok || !presence.present) continue;
          const candidate = { timeline: name.timeline, segno: name.segno, at: presence.at };
          if (newest === undefined || isNewer(candidate, newest)) newest = candidate;
        }
        return newest;
      },
      presentKeys: (walFile) =>
        [...(keys.get(walFile) ?? [])].flatMap((key) => {
          const fact = this.facts.get(key);
          return fact?.present ? [{ relativeKey: key.slice(root), at: fact.at }] : [];
        }),
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

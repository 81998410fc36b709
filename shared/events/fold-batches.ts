/**
 * Folds a stream of listed objects in batches (one state write per cluster per batch), keeping the
 * running counts and the number of objects that could not be folded.
 */
import type { ObjectEvent } from '../core/facts.js';
import { emptyFoldCounts, type FoldCounts, type FoldDependencies, foldEvents } from '../store/fold-events.js';

/** Batches of events folded through {@link foldEvents}, each event's key as its id. */
export class FoldBatches {
  /** What every batch folded so far did. */
  readonly counts: FoldCounts = emptyFoldCounts();
  /** Objects that could not be folded so far. */
  failed = 0;
  private batch: ObjectEvent[] = [];

  constructor(
    private readonly deps: FoldDependencies,
    private readonly batchSize: number,
  ) {}

  /** Adds an event; folds the batch once it holds `batchSize`. */
  async add(event: ObjectEvent): Promise<void> {
    this.batch.push(event);
    if (this.batch.length >= this.batchSize) await this.flush();
  }

  /** Folds `events` as one batch, with whatever is pending. */
  async foldAll(events: readonly ObjectEvent[]): Promise<void> {
    this.batch.push(...events);
    await this.flush();
  }

  /** Folds what is pending, if anything. */
  async flush(): Promise<void> {
    if (this.batch.length === 0) return;
    const inputs = this.batch.map((event) => ({ id: event.key, event }));
    this.batch = [];
    const result = await foldEvents(this.deps, inputs);
    for (const name of Object.keys(this.counts) as Array<keyof FoldCounts>)
      this.counts[name] += result.counts[name];
    this.failed += result.failures.size;
  }
}

/**
 * A full reconcile from the archive bucket's S3 Inventory instead of a listing: the newest report's data
 * files are folded independently (one message per file to the reconcile worker, in parallel), through the
 * same fold as listings and events, so the states that result are those a full listing of the same objects
 * gives. Objects newer than the report are the events' and the head-based reconciles' to bring.
 *
 * What a report cannot do is find removals: absence from one file says nothing, and no single worker sees
 * every file. Removals that events missed are found by a listing-based full reconcile
 * (`{"full": true, "source": "listing"}`).
 */
import { z } from 'zod';
import { listClusterIds } from '../store/cluster-states.js';
import type { FoldCounts } from '../store/fold-events.js';
import { FoldBatches } from './fold-batches.js';
import { readInventoryFile } from './inventory-files.js';
import type { InventoryFile, InventoryManifest } from './inventory-manifest.js';
import type { ReconcileDependencies } from './reconcile-archive.js';

/** One data file to fold, as the SQS message body carries it. */
export interface InventoryFileMessage {
  /** Bucket of the report (the inventory destination). */
  readonly bucket: string;
  readonly manifestKey: string;
  readonly sourceBucket: string;
  readonly fileSchema: readonly string[];
  readonly file: InventoryFile;
}

/** What folding one data file did. */
export interface InventoryFileReport {
  /** Rows of the archive bucket read. */
  readonly objects: number;
  /** Rows outside the roots reconcile watches. */
  readonly skipped: number;
  readonly counts: FoldCounts;
  /** Objects whose fold failed (the message is retried). */
  readonly failed: number;
}

/** The messages of a report, one per data file. */
export function inventoryFileMessages(manifest: InventoryManifest): InventoryFileMessage[] {
  return manifest.files.map((file) => ({
    bucket: manifest.destinationBucket,
    manifestKey: manifest.key,
    sourceBucket: manifest.sourceBucket,
    fileSchema: manifest.fileSchema,
    file,
  }));
}

const MESSAGE = z.object({
  bucket: z.string().min(1),
  manifestKey: z.string().min(1),
  sourceBucket: z.string().min(1),
  fileSchema: z.array(z.string()).min(1),
  file: z.object({ key: z.string().min(1), size: z.number().int().nonnegative(), MD5checksum: z.string() }),
});

/** A message body is not an inventory file message; it goes to the dead-letter queue. */
export class InventoryFileMessageError extends Error {
  override readonly name = 'InventoryFileMessageError';
}

/** Reads a message body. @throws {InventoryFileMessageError} naming what is wrong */
export function parseInventoryFileMessage(body: string): InventoryFileMessage {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch (error) {
    throw new InventoryFileMessageError('inventory file message is not JSON', { cause: error });
  }
  const parsed = MESSAGE.safeParse(json);
  if (!parsed.success)
    throw new InventoryFileMessageError(
      `inventory file message is malformed: ${z.prettifyError(parsed.error)}`,
    );
  return parsed.data;
}

/**
 * Folds one data file: every row under the watched roots (with configured roots: those and every known
 * cluster, as a full listing lists them; without: the whole bucket).
 *
 * @example
 * const report = await reconcileInventoryFile(deps, message, { roots: ['spilo/orders/wal/15'] });
 */
export async function reconcileInventoryFile(
  deps: ReconcileDependencies,
  message: InventoryFileMessage,
  options: { readonly roots?: readonly string[]; readonly batchSize?: number } = {},
): Promise<InventoryFileReport> {
  const roots = options.roots ?? [];
  const prefixes =
    roots.length === 0
      ? ['']
      : [...new Set([...roots, ...(await listClusterIds(deps.db, deps.table))])].map((root) =>
          root === '' ? '' : `${root}/`,
        );
  const folds = new FoldBatches(deps, options.batchSize ?? 1000);
  let objects = 0;
  let skipped = 0;
  for await (const event of readInventoryFile(
    deps.s3,
    message.bucket,
    message.file,
    message.fileSchema,
    message.sourceBucket,
  )) {
    objects += 1;
    if (!prefixes.some((prefix) => event.key.startsWith(prefix))) {
      skipped += 1;
      continue;
    }
    await folds.add(event);
  }
  await folds.flush();
  return { objects, skipped, counts: folds.counts, failed: folds.failed };
}

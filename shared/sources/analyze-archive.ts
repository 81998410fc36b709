/**
 * Full-listing analysis of an archive source: list, read the few documents the analysis needs
 * (sentinels, `metadata.json`, history files — decompressed), build each cluster's state, analyse it.
 * The CLI runs this; the reconcile job uses the same listing to adopt a bucket.
 */

import type { CompressionMethod } from '../codec/decompress.js';
import { type DocumentRead, decodeDocument } from '../codec/document.js';
import { analyzeCluster } from '../core/analyze.js';
import type { AnalysisOptions } from '../core/config.js';
import { parseObjectKey } from '../core/keys.js';
import { impossibleSegmentSize } from '../core/object-size.js';
import type { ClusterReport, Problem, Report } from '../core/report.js';
import type { HeaderSegmentSize, SegmentSizeSetting } from '../core/segment-size.js';
import { ClusterStatesBuilder, type ListedObject, needsContent } from '../core/state.js';
import type { ArchiveSource } from './archive-source.js';
import { commitLookup, readChainCommits } from './chain-commits.js';
import { readHeaderSegmentSize } from './read-segment-summary.js';
import { findSegmentDefects } from './segment-defects.js';

/** Options of a full-listing analysis. */
export interface ArchiveAnalysisOptions extends AnalysisOptions {
  /** Segment size per cluster id, or `auto` to learn it from the archive. @default auto for every cluster */
  readonly segmentSizeOf?: (clusterId: string) => SegmentSizeSetting;
  /** Keep only this cluster. */
  readonly cluster?: string;
  /** Called as the listing and reading advance. */
  readonly onProgress?: (event: { phase: 'listing' | 'reading'; done: number; total?: number }) => void;
  /** How many documents to read at once. @default 16 */
  readonly concurrency?: number;
  /**
   * Read the segments at the end of each recovery chain for exact last commit times (`true`), and with
   * `'all'` every segment too, reporting those recovery cannot read (`wal-corrupt`). @default false
   */
  readonly content?: boolean | 'all';
}

const PROGRESS_EVERY = 10_000;

/** Lists and analyses a whole source into the report of `spec/report.md`. */
export async function analyzeArchive(
  source: ArchiveSource,
  options: ArchiveAnalysisOptions,
): Promise<Report> {
  // Segments stream straight into the builder; only the few documents wait for their bodies.
  const builder = new ClusterStatesBuilder(options.segmentSizeOf ?? (() => 'auto'));
  const noContent = (): undefined => undefined;
  const documents: Array<{ object: ListedObject; compression: string }> = [];
  /** Per cluster, the segment objects `content: 'all'` reads, once the size tells which can be segments. */
  const segmentObjects = new Map<string, Array<{ key: string; size: number | undefined }>>();
  /** Per cluster, the last segment listed (the highest name): its page header may tell the size. */
  const lastSegmentKeys = new Map<string, string>();
  let listed = 0;
  for await (const object of source.list()) {
    const parsed = parseObjectKey(object.key);
    if (!parsed || (options.cluster !== undefined && parsed.clusterId !== options.cluster)) continue;
    listed += 1;
    if (parsed.object.kind === 'segment') lastSegmentKeys.set(parsed.clusterId, object.key);
    if (options.content === 'all' && parsed.object.kind === 'segment') {
      const entry = { key: object.key, size: object.size ?? undefined };
      const objects = segmentObjects.get(parsed.clusterId);
      if (objects) objects.push(entry);
      else segmentObjects.set(parsed.clusterId, [entry]);
    }
    if (needsContent(parsed.object)) {
      const compression = 'compression' in parsed.object ? parsed.object.compression : 'none';
      documents.push({ object, compression });
    } else {
      builder.add(object, noContent);
    }
    if (listed % PROGRESS_EVERY === 0) options.onProgress?.({ phase: 'listing', done: listed });
  }
  options.onProgress?.({ phase: 'listing', done: listed });

  const contents = await readDocuments(source, documents, options);
  for (const { object } of documents) builder.add(object, (key) => contents.get(key));
  let built = builder.finish();
  if (options.content) {
    // Content modes read segments anyway: where nothing but object sizes tells the size, one page header does.
    const headers = new Map<string, HeaderSegmentSize>();
    for (const state of built.values()) {
      const key = lastSegmentKeys.get(state.id);
      const weak = state.segmentSizeSource === 'assumed' || state.segmentSizeSource === 'object-size';
      if (!weak || key === undefined) continue;
      const header = await readHeaderSegmentSize(source, key);
      if (header) headers.set(state.id, header);
    }
    if (headers.size > 0) built = builder.finish(headers);
  }
  const states = [...built.values()].sort((a, b) => a.id.localeCompare(b.id));
  const clusters: ClusterReport[] = [];
  for (const listedState of states) {
    let state = listedState;
    const scanErrors: string[] = [];
    if (options.content === 'all') {
      // Segments whose size rules them out under the cluster's size are defects already: nothing to read.
      const size = state.segmentSize;
      const keys = (segmentObjects.get(state.id) ?? []).flatMap(({ key, size: bytes }) => {
        const parsed = parseObjectKey(key);
        const compression = parsed?.object.kind === 'segment' ? parsed.object.compression : 'none';
        return impossibleSegmentSize(bytes, compression, size) === undefined ? [key] : [];
      });
      const scan = await findSegmentDefects(source, state, keys, options);
      state = { ...state, defects: { ...state.defects, ...scan.defects } };
      scanErrors.push(...scan.errors);
    }
    const report = analyzeCluster(state, options);
    if (!options.content || report.recoverableIntervals.length === 0) {
      clusters.push(report);
      continue;
    }
    const { commits, errors } = await readChainCommits(source, report);
    const exact = analyzeCluster(state, { ...options, segmentCommit: commitLookup(commits) });
    const unreadable: Problem[] = [...scanErrors, ...errors].map((error) => ({
      kind: 'content-unreadable',
      severity: 'info',
      subject: error.slice(0, 24),
      message: `segment content could not be read: ${error}`,
    }));
    clusters.push({ ...exact, problems: [...exact.problems, ...unreadable] });
  }
  return { generatedAt: new Date(options.now).toISOString(), clusters };
}

async function readDocuments(
  source: ArchiveSource,
  documents: ReadonlyArray<{ object: ListedObject; compression: string }>,
  options: ArchiveAnalysisOptions,
): Promise<Map<string, { text: string } | { error: string }>> {
  const contents = new Map<string, { text: string } | { error: string }>();
  let next = 0;
  let done = 0;
  const worker = async (): Promise<void> => {
    while (next < documents.length) {
      const { object, compression } = documents[next++] as { object: ListedObject; compression: string };
      const key = object.key;
      contents.set(key, await readDocument(source, key, compression));
      done += 1;
      if (done % 100 === 0) options.onProgress?.({ phase: 'reading', done, total: documents.length });
    }
  };
  await Promise.all(Array.from({ length: options.concurrency ?? 16 }, worker));
  return contents;
}

/** Reads and decompresses one document; a failure becomes the document's error, never the run's. */
export async function readDocument(
  source: ArchiveSource,
  key: string,
  compression: string,
): Promise<DocumentRead> {
  let body: Uint8Array;
  try {
    body = await source.read(key);
  } catch (error) {
    return { error: (error as Error).message };
  }
  return decodeDocument(body, compression as CompressionMethod);
}

/**
 * Analysis core benchmark: a generated listing of 1,000,000 WAL objects (3 timelines, 200 backups, some
 * holes), analysed in memory the way `walwatch analyze` does after listing.
 * Targets: at most 1.5 s wall and 400 MB peak RSS on a 2-core machine.
 */
import { analyzeCluster } from '../shared/core/analyze.js';
import { buildClusterStates, type ListedObject } from '../shared/core/state.js';
import { iterateArchive, MILLION_SEGMENT_ARCHIVE } from '../test/support/archive-generator.js';

const TARGET_MS = 1500;
const TARGET_RSS_MB = 400;

const SPEC = MILLION_SEGMENT_ARCHIVE;

export default async function benchAnalyze(): Promise<void> {
  // The listing as S3 pages leave it in memory: key and LastModified per object (keys flattened, as a
  // decoded HTTP response holds them), plus the bodies of the few documents the analysis reads.
  const documents = new Map<string, { text: string }>();
  const listing: ListedObject[] = [];
  for (const object of iterateArchive(SPEC)) {
    listing.push({ key: Buffer.from(object.key).toString('latin1'), at: object.at });
    if (object.content !== undefined) documents.set(object.key, { text: object.content });
  }
  const now = listing.reduce((max, o) => Math.max(max, o.at), 0) + 60_000;
  const listingRssMb = process.memoryUsage().rss / 1024 / 1024;
  const peakBeforeMb = process.resourceUsage().maxRSS / 1024;

  const runs: number[] = [];
  let singlePeakMb = 0;
  for (let run = 0; run < 5; run++) {
    const started = performance.now();
    const states = buildClusterStates(
      listing,
      (key) => documents.get(key),
      () => SPEC.segmentSize,
    );
    const [state] = states.values();
    if (!state) throw new Error('no cluster found');
    const report = analyzeCluster(state, { now });
    runs.push(performance.now() - started);
    if (run === 0) {
      // One analysis, as the CLI runs it; later runs only time it (their garbage grows the heap meanwhile).
      singlePeakMb = process.resourceUsage().maxRSS / 1024;
      const segments = report.timelines.reduce((sum, t) => sum + t.segments, 0);
      const stateBytes = JSON.stringify(state).length;
      process.stdout.write(
        `objects ${listing.length}, segments ${segments}, gaps ${report.gaps.length}, backups ${report.backups.length}, ` +
          `stored state ${stateBytes} bytes (${(stateBytes / segments).toFixed(3)} bytes per segment)\n`,
      );
    }
  }
  const median = [...runs].sort((a, b) => a - b)[2] as number;
  const peakRssMb = process.resourceUsage().maxRSS / 1024;
  process.stdout.write(
    `analyse ${listing.length} objects: median ${median.toFixed(0)} ms, best ${Math.min(...runs).toFixed(0)} ms, ` +
      `${((listing.length / median) * 1000).toFixed(0)} objects/s; target ${TARGET_MS} ms, ratio ${(median / TARGET_MS).toFixed(2)}\n` +
      `RSS with the listing loaded ${listingRssMb.toFixed(0)} MB (peak while generating it ${peakBeforeMb.toFixed(0)} MB); ` +
      `peak RSS of one analysis ${singlePeakMb.toFixed(0)} MB; target ${TARGET_RSS_MB} MB, ratio ${(singlePeakMb / TARGET_RSS_MB).toFixed(2)} ` +
      `(${peakRssMb.toFixed(0)} MB after all five runs)\n` +
      '(walwatch analyze streams listings page by page into the state builder, so it never holds the listing whole)\n',
  );
}

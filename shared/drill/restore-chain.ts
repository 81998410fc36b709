/**
 * Restores a WAL-G delta backup into a data directory as `wal-g backup-fetch` does: reads the chain from
 * the sentinels (`DeltaFrom` down to a full backup), unpacks the full backup's files that the deltas still
 * need, then each delta over it, oldest to newest, applying its increments. The facts and their WAL-G
 * sources are in `shared/core/delta-chain.ts` and `shared/core/walg-increment.ts`.
 */
import {
  type ChainLink,
  type ChainProblem,
  type FileList,
  parseChainSentinel,
  parseFilesMetadata,
  planChainRestore,
  type RestoreStep,
} from '../core/delta-chain.js';
import { type ArchiveSource, isObjectAbsent } from '../sources/archive-source.js';
import {
  listTarPartsOf,
  type TarSelection,
  UnpackError,
  type UnpackProgress,
  type UnpackTimings,
  unpackTarParts,
} from './unpack-backup.js';

/** The longest chain followed; WAL-G's `WALG_DELTA_MAX_STEPS` is usually single digits. */
const MAX_CHAIN = 1000;

/**
 * Reads a delta backup's chain from the archive and plans its restore. Returns the steps oldest first, or
 * why the chain cannot be restored.
 */
export async function planDeltaRestore(
  source: ArchiveSource,
  cluster: string,
  backup: string,
): Promise<{ readonly ok: true; readonly steps: RestoreStep[] } | ({ readonly ok: false } & ChainProblem)> {
  const root = `${cluster === '' ? '' : `${cluster}/`}basebackups_005/`;
  const links: ChainLink[] = [];
  let name: string | null = backup;
  while (name !== null) {
    const current: string = name;
    if (links.some((link) => link.name === current))
      return { ok: false, kind: 'broken', error: `the delta chain loops at ${current}` };
    if (links.length >= MAX_CHAIN)
      return { ok: false, kind: 'broken', error: `the delta chain is longer than ${MAX_CHAIN} backups` };
    const child = links.at(-1)?.name;
    const text = await readText(source, `${root}${current}_backup_stop_sentinel.json`);
    if (text === null)
      return {
        ok: false,
        kind: 'broken',
        error: child
          ? `${child} is a delta of ${current}, whose sentinel is gone`
          : `${current} has no sentinel`,
      };
    const sentinel = parseChainSentinel(text);
    if (!sentinel.ok)
      return {
        ok: false,
        kind: 'broken',
        error: `the sentinel of ${current} cannot be read: ${sentinel.error}`,
      };
    let files: FileList | null = sentinel.value.files;
    if (files === null && !sentinel.value.filesMetadataDisabled) {
      const metadata = await readText(source, `${root}${current}/files_metadata.json`);
      if (metadata !== null) {
        const parsed = parseFilesMetadata(metadata);
        if (!parsed.ok)
          return {
            ok: false,
            kind: 'broken',
            error: `files_metadata.json of ${current} cannot be read: ${parsed.error}`,
          };
        files = parsed.value;
      }
    }
    links.push({ name: current, sentinel: sentinel.value, files });
    name = sentinel.value.deltaFrom;
  }
  const plan = planChainRestore(links);
  return plan.ok ? { ok: true, steps: plan.value } : plan;
}

/**
 * Unpacks the steps of a delta chain into `dataDir`, one after another. After each backup, every file it
 * was to provide must have come from its tars: a file the chain needs and no backup holds fails the restore
 * rather than leaving it out.
 *
 * @throws {MissingTarPartError} when a backup of the chain lacks a tar partition
 * @throws {UnpackError} for a part that cannot be read, a corrupt increment, or a file missing from the chain
 */
export async function unpackDeltaChain(
  source: ArchiveSource,
  cluster: string,
  steps: readonly RestoreStep[],
  dataDir: string,
  options: {
    readonly owner?: { readonly uid: number; readonly gid: number };
    readonly onProgress?: (event: UnpackProgress) => void;
  } = {},
): Promise<UnpackTimings> {
  const partsOf = await listTarPartsOf(
    source,
    cluster,
    steps.map((step) => step.backup),
  );
  const total: UnpackTimings = { downloadMs: 0, unpackMs: 0, downloadedBytes: 0, unpackedBytes: 0 };
  for (const [index, step] of steps.entries()) {
    const all = partsOf.get(step.backup) ?? [];
    // pg_control and backup_label come from the newest backup; the older ones' would be passed over.
    const parts = step.labelFiles
      ? all
      : all.filter((part) => part.name !== 'pg_control.tar' && part.name !== 'backup_label.tar');
    const selection: TarSelection = {
      backup: step.backup,
      files: step.files,
      increments: step.increments,
      labelFiles: step.labelFiles,
      seen: new Set(),
    };
    const progress = options.onProgress;
    const timings = await unpackTarParts(source, parts, dataDir, {
      ...(options.owner ? { owner: options.owner } : {}),
      selection,
      ...(progress
        ? { onProgress: (event) => progress({ ...event, part: `${step.backup}/${event.part}` }) }
        : {}),
    });
    total.downloadMs += timings.downloadMs;
    total.unpackMs += timings.unpackMs;
    total.downloadedBytes += timings.downloadedBytes;
    total.unpackedBytes += timings.unpackedBytes;
    const missing = [...step.expected].filter((path) => !selection.seen.has(path)).sort();
    if (missing.length > 0) {
      const needer = steps[index + 1]?.backup;
      const listed =
        missing.slice(0, 5).join(', ') + (missing.length > 5 ? ` and ${missing.length - 5} more` : '');
      throw new UnpackError(
        step.delta || !needer
          ? `${listed} ${missing.length === 1 ? 'is' : 'are'} listed in the files metadata of ${step.backup} but in none of its tars`
          : `${needer} takes ${listed} from ${step.backup}, whose tars do not hold ${missing.length === 1 ? 'it' : 'them'}`,
      );
    }
  }
  return total;
}

async function readText(source: ArchiveSource, key: string): Promise<string | null> {
  try {
    return new TextDecoder().decode(await source.read(key));
  } catch (error) {
    if (isObjectAbsent(error)) return null;
    throw error;
  }
}

/**
 * Restoring a WAL-G delta backup: which backups make its chain and which files each of them contributes,
 * decided from their sentinels and files metadata as `wal-g backup-fetch` decides it.
 *
 * Facts, from WAL-G `internal/databases/postgres/`:
 *
 * - **Sentinel fields** (`backup_sentinel_dto.go`, `BackupSentinelDto`): `LSN` (start), `DeltaFrom` (the
 *   backup this one is a delta of), `DeltaLSN` (that backup's `LSN`; `DeltaFromLSN` in old sentinels,
 *   `backup.go` `readDeprecatedFields`), `DeltaFullName` (the full backup at the root of the chain),
 *   `DeltaCount` (1 for a delta of a full backup, parent's + 1 otherwise, `delta_backup_configurator.go`).
 *   A backup is a delta when `DeltaFrom` is set, and then `DeltaLSN`, `DeltaFullName` and `DeltaCount` must
 *   be too (`IsIncremental` panics with "Inconsistent BackupSentinelDto"). The chain follows `DeltaFrom`,
 *   not the name's `_D_` part (`deltaFetchRecursionOld`, `backup_fetch_handler.go`).
 * - **Files metadata**: `basebackups_005/<backup>/files_metadata.json` `{"Files": {"/base/1/1259":
 *   {"IsIncremented", "IsSkipped", "MTime", …}}, "TarFileSets": …}`; older WAL-G wrote `Files` into the
 *   sentinel itself; `FilesMetadataDisabled: true` means there is none (`GetSentinelAndFilesMetadata`).
 *   Keys are tar member names, `/` + the path in the data directory (`internal/bundle.go`
 *   `GetFileRelPath`). A file whose modification time equals the parent's is `IsSkipped` and left out of
 *   the tar; a paged file (under `base`/`pg_tblspc`, a whole number of pages, a relation file name, not
 *   `pg_xact`/`pg_multixact`; `pagefile.go` `isPagedFile`) that the parent held is `IsIncremented` and
 *   stored as an increment (`walg-increment.ts`); any other file is stored whole. A file the parent held
 *   that is gone is simply not listed (`bundle.go` `addToBundle`, `tar_ball_file_packer.go`).
 * - **Order** (`backup_fetch_handler.go`, the default; `--reverse-unpack` / `WALG_USE_REVERSE_UNPACK`
 *   selects `backup_fetch_handler_new.go`, newest first, for the same result): the files to unwrap from the
 *   newest backup are every listed file plus `/global/pg_control`, `backup_label` and `tablespace_map`
 *   (`UtilityFilePaths`, `backup.go` `GetFilesToUnwrap`). From its parent WAL-G takes only those of them
 *   that the child lists as skipped or incremented (`GetBaseFilesToUnwrap`, which panics when the child
 *   names a file the parent does not list), and so on down the chain; it unwraps the full backup first,
 *   then each delta over it, oldest to newest. A regular tar member outside the set is passed over
 *   (`unwrapRegularFileOld`, `tar_interpreter.go`); directories, links and symlinks are always made. An
 *   incremented member is applied over the file already on disk (`ApplyFileIncrement`: "incremented file
 *   should always exist"); any other member overwrites. `pg_control` and `backup_label` therefore come
 *   from the newest backup only, and its `pg_control.tar` is extracted last.
 *
 * Beyond WAL-G, a chain is refused when a link's `DeltaLSN` is not its parent's `LSN` or the system
 * identifiers differ (increments over another base would give a wrong data directory), and names are
 * compared without a leading `/` or `./`.
 */
import {
  type ExactJson,
  isJsonObject,
  parseExactJson,
  readBoolean,
  readInteger,
  readString,
  readUnsigned,
} from './exact-json.js';

/** What a backup's files metadata says of one file. */
export interface FileDescription {
  readonly isIncremented: boolean;
  readonly isSkipped: boolean;
}

/** Files metadata keyed by {@link dataPathOf}. */
export type FileList = ReadonlyMap<string, FileDescription>;

/** What a sentinel says about a backup's place in a delta chain. */
export interface ChainSentinel {
  /** `LSN`, exact decimal. */
  readonly startLsn: string;
  readonly deltaFrom: string | null;
  /** `DeltaLSN` (or the older `DeltaFromLSN`), exact decimal. */
  readonly deltaLsn: string | null;
  readonly deltaFullName: string | null;
  readonly deltaCount: number | null;
  readonly filesMetadataDisabled: boolean;
  readonly systemIdentifier: string | null;
  /** `Files` written into the sentinel by older WAL-G, when there. */
  readonly files: FileList | null;
}

/** A parse or plan outcome. */
export type Outcome<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly error: string };

/** A tar member or files-metadata key as a path in the data directory: `/base/1/1259` → `base/1/1259`. */
export function dataPathOf(name: string): string {
  let path = name;
  for (;;) {
    if (path.startsWith('./')) path = path.slice(2);
    else if (path.startsWith('/')) path = path.slice(1);
    else return path.replace(/\/+$/, '');
  }
}

/** Parses the delta fields of a WAL-G sentinel. */
export function parseChainSentinel(text: string): Outcome<ChainSentinel> {
  const json = parseExactJson(text);
  if (!json.ok) return json;
  const doc = json.value;
  if (!isJsonObject(doc)) return { ok: false, error: 'sentinel is not a JSON object' };
  const startLsn = readUnsigned(doc.LSN);
  if (startLsn === undefined) return { ok: false, error: 'sentinel has no valid "LSN"' };
  let files: FileList | null = null;
  if (doc.Files !== undefined && doc.Files !== null) {
    const parsed = readFileList(doc.Files);
    if (!parsed.ok) return parsed;
    files = parsed.value;
  }
  return {
    ok: true,
    value: {
      startLsn,
      deltaFrom: readString(doc.DeltaFrom) ?? null,
      deltaLsn: readUnsigned(doc.DeltaLSN) ?? readUnsigned(doc.DeltaFromLSN) ?? null,
      deltaFullName: readString(doc.DeltaFullName) ?? null,
      deltaCount: readInteger(doc.DeltaCount) ?? null,
      filesMetadataDisabled: readBoolean(doc.FilesMetadataDisabled) ?? false,
      systemIdentifier: readUnsigned(doc.SystemIdentifier) ?? null,
      files,
    },
  };
}

/** Parses `files_metadata.json` (`FilesMetadataDto`): its `Files`. */
export function parseFilesMetadata(text: string): Outcome<FileList> {
  const json = parseExactJson(text);
  if (!json.ok) return json;
  if (!isJsonObject(json.value)) return { ok: false, error: 'files metadata is not a JSON object' };
  return readFileList(json.value.Files ?? {});
}

function readFileList(value: ExactJson): Outcome<FileList> {
  if (!isJsonObject(value)) return { ok: false, error: '"Files" is not a JSON object' };
  const files = new Map<string, FileDescription>();
  for (const [name, description] of Object.entries(value)) {
    if (!isJsonObject(description)) return { ok: false, error: `"Files" entry ${name} is not an object` };
    const isIncremented = readBoolean(description.IsIncremented) ?? false;
    const isSkipped = readBoolean(description.IsSkipped) ?? false;
    if (isIncremented && isSkipped)
      return { ok: false, error: `"Files" entry ${name} is both incremented and skipped` };
    files.set(dataPathOf(name), { isIncremented, isSkipped });
  }
  return { ok: true, value: files };
}

/** One backup of a chain with what its sentinel and files metadata say. */
export interface ChainLink {
  readonly name: string;
  readonly sentinel: ChainSentinel;
  /** Its files metadata, `null` when it has none (`FilesMetadataDisabled`, WAL-E, old WAL-G). */
  readonly files: FileList | null;
}

/** What one backup of the chain contributes, in restore order. */
export interface RestoreStep {
  readonly backup: string;
  /** Whether its incremented files are increments over the step before. */
  readonly delta: boolean;
  /** Data paths of the regular files to take from its tars; others are passed over. */
  readonly files: ReadonlySet<string>;
  /** Of {@link files}, those whose tar member is an increment to apply. */
  readonly increments: ReadonlySet<string>;
  /** Of {@link files}, those its tars must hold (listed and not skipped). */
  readonly expected: ReadonlySet<string>;
  /** Whether `pg_control`, `backup_label` and `tablespace_map` come from it (the newest backup only). */
  readonly labelFiles: boolean;
}

/** Why a chain cannot be restored: `unsupported` when walwatch (or WAL-G) has no way to, `broken` when it is damaged. */
export type ChainProblem = { readonly kind: 'unsupported' | 'broken'; readonly error: string };

/** The data paths WAL-G always takes from the newest backup (`UtilityFilePaths`). */
export const LABEL_FILES: ReadonlySet<string> = new Set([
  'global/pg_control',
  'backup_label',
  'tablespace_map',
]);

/**
 * Plans the restore of a delta chain: `links` newest first, down to a full backup. Returns the steps
 * oldest first, each with the files it contributes, or what is wrong.
 *
 * @example
 * const plan = planChainRestore([delta, full]);
 * if (plan.ok) plan.value.map((s) => s.backup) // ['base_…full', 'base_…_D_…']
 */
export function planChainRestore(
  links: readonly ChainLink[],
): { readonly ok: true; readonly value: RestoreStep[] } | ({ readonly ok: false } & ChainProblem) {
  const broken = (error: string) => ({ ok: false as const, kind: 'broken' as const, error });
  const unsupported = (error: string) => ({ ok: false as const, kind: 'unsupported' as const, error });
  const newest = links[0];
  if (!newest) return broken('no backups in the chain');
  for (const [index, link] of links.entries()) {
    const parent = links[index + 1];
    const { sentinel } = link;
    if (!parent) {
      if (sentinel.deltaFrom !== null)
        return broken(`the chain ends at ${link.name}, a delta of ${sentinel.deltaFrom}`);
      continue;
    }
    if (sentinel.deltaFrom !== parent.name)
      return broken(`${link.name} is a delta of ${sentinel.deltaFrom ?? 'nothing'}, not of ${parent.name}`);
    if (sentinel.deltaLsn === null || sentinel.deltaFullName === null || sentinel.deltaCount === null)
      return broken(
        `the sentinel of ${link.name} names DeltaFrom but lacks ${[
          sentinel.deltaLsn === null ? 'DeltaLSN' : null,
          sentinel.deltaFullName === null ? 'DeltaFullName' : null,
          sentinel.deltaCount === null ? 'DeltaCount' : null,
        ]
          .filter(Boolean)
          .join(', ')} (WAL-G refuses it as inconsistent)`,
      );
    if (sentinel.deltaLsn !== parent.sentinel.startLsn)
      return broken(
        `${link.name} was taken as a delta from LSN ${sentinel.deltaLsn}, but ${parent.name} starts at ${parent.sentinel.startLsn}`,
      );
    const ids = [sentinel.systemIdentifier, parent.sentinel.systemIdentifier];
    if (ids[0] !== null && ids[1] !== null && ids[0] !== ids[1])
      return broken(
        `${link.name} and ${parent.name} come from different clusters (system identifiers ${ids[0]}, ${ids[1]})`,
      );
    if (link.files === null)
      return unsupported(
        `${link.name} has no files metadata (${sentinel.filesMetadataDisabled ? 'FilesMetadataDisabled' : 'no files_metadata.json'}): which of its files are increments cannot be told`,
      );
    for (const [path, description] of link.files)
      if (description.isIncremented && path.includes('orioledb_data'))
        return unsupported(
          `${link.name} holds OrioleDB increments (${path}), whose format walwatch does not read`,
        );
  }

  const steps: RestoreStep[] = [];
  let wanted: Set<string> | null = null;
  for (const [index, link] of links.entries()) {
    const isDelta = index < links.length - 1;
    const files = wanted ?? new Set([...(link.files?.keys() ?? [])].filter((path) => !LABEL_FILES.has(path)));
    const increments = new Set<string>();
    const expected = new Set<string>();
    const fromParent = new Set<string>();
    for (const path of files) {
      const description = link.files?.get(path);
      if (!isDelta) {
        // WAL-G unwraps the full backup's members without consulting its files metadata.
        if (description?.isSkipped || description?.isIncremented)
          return broken(
            `${link.name} is a full backup but lists ${path} as ${description.isSkipped ? 'skipped' : 'incremented'}`,
          );
        expected.add(path);
        continue;
      }
      if (!description)
        return broken(
          `${links[index - 1]?.name ?? link.name} takes ${path} from ${link.name}, whose files metadata does not list it`,
        );
      if (description.isIncremented) increments.add(path);
      if (description.isIncremented || description.isSkipped) fromParent.add(path);
      if (!description.isSkipped) expected.add(path);
    }
    steps.push({ backup: link.name, delta: isDelta, files, increments, expected, labelFiles: index === 0 });
    wanted = fromParent;
  }
  return { ok: true, value: steps.reverse() };
}

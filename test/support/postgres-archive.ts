import { chmod, mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join, relative } from 'node:path';
import { runCommand } from './postgres-exec.js';

/**
 * A folder that stands in for the object-store prefix WAL-G writes (walg-layout §2): `wal_005/` and
 * `basebackups_005/` under `root`. Objects appear atomically: written under a temporary name in
 * `stagingDir` (same file system), then renamed into place, as an object store makes a PUT visible at once.
 */
export interface ArchiveLayout {
  /** The archive root, e.g. `<bucketDir>/spilo/<scope>/wal/15`. */
  readonly root: string;
  /** Scratch folder for objects being written; outside `root` so a listing never sees half an object. */
  readonly stagingDir: string;
}

/** Quotes a value for a POSIX shell command line. */
export function quoteShell(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/** Returns the path of the archived object of a WAL file (segment, `.history`, `.partial`, `.backup`). */
export function locateArchivedWal(archive: ArchiveLayout, fileName: string): string {
  return join(archive.root, 'wal_005', `${fileName}.lz4`);
}

/**
 * Writes the `archive_command` and `restore_command` scripts for an archive into `binDir` and returns the
 * two settings' values. The archive script stores `%p` as `wal_005/%f.lz4` (LZ4 frame through the `lz4`
 * CLI, whatever the file kind), like `wal-g wal-push`; like WAL-G it refuses to overwrite a `.history`
 * object with other content. For the restore command see {@link formatRestoreCommand}.
 */
export async function writeArchiveScripts(
  archive: ArchiveLayout,
  binDir: string,
): Promise<{ archiveCommand: string; restoreCommand: string }> {
  const archiveScript = join(binDir, 'archive-wal');
  await writeFile(
    archiveScript,
    `#!/bin/sh
# archive_command: stores a WAL file as WAL-G's wal-push does, at wal_005/<file>.lz4, written under a
# temporary name and then renamed so that a reader never sees half an object.
set -eu
umask 022
src=$1
name=$2
target=${quoteShell(join(archive.root, 'wal_005'))}/"$name".lz4
staged=${quoteShell(archive.stagingDir)}/"$name".lz4.$$
trap 'rm -f "$staged"' EXIT
case $name in
  *.history)
    if [ -e "$target" ]; then
      if lz4 -q -d -c < "$target" | cmp -s - "$src"; then exit 0; fi
      echo "$name is archived already with other content" >&2
      exit 1
    fi ;;
esac
lz4 -q -z -c < "$src" > "$staged"
mv -f "$staged" "$target"
`,
    { mode: 0o755 },
  );
  await writeFile(
    join(binDir, 'restore-wal'),
    `#!/bin/sh
# restore_command: fetches <file> from <root>/wal_005/<file>.lz4 as wal-g wal-fetch does; exit 1 = not
# archived. Arguments: archive root, %f, %p.
set -eu
source="$1/wal_005/$2.lz4"
[ -f "$source" ] || exit 1
lz4 -q -d -c < "$source" > "$3.walwatch-tmp"
mv -f "$3.walwatch-tmp" "$3"
`,
    { mode: 0o755 },
  );
  return {
    archiveCommand: `${quoteShell(archiveScript)} "%p" "%f"`,
    restoreCommand: formatRestoreCommand(binDir, archive.root),
  };
}

/**
 * Returns a `restore_command` that decompresses `<archiveRoot>/wal_005/%f.lz4` to `%p`, like
 * `wal-g wal-fetch`, and exits 1 when the object is absent. Uses the script {@link writeArchiveScripts}
 * put in `binDir`.
 */
export function formatRestoreCommand(binDir: string, archiveRoot: string): string {
  return `${quoteShell(join(binDir, 'restore-wal'))} ${quoteShell(archiveRoot)} "%f" "%p"`;
}

/** Compresses `sourcePath` into a new LZ4 frame file `targetPath` with the `lz4` CLI. */
export async function compressLz4(sourcePath: string, targetPath: string): Promise<void> {
  await runCommand('lz4', ['-q', '-z', '-f', sourcePath, targetPath], { timeoutMs: 900_000 });
}

/** Returns the decompressed body of an LZ4 frame file, decoded by the `lz4` CLI. */
export async function decompressLz4(path: string): Promise<Buffer> {
  return (await runCommand('lz4', ['-q', '-d', '-c', path])).stdout;
}

/**
 * Stores an object under the archive: `body` (bytes) or the file at `fromPath` (moved, not copied) ends up
 * at `<root>/<key>`, readable by everyone, appearing in one rename.
 */
export async function storeObject(
  archive: ArchiveLayout,
  key: string,
  content: { body: string | Buffer } | { fromPath: string },
): Promise<string> {
  const target = join(archive.root, key);
  await mkdir(dirname(target), { recursive: true, mode: 0o755 });
  let staged: string;
  if ('body' in content) {
    staged = join(archive.stagingDir, `${basename(key)}.${process.pid}.${Date.now()}`);
    await writeFile(staged, content.body);
  } else {
    staged = content.fromPath;
  }
  await chmod(staged, 0o644);
  try {
    await rename(staged, target);
  } catch (error) {
    await rm(staged, { force: true });
    throw error;
  }
  return target;
}

/** Lists every object key (file path relative to `bucketDir`) below a folder, sorted. */
export async function listObjectKeys(bucketDir: string): Promise<string[]> {
  const entries = await readdir(bucketDir, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => relative(bucketDir, join(entry.parentPath, entry.name)))
    .sort();
}

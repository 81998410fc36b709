import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { Header, Parser, type ReadEntry } from 'tar';
import { type ArchiveLayout, compressLz4, decompressLz4, storeObject } from './postgres-archive.js';
import type { BaseBackupFacts } from './postgres-backup.js';
import { parsePgLsn } from './postgres-wal.js';

const PAGE = 8192;

/** One member of a stored backup's data tar. */
interface Member {
  readonly path: string;
  readonly type: string;
  readonly mode: number;
  readonly mtime: Date;
  readonly linkpath: string | undefined;
  readonly body: Buffer;
}

/** What {@link buildWalgDeltaBackup} stored. */
export interface DeltaBackupFacts {
  readonly name: string;
  /** Data paths stored as increments, skipped, and stored whole. */
  readonly incremented: readonly string[];
  readonly skipped: readonly string[];
  readonly whole: readonly string[];
}

/**
 * Builds a WAL-G delta backup, in WAL-G's exact layout, from two real base backups already in `archive`:
 * `source` (taken later) becomes `base_<source start>_D_<parent start>`, a delta of `parentName`, whose
 * data is that of `parentContent` and whose start LSN is `parentContent.startLsn`.
 *
 * As `wal-g backup-push` with `WALG_DELTA_MAX_STEPS` does (`bundle.go` `addToBundle`,
 * `incremental_page_reader.go`): a file the parent holds unchanged is skipped (left out of the tar,
 * `IsSkipped`; WAL-G compares modification times, which here are whole seconds, so content is compared
 * instead); a paged file the parent holds becomes a "wi1" increment of the pages whose LSN is at or after
 * the parent's start or that are new, or is stored whole when a page is invalid; any other file is stored
 * whole. Members are named `/` + the path, as WAL-G names them. `pg_control.tar`, `backup_label.tar` and
 * `metadata.json` are the source's; `files_metadata.json` and the sentinel (the source's plus `DeltaLSN`,
 * `DeltaFrom`, `DeltaFullName`, `DeltaCount`) are written last.
 */
export async function buildWalgDeltaBackup(
  archive: ArchiveLayout,
  options: {
    readonly source: BaseBackupFacts;
    readonly parentName: string;
    readonly parentContent: BaseBackupFacts;
    readonly fullName: string;
    readonly count: number;
    readonly scratchDir: string;
  },
): Promise<DeltaBackupFacts> {
  const { source, parentContent } = options;
  const parentMembers = await readDataTar(archive, parentContent.name);
  const members = await readDataTar(archive, source.name);
  const parentStart = parsePgLsn(parentContent.startLsn);
  const name = `${source.name}_D_${options.parentName.slice('base_'.length, 'base_'.length + 24)}`;
  const files: Record<string, { IsIncremented: boolean; IsSkipped: boolean; MTime: string }> = {};
  const blocks: Buffer[] = [];
  const incremented: string[] = [];
  const skipped: string[] = [];
  const whole: string[] = [];
  const tarNames: string[] = [];
  for (const member of members.values()) {
    const walgName = `/${member.path}`;
    if (member.type !== 'File') {
      blocks.push(header(walgName, member, 0));
      continue;
    }
    const before = parentMembers.get(member.path);
    const mtime = member.mtime.toISOString();
    if (before?.type === 'File' && before.body.equals(member.body)) {
      files[walgName] = { IsIncremented: false, IsSkipped: true, MTime: mtime };
      skipped.push(member.path);
      continue;
    }
    const increment =
      before?.type === 'File' && isPagedFile(member) ? makeIncrement(member.body, parentStart) : null;
    const body = increment ?? member.body;
    files[walgName] = { IsIncremented: increment !== null, IsSkipped: false, MTime: mtime };
    (increment ? incremented : whole).push(member.path);
    tarNames.push(walgName);
    blocks.push(header(walgName, member, body.length), body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));

  const folder = `basebackups_005/${name}`;
  const scratch = await mkdtemp(join(options.scratchDir, 'delta-'));
  try {
    const tar = join(scratch, 'part_001.tar');
    await writeFile(tar, Buffer.concat(blocks));
    await compressLz4(tar, `${tar}.lz4`);
    await storeObject(archive, `${folder}/tar_partitions/part_001.tar.lz4`, { fromPath: `${tar}.lz4` });
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  const sourceFolder = join(archive.root, 'basebackups_005', source.name);
  for (const part of ['pg_control.tar.lz4', 'backup_label.tar.lz4'])
    await storeObject(archive, `${folder}/tar_partitions/${part}`, {
      body: await readFile(join(sourceFolder, 'tar_partitions', part)),
    });
  await storeObject(archive, `${folder}/metadata.json`, { body: source.metadataJson });
  await storeObject(archive, `${folder}/files_metadata.json`, {
    body: JSON.stringify({ Files: files, TarFileSets: { 'part_001.tar.lz4': tarNames } }),
  });
  const deltaFields = [
    `"DeltaLSN":${parentStart}`,
    `"DeltaFrom":${JSON.stringify(options.parentName)}`,
    `"DeltaFullName":${JSON.stringify(options.fullName)}`,
    `"DeltaCount":${options.count}`,
  ].join(',');
  // The source sentinel's text keeps SystemIdentifier exact; WAL-G omits FilesMetadataDisabled when false.
  const sentinel = source.sentinelJson
    .replace(/^\{"LSN":(\d+),/, (_, lsn: string) => `{"LSN":${lsn},${deltaFields},`)
    .replace(',"FilesMetadataDisabled":true', '');
  if (!sentinel.includes('"DeltaFrom"')) throw new Error('unexpected source sentinel layout');
  await storeObject(archive, `basebackups_005/${name}_backup_stop_sentinel.json`, { body: sentinel });
  return { name, incremented, skipped, whole };
}

/** Removes a stored backup (its folder and sentinel) from the archive. */
export async function removeBackup(archiveRoot: string, name: string): Promise<void> {
  await rm(join(archiveRoot, 'basebackups_005', name), { recursive: true, force: true });
  await rm(join(archiveRoot, 'basebackups_005', `${name}_backup_stop_sentinel.json`), { force: true });
}

/** The members of a stored backup's `part_001.tar.lz4`, by data path, in tar order. */
export async function readDataTar(archive: ArchiveLayout, backup: string): Promise<Map<string, Member>> {
  const tar = await decompressLz4(
    join(archive.root, 'basebackups_005', backup, 'tar_partitions', 'part_001.tar.lz4'),
  );
  const members = new Map<string, Member>();
  const parser = new Parser({
    onReadEntry: (entry: ReadEntry) => {
      const chunks: Buffer[] = [];
      entry.on('data', (chunk: Buffer) => chunks.push(chunk));
      entry.on('end', () => {
        const path = entry.path.replace(/^(\.\/|\/)+/, '').replace(/\/+$/, '');
        if (path === '' || path === '.') return;
        members.set(path, {
          path,
          type: entry.type,
          mode: entry.mode ?? 0o600,
          mtime: entry.mtime ?? new Date(0),
          linkpath: entry.linkpath,
          body: Buffer.concat(chunks),
        });
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    parser.on('end', () => resolve());
    parser.on('error', reject);
    parser.end(tar);
  });
  return members;
}

function header(name: string, member: Member, size: number): Buffer {
  if (name.length > 99) throw new Error(`tar name too long for a ustar header: ${name}`);
  const block = Buffer.alloc(512);
  new Header({
    path: name,
    type: member.type as 'File',
    mode: member.mode,
    mtime: member.mtime,
    size,
    uid: 0,
    gid: 0,
    ...(member.linkpath ? { linkpath: member.linkpath } : {}),
  }).encode(block);
  return block;
}

/** WAL-G's `isPagedFile` on a data path: a relation file under `base`/`pg_tblspc`, whole pages. */
function isPagedFile(member: Member): boolean {
  return (
    !/pg_xact|pg_clog|pg_multixact/.test(member.path) &&
    /(^|\/)(base|pg_tblspc)\//.test(member.path) &&
    member.body.length > 0 &&
    member.body.length % PAGE === 0 &&
    /^\d+(\.\d+)?$/.test(basename(member.path))
  );
}

/**
 * A "wi1" increment of the pages whose LSN is at or after `fromLsn` or that are new (`SelectNewValidPage`),
 * or `null` when a page is invalid (WAL-G then stores the file whole).
 */
function makeIncrement(file: Buffer, fromLsn: bigint): Buffer | null {
  const chosen: number[] = [];
  for (let block = 0; block * PAGE < file.length; block++) {
    const page = file.subarray(block * PAGE, (block + 1) * PAGE);
    const lsn = (BigInt(page.readUInt32LE(0)) << 32n) + BigInt(page.readUInt32LE(4));
    const flags = page.readUInt16LE(10);
    const lower = page.readUInt16LE(12);
    const upper = page.readUInt16LE(14);
    const special = page.readUInt16LE(16);
    const version = page.readUInt16LE(18);
    const valid =
      (flags & 7) === flags &&
      lower >= 24 &&
      lower <= upper &&
      upper <= special &&
      special <= PAGE &&
      lsn !== 0n &&
      (version & 0xff00) === PAGE &&
      (version & 0xff) <= 5;
    const isNew = upper === 0;
    if (!valid && !isNew) return null;
    if (isNew || lsn >= fromLsn) chosen.push(block);
  }
  const head = Buffer.alloc(16 + 4 * chosen.length);
  head.set([0x77, 0x69, 0x31, 0x55], 0);
  head.writeBigUInt64LE(BigInt(file.length), 4);
  head.writeUInt32LE(chosen.length, 12);
  chosen.forEach((block, i) => {
    head.writeUInt32LE(block, 16 + 4 * i);
  });
  return Buffer.concat([head, ...chosen.map((block) => file.subarray(block * PAGE, (block + 1) * PAGE))]);
}

/**
 * WAL-G's increment files ("wi1"): what a delta backup's tar holds in place of a data file whose pages
 * changed since the backup it is a delta of.
 *
 * Layout, little-endian (WAL-G `internal/databases/postgres/pagefile.go`, header comment and
 * `ReadIncrementFileHeader`; written by `IncrementalPageReader.initialize` / `WriteDiffMapToHeader` in
 * `incremental_page_reader.go`, integers through `utility.ToBytes`, i.e. `binary.LittleEndian`):
 *
 * | bytes | field |
 * |---|---|
 * | 4 | `'w' 'i' '1' 0x55` — "wal-g increment", format version `'1'`, `SignatureMagicNumber` |
 * | 8 | uint64 size of the file when the delta was taken |
 * | 4 | uint32 number N of pages held |
 * | 4·N | uint32 block number of each page, ascending |
 * | N·8192 | the pages, in the order of the block numbers (`DatabasePageSize`, `BLCKSZ`) |
 *
 * Applying one (`ApplyFileIncrement`): the file of the older backup is truncated (or extended) to the size,
 * then each page is written at `block × 8192`; bytes after the last page are an error
 * (`UnexpectedTarDataError`). A header whose bytes 0, 1 or 3 differ is `Invalid increment file header`, a
 * version other than `'1'` is `Unknown increment file header`.
 *
 * WAL-G takes the changed pages of a file as those whose page LSN is at or after the parent's start LSN
 * (`SelectNewValidPage`: `lsn >= pageReader.Lsn`) plus new (all-zero, `pd_upper == 0`) pages, or the
 * blocks of the WAL-derived delta map that fit in the file (`DeltaBitmapInitialize`); either way every
 * block number lies below size / 8192 and they ascend. This parser holds a file to that: a block at or
 * past the end, a block out of order, a size that is no whole number of pages or a body of another length
 * is corrupt, so that a damaged increment never yields a silently wrong file.
 */

/** PostgreSQL's page size (`BLCKSZ`) as WAL-G assumes it unless `WALG_PG_BLOCK_SIZE` says otherwise. */
export const PAGE_SIZE = 8192;

/** Header magic: `w`, `i`, version `1`, `SignatureMagicNumber` 0x55. */
const MAGIC = [0x77, 0x69, 0x31, 0x55] as const;
const FIXED_HEADER = 16;

/** A parsed increment: the file's size and its changed pages, as views into the increment's bytes. */
export interface Increment {
  /** Size of the file when the delta was taken, in bytes: the file is truncated or extended to it. */
  readonly fileSize: number;
  /** Block numbers of the pages held, ascending. */
  readonly blocks: readonly number[];
  /** Page `i` (8192 bytes) belongs at `blocks[i] × 8192`. */
  page(index: number): Uint8Array;
}

/**
 * Parses a WAL-G increment file. Returns what is wrong in words when it is not one WAL-G could have
 * written.
 *
 * @example
 * const parsed = parseIncrement(bytes);
 * if (parsed.ok) parsed.value.blocks // [0, 7]
 */
export function parseIncrement(
  bytes: Uint8Array,
): { readonly ok: true; readonly value: Increment } | { readonly ok: false; readonly error: string } {
  if (bytes.length < FIXED_HEADER)
    return { ok: false, error: `${bytes.length} bytes, shorter than the 16-byte header` };
  if (bytes[0] !== MAGIC[0] || bytes[1] !== MAGIC[1] || bytes[3] !== MAGIC[3])
    return { ok: false, error: `invalid increment file header (${hexOf(bytes.subarray(0, 4))})` };
  if (bytes[2] !== MAGIC[2])
    return {
      ok: false,
      error: `unknown increment format version ${JSON.stringify(String.fromCharCode(bytes[2] ?? 0))}`,
    };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const size = view.getBigUint64(4, true);
  const count = view.getUint32(12, true);
  if (size % BigInt(PAGE_SIZE) !== 0n)
    return { ok: false, error: `file size ${size} is not a whole number of ${PAGE_SIZE}-byte pages` };
  if (size > BigInt(Number.MAX_SAFE_INTEGER)) return { ok: false, error: `file size ${size} is impossible` };
  const fileSize = Number(size);
  const pagesInFile = fileSize / PAGE_SIZE;
  if (count > pagesInFile) return { ok: false, error: `${count} pages for a file of ${pagesInFile} pages` };
  const expected = FIXED_HEADER + count * 4 + count * PAGE_SIZE;
  if (bytes.length !== expected)
    return {
      ok: false,
      error: `${bytes.length} bytes where a header of ${count} pages makes ${expected}`,
    };
  const blocks: number[] = [];
  for (let i = 0; i < count; i++) {
    const block = view.getUint32(FIXED_HEADER + i * 4, true);
    if (block >= pagesInFile)
      return { ok: false, error: `block ${block} lies past the end of a file of ${pagesInFile} pages` };
    const previous = blocks.at(-1);
    if (previous !== undefined && block <= previous)
      return { ok: false, error: `block ${block} follows block ${previous}: block numbers must ascend` };
    blocks.push(block);
  }
  const pagesAt = FIXED_HEADER + count * 4;
  return {
    ok: true,
    value: {
      fileSize,
      blocks,
      page: (index) => bytes.subarray(pagesAt + index * PAGE_SIZE, pagesAt + (index + 1) * PAGE_SIZE),
    },
  };
}

function hexOf(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(' ');
}

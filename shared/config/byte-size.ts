/**
 * Byte sizes as people type them, for the CLI options and the functions' settings alike.
 */

const SIZE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1024,
  kb: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1024 ** 3,
  gib: 1024 ** 3,
};

/**
 * Reads a byte size: `16777216`, `16MiB`, `16MB`, `16M` (binary units, as PostgreSQL's `--wal-segsize`);
 * `undefined` when the text is none.
 *
 * @example readByteSize('64MiB') // 67108864
 */
export function readByteSize(text: string): number | undefined {
  const match = /^(\d+)\s*([a-zA-Z]*)$/.exec(text.trim());
  const unit = match ? SIZE_UNITS[(match[2] as string).toLowerCase()] : undefined;
  return match && unit !== undefined ? Number(match[1]) * unit : undefined;
}

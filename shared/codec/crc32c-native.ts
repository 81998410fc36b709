/**
 * CRC-32C in native code (`@node-rs/crc32`, prebuilt for Linux, macOS and Windows on x86-64 and arm64), for
 * the WAL reader's long pieces (block images): about 4.5 GB/s on x86-64 here, against about 1.2 GB/s for
 * the core's lookup tables.
 *
 * The module is loaded with `createRequire`, which bundlers leave alone: the Lambda bundles do not contain
 * it (its binary is per platform), so there, and wherever the package or its binary for the platform is
 * missing, {@link loadNativeCrc32c} returns the reason instead and the reader keeps its tables. Results are
 * the same either way; only the speed differs.
 */
import { createRequire } from 'node:module';
import type { Crc32cFunction } from '../core/wal/crc32c.js';

/** The package that provides the native CRC-32C. */
export const NATIVE_CRC32C_PACKAGE = '@node-rs/crc32';

/** What {@link loadNativeCrc32c} found: the function, or why there is none. */
export type NativeCrc32c =
  | { readonly crc32c: Crc32cFunction; readonly description: string }
  | { readonly crc32c: undefined; readonly description: string };

/** The CRC-32C catalogue check: the checksum of the ASCII bytes "123456789". */
const CHECK_INPUT = new TextEncoder().encode('123456789');
const CHECK_VALUE = 0xe3069283;

let loaded: NativeCrc32c | undefined;

/**
 * Loads the native CRC-32C once and checks it against the catalogue value, both from scratch and continued
 * from a previous value (the form the WAL reader uses).
 *
 * @example
 * const { crc32c, description } = loadNativeCrc32c();
 * const reader = new WalReader({ crc32c }); // undefined: the core's tables
 * console.log(`CRC-32C: ${description}`);
 */
export function loadNativeCrc32c(): NativeCrc32c {
  loaded ??= load();
  return loaded;
}

function load(): NativeCrc32c {
  let crc32c: Crc32cFunction;
  try {
    const module = createRequire(import.meta.url)(NATIVE_CRC32C_PACKAGE) as { crc32c?: unknown };
    if (typeof module.crc32c !== 'function') {
      return { crc32c: undefined, description: `tables (${NATIVE_CRC32C_PACKAGE} has no crc32c)` };
    }
    crc32c = module.crc32c as Crc32cFunction;
  } catch (error) {
    // Not installed, or no binary for this platform: an accelerator is missing, nothing is wrong.
    const reason = (error as Error).message.split('\n')[0];
    return { crc32c: undefined, description: `tables (${NATIVE_CRC32C_PACKAGE} unavailable: ${reason})` };
  }
  const whole = crc32c(CHECK_INPUT, 0);
  const continued = crc32c(CHECK_INPUT.subarray(4), crc32c(CHECK_INPUT.subarray(0, 4), 0));
  if (whole !== CHECK_VALUE || continued !== CHECK_VALUE) {
    return { crc32c: undefined, description: `tables (${NATIVE_CRC32C_PACKAGE} fails the check value)` };
  }
  return { crc32c, description: `native (${NATIVE_CRC32C_PACKAGE})` };
}

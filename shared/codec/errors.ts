/**
 * Why an archived body could not be turned back into its original bytes.
 *
 * Three different situations for an operator, so three classes: the body is in a form walwatch cannot read
 * (WAL-E's lzop, an encrypted object, an unknown method), the body is damaged (truncated upload, flipped
 * bytes, bad checksum), or it expands past the caller's limit (a decompression bomb or a wrong method).
 */

/** The body is not in a form walwatch can read: lzop, encrypted (libsodium/OpenPGP) or an unknown method. */
export class ContentUnreadableError extends Error {
  override readonly name = 'ContentUnreadableError';
  /** Machine-readable reason. */
  readonly reason: 'unsupported-method' | 'unrecognised-format';

  constructor(message: string, reason: ContentUnreadableError['reason'], options?: { cause?: unknown }) {
    super(message, options);
    this.reason = reason;
  }
}

/** The body starts like the expected format but is damaged: truncated, bad frame or failed checksum. */
export class CorruptContentError extends Error {
  override readonly name = 'CorruptContentError';
}

/** The body expands past the allowed number of bytes. */
export class ContentTooLargeError extends Error {
  override readonly name = 'ContentTooLargeError';
  /** The limit that was exceeded, in bytes. */
  readonly maxBytes: number;

  constructor(maxBytes: number, options?: { cause?: unknown }) {
    super(`decompressed content exceeds the limit of ${maxBytes} bytes`, options);
    this.maxBytes = maxBytes;
  }
}

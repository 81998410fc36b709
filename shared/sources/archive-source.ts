/**
 * Where an archive's objects come from: an S3 bucket or a folder used as one. Each source lists objects
 * and reads single object bodies; everything else is the same for both.
 */
import type { ListedObject } from '../core/state.js';

/** Options of a single object read. */
export interface ReadOptions {
  /** Aborts the read: it rejects with the signal's reason. */
  readonly signal?: AbortSignal;
}

/** A bucket-like store of archive objects. */
export interface ArchiveSource {
  /** Human description for messages, e.g. `s3://bucket/prefix` or a folder path. */
  readonly description: string;
  /** Lists every object below the source's prefix, in any order. */
  list(): AsyncIterable<ListedObject>;
  /** Reads one object body by its full key; `signal` aborts the read. */
  read(key: string, options?: ReadOptions): Promise<Uint8Array>;
  /** Reads the first `length` bytes of an object (fewer when it is shorter): a ranged GET, a partial read. */
  readHead?(key: string, length: number): Promise<Uint8Array>;
}

/** What reading segment bodies needs of a source: single object reads, no listing. */
export type ObjectReader = Pick<ArchiveSource, 'read' | 'readHead'>;

/** A source that could not be reached or read (missing bucket, no permission, missing folder). */
export class SourceAccessError extends Error {
  override readonly name = 'SourceAccessError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/**
 * Whether a read failed because the object is not there: S3's 404, the 403 it answers for a missing key to
 * a caller without `s3:ListBucket`, or a missing file. Any other failure (throttling, a 5xx, the network)
 * passes: the same read may work later.
 */
export function isObjectAbsent(error: unknown): boolean {
  const cause = ((error as { cause?: unknown }).cause ?? error) as {
    name?: string;
    code?: string;
    $metadata?: { httpStatusCode?: number };
  };
  const status = cause.$metadata?.httpStatusCode;
  return (
    cause.name === 'NoSuchKey' ||
    cause.name === 'NotFound' ||
    cause.name === 'AccessDenied' ||
    status === 404 ||
    status === 403 ||
    cause.code === 'ENOENT' ||
    cause.code === 'ENOTDIR'
  );
}

/**
 * S3 event notifications as they arrive in SQS message bodies: parsed into the core's `ObjectEvent`s.
 *
 * A body is either an S3 notification (`{"Records":[…]}`), the `s3:TestEvent` S3 sends once when a
 * notification configuration is created, or the same two wrapped in an SNS envelope (S3 → SNS → SQS
 * without raw delivery). MinIO's notifications have the same shape with `eventSource: "minio:s3"`, event
 * names with an `s3:` prefix (`s3:ObjectCreated:Put`) and `EventName`/`Key` beside `Records`. Anything else
 * is invalid input, returned as a value with a reason. Keys arrive URL-encoded with `+` for a space.
 */
import type { ObjectEvent } from '../core/facts.js';
import { parseTime } from '../core/time.js';

/** An object event with the bucket it happened in. */
export interface BucketObjectEvent extends ObjectEvent {
  readonly bucket: string;
  /** S3's event name, e.g. `ObjectCreated:Put`. */
  readonly eventName: string;
}

/** What one SQS message body holds. */
export type NotificationParse =
  | {
      readonly kind: 'events';
      readonly events: readonly BucketObjectEvent[];
      /** Records of other event types (restore, replication, tagging…): nothing an archive changes by. */
      readonly ignored: number;
      /** The event names of those records, in order. */
      readonly ignoredNames: readonly string[];
    }
  | { readonly kind: 'test-event' }
  | { readonly kind: 'invalid'; readonly reason: string };

/** The largest body walwatch parses; S3 notifications are a few KB, SQS allows 256 KB. */
const MAX_BODY_CHARS = 262_144;

/**
 * Parses one SQS message body.
 *
 * @example
 * parseNotification('{"Service":"Amazon S3","Event":"s3:TestEvent"}') // { kind: 'test-event' }
 */
export function parseNotification(body: string): NotificationParse {
  if (body.length > MAX_BODY_CHARS) return invalid(`body of ${body.length} characters is too long`);
  let document: unknown;
  try {
    document = JSON.parse(body);
  } catch (error) {
    return invalid(`body is not JSON: ${(error as Error).message}`);
  }
  return parseDocument(document, 0);
}

function parseDocument(document: unknown, depth: number): NotificationParse {
  if (!isObject(document)) return invalid('body is not a JSON object');
  if (document.Event === 's3:TestEvent') return { kind: 'test-event' };
  if (document.Type === 'Notification' && typeof document.Message === 'string' && depth === 0) {
    try {
      return parseDocument(JSON.parse(document.Message), depth + 1);
    } catch (error) {
      return invalid(`SNS message is not JSON: ${(error as Error).message}`);
    }
  }
  if (!Array.isArray(document.Records)) return invalid('no Records array: not an S3 event notification');
  const events: BucketObjectEvent[] = [];
  const ignoredNames: string[] = [];
  for (const [index, record] of document.Records.entries()) {
    const parsed = parseRecord(record);
    if (typeof parsed === 'string') return invalid(`record ${index}: ${parsed}`);
    if (parsed === null) ignoredNames.push(String((record as Record<string, unknown>).eventName));
    else events.push(parsed);
  }
  return { kind: 'events', events, ignored: ignoredNames.length, ignoredNames };
}

/** A record as an event, `null` for an event type that does not change the archive, or why it is invalid. */
function parseRecord(record: unknown): BucketObjectEvent | null | string {
  if (!isObject(record)) return 'not an object';
  if (record.eventSource !== 'aws:s3' && record.eventSource !== 'minio:s3')
    return `eventSource ${JSON.stringify(record.eventSource)} is not aws:s3 or minio:s3`;
  const eventName = record.eventName;
  if (typeof eventName !== 'string') return 'no eventName';
  const type = eventType(eventName);
  if (type === null) return null;
  const at = typeof record.eventTime === 'string' ? parseEventTime(record.eventTime) : Number.NaN;
  if (!Number.isFinite(at)) return `eventTime ${JSON.stringify(record.eventTime)} is not a time`;
  const s3 = record.s3;
  if (!isObject(s3) || !isObject(s3.bucket) || !isObject(s3.object)) return 'no s3.bucket or s3.object';
  const bucket = s3.bucket.name;
  const object = s3.object;
  if (typeof bucket !== 'string' || bucket === '') return 'no bucket name';
  if (typeof object.key !== 'string' || object.key === '') return 'no object key';
  const key = decodeKey(object.key);
  if (key === undefined)
    return `object key ${JSON.stringify(object.key.slice(0, 200))} is not URL-encoded UTF-8`;
  return {
    bucket,
    eventName,
    key,
    type,
    at,
    size: typeof object.size === 'number' && Number.isSafeInteger(object.size) ? object.size : null,
    etag: typeof object.eTag === 'string' && object.eTag !== '' ? object.eTag : null,
    sequencer:
      typeof object.sequencer === 'string' && /^[0-9A-Fa-f]+$/.test(object.sequencer)
        ? object.sequencer
        : null,
  };
}

/**
 * MinIO's `ObjectCreated` names that change an object's metadata only (its bytes and time stay): a
 * tagging or retention change is no new archive object.
 */
const METADATA_ONLY = new Set([
  'ObjectCreated:PutTagging',
  'ObjectCreated:DeleteTagging',
  'ObjectCreated:PutRetention',
  'ObjectCreated:PutLegalHold',
]);

/**
 * Whether an S3 event name stores or removes the current object; `null` for any other event. MinIO writes
 * the same names with an `s3:` prefix.
 */
function eventType(eventName: string): ObjectEvent['type'] | null {
  const name = eventName.startsWith('s3:') ? eventName.slice(3) : eventName;
  if (METADATA_ONLY.has(name)) return null;
  if (name.startsWith('ObjectCreated:')) return 'created';
  if (name.startsWith('ObjectRemoved:') || name === 'LifecycleExpiration:Delete') return 'removed';
  return null;
}

/** S3 writes UTC times with `Z`; some stand-ins omit the zone: read those as UTC too, never as local time. */
function parseEventTime(text: string): number {
  return parseTime(/(?:Z|[+-]\d\d:?\d\d)$/.test(text) ? text : `${text}Z`);
}

/**
 * Decodes an event key: URL-encoded, with `+` for a space.
 *
 * @example
 * decodeKey('spilo/my+scope/wal/15/wal_005/%C3%A9') // 'spilo/my scope/wal/15/wal_005/é'
 */
export function decodeKey(encoded: string): string | undefined {
  try {
    return decodeURIComponent(encoded.replace(/\+/g, ' '));
  } catch {
    // A malformed escape is reported by the caller as an invalid record.
    return undefined;
  }
}

function invalid(reason: string): NotificationParse {
  return { kind: 'invalid', reason };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

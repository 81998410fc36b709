/**
 * `POST /webhook/s3`: S3-format bucket notifications (as MinIO sends them) folded like the queue's.
 *
 * The answer tells a sender whether to send again. 200 only when every record was folded or is of a type
 * that changes no archive object (listed as `ignored`). When a record was not folded the answer says which
 * and why (`dropped`): 503 when a retry can succeed (the store failed; folding again is idempotent), 422
 * when it cannot (a record of another bucket), 400 when the body is no notification at all or names a key
 * longer than S3 allows (nothing of it is stored). MinIO keeps an
 * event queued and sends it again on any answer outside 2xx when its target has a `queue_dir`.
 */

import { keyByteLength, MAX_S3_KEY_BYTES } from '../core/keys.js';
import type { BucketObjectEvent } from '../events/s3-notification.js';
import { parseNotification } from '../events/s3-notification.js';

/** A record that was not folded, and why. */
export interface DroppedRecord {
  readonly key: string;
  readonly eventName: string;
  readonly reason: string;
  /** Whether sending it again can succeed. */
  readonly retry: boolean;
}

/** The webhook's answer. */
export interface WebhookAnswer {
  readonly status: 200 | 400 | 422 | 503;
  readonly body: Record<string, unknown>;
}

/**
 * Parses a notification body, folds the records of `bucket` and answers as the module comment says.
 *
 * @param fold folds events and returns the failures by the event's index in what it was given.
 */
export async function answerNotification(
  text: string,
  bucket: string,
  fold: (events: BucketObjectEvent[]) => Promise<ReadonlyMap<string, Error>>,
): Promise<WebhookAnswer> {
  const parsed = parseNotification(text);
  if (parsed.kind === 'invalid')
    return { status: 400, body: { error: { code: 'bad-request', message: parsed.reason } } };
  if (parsed.kind === 'test-event') return { status: 200, body: { ok: true, folded: 0, ignored: [] } };
  // No S3 object has a longer key: such an event is forged or broken, and nothing of it is stored.
  const overlong = parsed.events.find((event) => keyByteLength(event.key) > MAX_S3_KEY_BYTES);
  if (overlong)
    return {
      status: 400,
      body: {
        error: {
          code: 'bad-request',
          message: `a key of ${keyByteLength(overlong.key)} bytes: S3 keys have at most ${MAX_S3_KEY_BYTES}`,
        },
      },
    };
  const ignored = parsed.ignoredNames.map((eventName) => ({
    eventName,
    reason: 'changes no archive object',
  }));
  const dropped: DroppedRecord[] = [];
  const mine: BucketObjectEvent[] = [];
  for (const event of parsed.events) {
    if (event.bucket === bucket) mine.push(event);
    else
      dropped.push({
        key: event.key,
        eventName: event.eventName,
        reason: `bucket ${JSON.stringify(event.bucket)} is not the watched bucket ${JSON.stringify(bucket)}`,
        retry: false,
      });
  }
  const failures = mine.length > 0 ? await fold(mine) : new Map<string, Error>();
  for (const [index, error] of failures) {
    const event = mine[Number(index)];
    dropped.push({
      key: event?.key ?? '',
      eventName: event?.eventName ?? '',
      reason: error.message,
      retry: true,
    });
  }
  const folded = mine.length - failures.size;
  if (dropped.length === 0) return { status: 200, body: { ok: true, folded, ignored } };
  const total = parsed.events.length;
  return {
    status: dropped.some((record) => record.retry) ? 503 : 422,
    body: {
      error: {
        code: 'events-dropped',
        message: `${dropped.length} of ${total} object events were not folded: ${dropped[0]?.reason}`,
      },
      folded,
      ignored,
      dropped,
    },
  };
}

/**
 * SQS message bodies exactly as S3 writes them for object events: one record per body, the key
 * URL-encoded with `+` for a space, the ETag unquoted.
 */
import type { ObjectEvent } from '../../shared/core/facts.js';

/** Encodes a key as S3 does in event notifications. */
export function encodeEventKey(key: string): string {
  return encodeURIComponent(key).replace(/%20/g, '+').replace(/%2F/g, '/');
}

/** The SQS body S3 sends for one event in `bucket`. */
export function notificationBody(bucket: string, event: ObjectEvent): string {
  const created = event.type === 'created';
  return JSON.stringify({
    Records: [
      {
        eventVersion: '2.1',
        eventSource: 'aws:s3',
        awsRegion: 'eu-central-1',
        eventTime: new Date(event.at).toISOString(),
        eventName: created ? 'ObjectCreated:Put' : 'ObjectRemoved:Delete',
        s3: {
          s3SchemaVersion: '1.0',
          bucket: { name: bucket, arn: `arn:aws:s3:::${bucket}` },
          object: {
            key: encodeEventKey(event.key),
            ...(created ? { size: event.size ?? 0, eTag: (event.etag ?? '').replace(/"/g, '') } : {}),
            ...(event.sequencer ? { sequencer: event.sequencer } : {}),
          },
        },
      },
    ],
  });
}

/**
 * From a batch of SQS messages to store updates: parse every body, fold the valid events of the whole
 * batch at once (one state write per cluster), and say which messages failed.
 *
 * A message fails when its body is not an S3 notification of the watched bucket (it is kept: after the
 * queue's receive limit it lands in the dead-letter queue, where an operator can look at it) or when
 * folding one of its events failed (it is retried; folding is idempotent). The `s3:TestEvent`, event types
 * that do not change objects and keys outside any archive succeed without touching the store.
 */
import { parseObjectKey } from '../core/keys.js';
import {
  type FoldCounts,
  type FoldDependencies,
  type FoldInput,
  type FoldNote,
  foldEvents,
} from '../store/fold-events.js';
import { isStorableClusterId } from '../store/table.js';
import { parseNotification } from './s3-notification.js';

/** One SQS message as the handler receives it. */
export interface QueueMessage {
  readonly messageId: string;
  readonly body: string;
  /** SQS attributes; `ApproximateReceiveCount` above 1 marks a redelivery. */
  readonly attributes?: { readonly ApproximateReceiveCount?: string };
}

/** Counters of one batch: the fold's plus what parsing found. */
export interface IngestCounts extends FoldCounts {
  messages: number;
  events: number;
  testEvents: number;
  invalidMessages: number;
  /** Records of event types that do not store or remove objects. */
  ignoredRecords: number;
  failedMessages: number;
}

/** Why a message failed, for the log. */
export interface MessageFailure {
  readonly messageId: string;
  readonly kind: 'invalid-message' | 'fold-failed';
  readonly reason: string;
  readonly error?: Error;
}

/** The outcome of a batch. */
export interface IngestReport {
  readonly failures: readonly MessageFailure[];
  readonly counts: IngestCounts;
  /** Facts worth a log line: keys outside any archive, unreadable documents. */
  readonly notes: readonly FoldNote[];
  /** The clusters whose events were all folded, in first-seen order: their chain ends may have moved. */
  readonly clusters: readonly string[];
}

/**
 * Ingests a batch of messages.
 *
 * @param bucket - the watched bucket: notifications of any other bucket are invalid
 * @example
 * const report = await ingestMessages(deps, 'archive', event.Records);
 * report.failures.map((failure) => failure.messageId) // messages to leave on the queue
 */
export async function ingestMessages(
  deps: FoldDependencies,
  bucket: string,
  messages: readonly QueueMessage[],
): Promise<IngestReport> {
  const failures: MessageFailure[] = [];
  const inputs: FoldInput[] = [];
  let testEvents = 0;
  let ignoredRecords = 0;
  for (const message of messages) {
    const parsed = parseNotification(message.body);
    if (parsed.kind === 'test-event') {
      testEvents += 1;
      continue;
    }
    if (parsed.kind === 'invalid') {
      failures.push({ messageId: message.messageId, kind: 'invalid-message', reason: parsed.reason });
      continue;
    }
    const foreign = parsed.events.find((event) => event.bucket !== bucket);
    if (foreign) {
      const reason = `event of bucket ${JSON.stringify(foreign.bucket)}, watching ${JSON.stringify(bucket)}`;
      failures.push({ messageId: message.messageId, kind: 'invalid-message', reason });
      continue;
    }
    ignoredRecords += parsed.ignored;
    const redelivered = Number(message.attributes?.ApproximateReceiveCount ?? '1') > 1;
    for (const event of parsed.events) inputs.push({ id: message.messageId, event, redelivered });
  }

  const folded = await foldEvents(deps, inputs);
  for (const [messageId, error] of folded.failures) {
    failures.push({ messageId, kind: 'fold-failed', reason: error.message, error });
  }
  const invalidMessages = failures.filter((failure) => failure.kind === 'invalid-message').length;
  const clusters = new Set<string>();
  for (const input of inputs) {
    const clusterId = parseObjectKey(input.event.key)?.clusterId;
    if (clusterId !== undefined && isStorableClusterId(clusterId) && !folded.failures.has(input.id))
      clusters.add(clusterId);
  }
  return {
    failures,
    notes: folded.notes,
    clusters: [...clusters],
    counts: {
      ...folded.counts,
      messages: messages.length,
      events: inputs.length,
      testEvents,
      invalidMessages,
      ignoredRecords,
      failedMessages: new Set(failures.map((failure) => failure.messageId)).size,
    },
  };
}

/**
 * A queue that delivers like Lambda's SQS event source: batches of up to `batchSize` messages handed to
 * `workers` concurrent invocations, partial batch responses honoured, failed messages delivered again
 * later (after other messages, as a visibility timeout would), and moved to a dead-letter list after
 * `maxReceiveCount` receives.
 */
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';

/** How to deliver. */
export interface DeliveryOptions {
  readonly workers: number;
  readonly batchSize: number;
  readonly maxReceiveCount: number;
  /** The function under test, called as Lambda would call the handler. */
  readonly invoke: (event: SQSEvent) => Promise<SQSBatchResponse | undefined>;
}

/** What happened during delivery. */
export interface DeliveryReport {
  readonly invocations: number;
  /** Deliveries beyond each message's first. */
  readonly redeliveries: number;
  /** Messages that exhausted their receives, with their bodies. */
  readonly deadLetters: readonly { readonly messageId: string; readonly body: string }[];
  /** Invocations that threw (every message of the batch is then delivered again). */
  readonly thrownInvocations: number;
}

interface Pending {
  readonly messageId: string;
  readonly body: string;
  receiveCount: number;
}

/** Delivers every body until each message succeeded or is dead-lettered. */
export async function deliverMessages(
  bodies: readonly string[],
  options: DeliveryOptions,
): Promise<DeliveryReport> {
  const queue: Pending[] = bodies.map((body, index) => ({ messageId: `m-${index}`, body, receiveCount: 0 }));
  const deadLetters: Array<{ messageId: string; body: string }> = [];
  let invocations = 0;
  let redeliveries = 0;
  let thrownInvocations = 0;
  let inFlight = 0;

  const worker = async (): Promise<void> => {
    for (;;) {
      const batch = queue.splice(0, options.batchSize);
      if (batch.length === 0) {
        if (inFlight === 0) return;
        await new Promise((resolve) => setTimeout(resolve, 2));
        continue;
      }
      inFlight += 1;
      for (const message of batch) {
        if (message.receiveCount > 0) redeliveries += 1;
        message.receiveCount += 1;
      }
      invocations += 1;
      let failed: Set<string>;
      try {
        const response = await options.invoke({ Records: batch.map(toRecord) });
        failed = new Set((response?.batchItemFailures ?? []).map((failure) => failure.itemIdentifier));
      } catch {
        // Lambda treats a thrown invocation as the whole batch failing.
        thrownInvocations += 1;
        failed = new Set(batch.map((message) => message.messageId));
      }
      for (const message of batch) {
        if (!failed.has(message.messageId)) continue;
        if (message.receiveCount >= options.maxReceiveCount) deadLetters.push(message);
        else queue.push(message);
      }
      inFlight -= 1;
    }
  };
  await Promise.all(Array.from({ length: options.workers }, worker));
  return { invocations, redeliveries, deadLetters, thrownInvocations };
}

function toRecord(message: Pending): SQSRecord {
  return {
    messageId: message.messageId,
    receiptHandle: `rh-${message.messageId}-${message.receiveCount}`,
    body: message.body,
    attributes: {
      ApproximateReceiveCount: String(message.receiveCount),
      SentTimestamp: '0',
      SenderId: 'walwatch-test',
      ApproximateFirstReceiveTimestamp: '0',
    },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:eu-central-1:000000000000:walwatch-events',
    awsRegion: 'eu-central-1',
  };
}

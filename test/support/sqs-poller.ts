/**
 * A test-side stand-in for Lambda's SQS event source against a real queue: receives batches, invokes the
 * handler with the same event shape, deletes the messages it did not report as failed, and leaves the
 * failed ones to reappear after the visibility timeout (and to be moved to the DLQ by the queue's
 * redrive policy).
 */
import { DeleteMessageBatchCommand, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';

/** A handler as Lambda calls it. */
export type SqsHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse | undefined>;

/** Counters of a polling run. */
export interface PollReport {
  invocations: number;
  received: number;
  failedItems: number;
}

/**
 * Polls until `done()` holds (checked whenever the queue looked empty) or `timeoutMs` passes.
 * Returns what happened; throws when the time ran out.
 */
export async function pollQueue(
  sqs: SQSClient,
  queueUrl: string,
  handler: SqsHandler,
  options: { batchSize?: number; timeoutMs: number; done: () => Promise<boolean> },
): Promise<PollReport> {
  const report: PollReport = { invocations: 0, received: 0, failedItems: 0 };
  const deadline = Date.now() + options.timeoutMs;
  while (Date.now() < deadline) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: options.batchSize ?? 10,
        WaitTimeSeconds: 0,
        MessageSystemAttributeNames: ['All'],
      }),
    );
    if (Messages.length === 0) {
      if (await options.done()) return report;
      await new Promise((resolve) => setTimeout(resolve, 200));
      continue;
    }
    report.received += Messages.length;
    report.invocations += 1;
    const event: SQSEvent = {
      Records: Messages.map((message) => ({
        messageId: message.MessageId as string,
        receiptHandle: message.ReceiptHandle as string,
        body: message.Body ?? '',
        attributes: {
          ApproximateReceiveCount: message.Attributes?.ApproximateReceiveCount ?? '1',
          SentTimestamp: message.Attributes?.SentTimestamp ?? '0',
          SenderId: message.Attributes?.SenderId ?? '',
          ApproximateFirstReceiveTimestamp: message.Attributes?.ApproximateFirstReceiveTimestamp ?? '0',
        },
        messageAttributes: {},
        md5OfBody: message.MD5OfBody ?? '',
        eventSource: 'aws:sqs',
        eventSourceARN: 'arn:aws:sqs:eu-central-1:123456789012:walwatch-events',
        awsRegion: 'eu-central-1',
      })),
    };
    let failed: Set<string>;
    try {
      const response = await handler(event, lambdaContext());
      failed = new Set((response?.batchItemFailures ?? []).map((item) => item.itemIdentifier));
    } catch {
      failed = new Set(Messages.map((message) => message.MessageId as string));
    }
    report.failedItems += failed.size;
    const succeeded = Messages.filter((message) => !failed.has(message.MessageId as string));
    if (succeeded.length > 0) {
      await sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: succeeded.map((message, index) => ({
            Id: String(index),
            ReceiptHandle: message.ReceiptHandle as string,
          })),
        }),
      );
    }
  }
  throw new Error(`queue ${queueUrl} was not drained in ${options.timeoutMs} ms: ${JSON.stringify(report)}`);
}

function lambdaContext(): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: 'walwatch-ingest',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:eu-central-1:123456789012:function:walwatch-ingest',
    memoryLimitInMB: '512',
    awsRequestId: `request-${Date.now()}`,
    logGroupName: '/aws/lambda/walwatch-ingest',
    logStreamName: 'test',
    getRemainingTimeInMillis: () => 30_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

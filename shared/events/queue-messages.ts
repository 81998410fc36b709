/**
 * Sending many messages to one SQS queue in batches of ten (the API's maximum), for the sweeper's and
 * reconcile's fan-out. SDK errors are translated here.
 */
import { SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';

/** SQS refused messages, or could not be reached; nothing already sent is undone. */
export class QueueSendError extends Error {
  override readonly name = 'QueueSendError';
}

/** SendMessageBatch calls per message: one per ten. */
export const MESSAGES_PER_BATCH = 10;

/**
 * Sends every body; entries SQS fails are sent again once, then throw.
 *
 * @returns the number of SendMessageBatch requests made
 * @throws {QueueSendError} naming the queue and the first failure
 */
export async function sendMessages(
  sqs: SQSClient,
  queueUrl: string,
  bodies: readonly string[],
): Promise<number> {
  let requests = 0;
  for (let start = 0; start < bodies.length; start += MESSAGES_PER_BATCH) {
    let entries = bodies
      .slice(start, start + MESSAGES_PER_BATCH)
      .map((body, index) => ({ Id: String(start + index), MessageBody: body }));
    for (let attempt = 0; entries.length > 0; attempt++) {
      let failed: Array<{ Id?: string; Message?: string; Code?: string }>;
      try {
        requests += 1;
        failed =
          (await sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }))).Failed ??
          [];
      } catch (error) {
        throw new QueueSendError(`cannot send to ${queueUrl}: ${(error as Error).message}`, { cause: error });
      }
      if (failed.length > 0 && attempt > 0)
        throw new QueueSendError(
          `${failed.length} message(s) refused by ${queueUrl}: ${failed[0]?.Code ?? ''} ${failed[0]?.Message ?? ''}`,
        );
      const retry = new Set(failed.map((entry) => entry.Id));
      entries = entries.filter((entry) => retry.has(entry.Id));
    }
  }
  return requests;
}

/**
 * The sweep's `publish` on AWS: one SNS message per alert notification to the alert topic.
 */
import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';

/** A `publish` for the sweep; without a topic it only warns (a deployment without alerts). */
export function createSnsPublisher(
  sns: SNSClient,
  topicArn: string | undefined,
  warn: (message: string, extra: Record<string, unknown>) => void,
): (notification: { subject: string; body: string }) => Promise<void> {
  return async (notification) => {
    if (!topicArn) {
      warn('no alert topic configured', { subject: notification.subject });
      return;
    }
    await sns.send(
      new PublishCommand({ TopicArn: topicArn, Subject: notification.subject, Message: notification.body }),
    );
  };
}

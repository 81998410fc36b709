/**
 * moto's server (S3 + SQS with real bucket notifications) on a random port, for integration tests.
 *
 * moto_server comes with the machine image's Python and cannot be installed from npm; when it is absent
 * the tests that need it are skipped with a loud message (see `motoAvailable`).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { CreateBucketCommand, PutBucketNotificationConfigurationCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';

/** Region used with moto (it needs a real region name). */
export const MOTO_REGION = 'eu-central-1';
/** Credentials moto accepts. */
export const MOTO_CREDENTIALS = { accessKeyId: 'walwatch', secretAccessKey: 'walwatch' };

/** Whether `moto_server` is on PATH; prints why the moto tests are skipped when not. */
export function motoAvailable(): boolean {
  try {
    execFileSync('sh', ['-c', 'command -v moto_server'], { stdio: 'pipe' });
    return true;
  } catch {
    console.error('\n!!! moto_server is not on PATH: the S3 → SQS integration tests are SKIPPED !!!\n');
    return false;
  }
}

/** A running moto server and clients for it. */
export interface LocalMoto {
  readonly endpoint: string;
  readonly s3: S3Client;
  readonly sqs: SQSClient;
  stop(): Promise<void>;
}

/**
 * Starts moto_server and waits until it answers; `env` adds moto settings to its environment (e.g.
 * `MOTO_COGNITO_IDP_USER_POOL_ENABLE_TOTP`).
 */
export async function startMoto(options: { env?: Record<string, string> } = {}): Promise<LocalMoto> {
  const port = await findFreePort();
  const child: ChildProcess = spawn('moto_server', ['-H', '127.0.0.1', '-p', String(port)], {
    stdio: 'ignore',
    env: { ...process.env, ...options.env },
  });
  const endpoint = `http://127.0.0.1:${port}`;
  for (let attempt = 0; ; attempt++) {
    try {
      const response = await fetch(`${endpoint}/moto-api/`);
      if (response.ok) break;
    } catch {
      // not listening yet
    }
    if (attempt > 150 || child.exitCode !== null) throw new Error(`moto_server did not start on ${endpoint}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const common = { endpoint, region: MOTO_REGION, credentials: MOTO_CREDENTIALS };
  return {
    endpoint,
    s3: new S3Client({
      ...common,
      forcePathStyle: true,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    }),
    sqs: new SQSClient(common),
    stop: async () => {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    },
  };
}

/** A bucket whose object events go to a queue with a dead-letter queue, as the CDK stack wires them. */
export interface NotifiedBucket {
  readonly bucket: string;
  readonly queueUrl: string;
  readonly deadLetterQueueUrl: string;
}

/** Creates a bucket, an event queue with a DLQ after `maxReceiveCount` receives, and the notification. */
export async function createNotifiedBucket(
  moto: LocalMoto,
  bucket: string,
  options: { maxReceiveCount: number; visibilityTimeoutSeconds: number },
): Promise<NotifiedBucket> {
  await moto.s3.send(
    new CreateBucketCommand({
      Bucket: bucket,
      CreateBucketConfiguration: { LocationConstraint: MOTO_REGION },
    }),
  );
  const dlq = await moto.sqs.send(new CreateQueueCommand({ QueueName: `${bucket}-dlq` }));
  const dlqArn = await queueArn(moto, dlq.QueueUrl as string);
  const queue = await moto.sqs.send(
    new CreateQueueCommand({
      QueueName: `${bucket}-events`,
      Attributes: {
        VisibilityTimeout: String(options.visibilityTimeoutSeconds),
        RedrivePolicy: JSON.stringify({
          deadLetterTargetArn: dlqArn,
          maxReceiveCount: options.maxReceiveCount,
        }),
      },
    }),
  );
  await moto.s3.send(
    new PutBucketNotificationConfigurationCommand({
      Bucket: bucket,
      NotificationConfiguration: {
        QueueConfigurations: [
          {
            QueueArn: await queueArn(moto, queue.QueueUrl as string),
            Events: ['s3:ObjectCreated:*', 's3:ObjectRemoved:*'],
          },
        ],
      },
    }),
  );
  return { bucket, queueUrl: queue.QueueUrl as string, deadLetterQueueUrl: dlq.QueueUrl as string };
}

/** Messages in a queue, visible or in flight. */
export async function queuedMessages(moto: LocalMoto, queueUrl: string): Promise<number> {
  const { Attributes } = await moto.sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  return (
    Number(Attributes?.ApproximateNumberOfMessages) +
    Number(Attributes?.ApproximateNumberOfMessagesNotVisible)
  );
}

async function queueArn(moto: LocalMoto, queueUrl: string): Promise<string> {
  const { Attributes } = await moto.sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }),
  );
  return Attributes?.QueueArn as string;
}

function findFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

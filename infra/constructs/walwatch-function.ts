import { fileURLToPath } from 'node:url';
import { type Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { type IGrantable, type IPrincipal, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

/** The repository root: `functions/`, `package-lock.json` and `tsconfig.json` live there. */
const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * The path of a Lambda entry point in `functions/`, e.g. `functionEntry('ingest')`.
 */
export function functionEntry(name: string): string {
  return fileURLToPath(new URL(`../../functions/${name}.ts`, import.meta.url));
}

/**
 * The Lambda runtime of every walwatch function: the newest Node.js that CDK knows (cdk-nag's
 * `Serverless-LambdaLatestVersion` checks the same list).
 */
export const WALWATCH_RUNTIME = Runtime.NODEJS_24_X;

/** Properties of {@link WalwatchFunction}. */
export interface WalwatchFunctionProps {
  /** The TypeScript entry file, e.g. `functionEntry('ingest')`; it exports `handler`. */
  readonly entry: string;
  /** What the function does, shown in the console. */
  readonly description: string;
  /** Longest run before Lambda stops it; set it from the job, never leave Lambda's 3 s. */
  readonly timeout: Duration;
  /**
   * Memory (MB); CPU grows with it.
   *
   * @default 512
   */
  readonly memorySize?: number;
  /**
   * Environment variables; names come from `ENV` in `shared/config/env.ts`.
   *
   * @default - none
   */
  readonly environment?: Readonly<Record<string, string>>;
  /**
   * How long the function's log group keeps logs.
   *
   * @default RetentionDays.THREE_MONTHS
   */
  readonly logRetention?: RetentionDays;
  /**
   * Asynchronous invocations retried by Lambda after a failure (schedules invoke asynchronously).
   *
   * @default 2 (Lambda's own default)
   */
  readonly retryAttempts?: number;
}

/** Raised when {@link WalwatchFunction} gets a property it cannot use. */
export class WalwatchFunctionError extends Error {
  override readonly name = 'WalwatchFunctionError';
}

/**
 * The one way walwatch builds a Lambda function: Node.js 24 on arm64, bundled by the local esbuild
 * (no Docker) as minified ESM with a source map, AWS SDK v3 left to the runtime, X-Ray active tracing,
 * its own log group with retention, an explicit memory size and timeout.
 *
 * The AWS SDK is external because the Node.js 24 runtime ships a v3 SDK newer than every feature the
 * handlers use (checksum options, `lib-dynamodb`); that keeps bundles near 100 KB and cold starts
 * short (docs/architecture.md, event pipeline benchmark). Bundle it instead (`externalModules: []`) only if an exact
 * SDK version matters more than start-up time.
 *
 * @example
 * ```ts
 * const ingest = new WalwatchFunction(this, 'Ingest', {
 *   entry: functionEntry('ingest'),
 *   description: 'Folds archive events into DynamoDB',
 *   timeout: Duration.minutes(1),
 * });
 * table.grantReadData(ingest);
 * ```
 */
export class WalwatchFunction extends Construct implements IGrantable {
  /** The Lambda function. */
  public readonly function: NodejsFunction;
  /** Its log group. */
  public readonly logGroup: LogGroup;

  constructor(scope: Construct, id: string, props: WalwatchFunctionProps) {
    super(scope, id);
    const memorySize = props.memorySize ?? 512;
    if (!Number.isInteger(memorySize) || memorySize < 128 || memorySize > 10_240) {
      throw new WalwatchFunctionError(
        `memorySize must be a whole number of MB from 128 to 10240, got ${memorySize}`,
      );
    }
    const timeoutSeconds = props.timeout.toSeconds();
    if (timeoutSeconds < 1 || timeoutSeconds > 900) {
      throw new WalwatchFunctionError(
        `timeout must be from 1 s to 15 minutes, got ${props.timeout.toHumanString()}`,
      );
    }

    this.logGroup = new LogGroup(this, 'Logs', {
      retention: props.logRetention ?? RetentionDays.THREE_MONTHS,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const role = new Role(this, 'Role', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `Execution role of ${this.node.path}`,
    });
    this.function = new NodejsFunction(this, 'Function', {
      role,
      entry: props.entry,
      handler: 'handler',
      description: props.description,
      runtime: WALWATCH_RUNTIME,
      architecture: Architecture.ARM_64,
      memorySize,
      timeout: props.timeout,
      tracing: Tracing.ACTIVE,
      logGroup: this.logGroup,
      retryAttempts: props.retryAttempts,
      environment: { ...props.environment },
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: `${PROJECT_ROOT}package-lock.json`,
      bundling: {
        format: OutputFormat.ESM,
        target: 'node24',
        // Prefer packages' ESM builds (hono, Powertools, fzstd) over their CommonJS `main`.
        mainFields: ['module', 'main'],
        minify: true,
        sourceMap: true,
        externalModules: ['@aws-sdk/*'],
        // No `require` banner: no bundled dependency requires a Node built-in from CommonJS, so esbuild
        // emits no dynamic-require shim (test/infra/bundling.test.ts keeps it that way).
        tsconfig: `${PROJECT_ROOT}tsconfig.json`,
      },
    });

    // Its own log group only, instead of AWSLambdaBasicExecutionRole's logs:* on every log group.
    this.logGroup.grantWrite(role);
    Validations.of(this).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'X-Ray active tracing: xray:PutTraceSegments and PutTelemetryRecords have no resource-level permissions.',
    });
  }

  /** The function's execution role, for grants. */
  public get grantPrincipal(): IPrincipal {
    return this.function.grantPrincipal;
  }
}

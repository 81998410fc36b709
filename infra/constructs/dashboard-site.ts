import { fileURLToPath } from 'node:url';
import { AssetHashType, DockerImage, Duration, type RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import {
  AllowedMethods,
  CachePolicy,
  Distribution,
  type GeoRestriction,
  HeadersFrameOption,
  HeadersReferrerPolicy,
  HttpVersion,
  PriceClass,
  ResponseHeadersPolicy,
  ViewerProtocolPolicy,
} from 'aws-cdk-lib/aws-cloudfront';
import { S3BucketOrigin } from 'aws-cdk-lib/aws-cloudfront-origins';
import type { Policy } from 'aws-cdk-lib/aws-iam';
import { BlockPublicAccess, Bucket, BucketEncryption, ObjectOwnership } from 'aws-cdk-lib/aws-s3';
import { BucketDeployment, CacheControl, Source } from 'aws-cdk-lib/aws-s3-deployment';
import { flattenCfnReference } from 'cdk-nag/lib/utils/flatten-cfn-reference.js';
import { Construct } from 'constructs';
import {
  cognitoEndpoints,
  DASHBOARD_FILES,
  renderHostedDashboardPage,
  writeDashboardAssetsSync,
} from '../../web/build.js';
import type { AwsSiteConfig } from '../../web/site-config.js';

/** Properties of {@link DashboardSite}. */
export interface DashboardSiteProps {
  /** What happens to the buckets when the stack is deleted. */
  readonly removalPolicy: RemovalPolicy;
  /**
   * Countries the distribution serves (or refuses).
   *
   * @default - every country
   */
  readonly geoRestriction?: GeoRestriction;
  /**
   * Edge locations the distribution uses.
   *
   * @default PriceClass.PRICE_CLASS_100 (North America and Europe)
   */
  readonly priceClass?: PriceClass;
}

/** What {@link DashboardSite.publish} deploys (values may be tokens). */
export interface DashboardPublishProps {
  /** The page's `config.json`: the API and the Cognito pools. */
  readonly config: AwsSiteConfig;
  /** `https://<api id>.execute-api.<region>.<suffix>`: the one API the page's own CSP lets it call. */
  readonly apiOrigin: string;
}

/** The folder whose bundles the site serves. */
const WEB_DIR = fileURLToPath(new URL('../../web/', import.meta.url));

/**
 * The hosted dashboard: a private S3 bucket (SSE-S3, TLS only, no public access, server access logs)
 * served only through a CloudFront distribution with Origin Access Control, over HTTPS, with security
 * headers (a CSP that lets the page connect only to its own origin, the region's API Gateway and Cognito
 * endpoints; HSTS; no framing; no referrer). {@link publish} uploads the page, its bundles (built with
 * esbuild at synthesis) and `config.json`.
 *
 * The distribution's CSP header names API Gateway by its regional wildcard, not the API itself: the API's
 * CORS setting names the distribution's domain, and a header naming the API would make each depend on the
 * other. The page's own CSP (a meta tag written at deployment, when both names are known) narrows
 * `connect-src` to the one API; a browser enforces both policies.
 */
export class DashboardSite extends Construct {
  /** The bucket the site is served from. */
  public readonly bucket: Bucket;
  /** The bucket receiving the site bucket's access logs and the distribution's logs. */
  public readonly logsBucket: Bucket;
  /** The distribution serving the site. */
  public readonly distribution: Distribution;
  /** The security headers of every response. */
  public readonly responseHeadersPolicy: ResponseHeadersPolicy;
  /** `https://<distribution domain>`: the page's origin, for the API's CORS setting. */
  public readonly origin: string;
  /** The dashboard's address. */
  public readonly url: string;

  constructor(scope: Construct, id: string, props: DashboardSiteProps) {
    super(scope, id);
    const stack = Stack.of(this);

    // CloudFront's standard logs are written with ACLs, so this bucket keeps them (owner preferred).
    this.logsBucket = new Bucket(this, 'Logs', {
      encryption: BucketEncryption.S3_MANAGED,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_PREFERRED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      removalPolicy: props.removalPolicy,
      lifecycleRules: [{ id: 'ExpireLogs', expiration: Duration.days(400) }],
    });
    Validations.of(this.logsBucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason:
        'This bucket is the log target of the dashboard bucket and distribution; logging it into itself would loop.',
    });

    this.bucket = new Bucket(this, 'Bucket', {
      encryption: BucketEncryption.S3_MANAGED,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      serverAccessLogsBucket: this.logsBucket,
      serverAccessLogsPrefix: 'site-bucket/',
      removalPolicy: props.removalPolicy,
    });

    const connectSrc = [
      "'self'",
      `https://*.execute-api.${stack.region}.${stack.urlSuffix}`,
      ...cognitoEndpoints(stack.region, stack.urlSuffix),
    ];
    this.responseHeadersPolicy = new ResponseHeadersPolicy(this, 'SecurityHeaders', {
      comment: 'walwatch dashboard: CSP, HSTS, no framing, no referrer',
      securityHeadersBehavior: {
        contentSecurityPolicy: {
          contentSecurityPolicy: [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            `connect-src ${connectSrc.join(' ')}`,
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
          ].join('; '),
          override: true,
        },
        strictTransportSecurity: {
          accessControlMaxAge: Duration.days(365),
          includeSubdomains: true,
          override: true,
        },
        contentTypeOptions: { override: true },
        frameOptions: { frameOption: HeadersFrameOption.DENY, override: true },
        referrerPolicy: { referrerPolicy: HeadersReferrerPolicy.NO_REFERRER, override: true },
      },
    });

    this.distribution = new Distribution(this, 'Distribution', {
      comment: 'walwatch dashboard',
      defaultRootObject: DASHBOARD_FILES.page,
      defaultBehavior: {
        origin: S3BucketOrigin.withOriginAccessControl(this.bucket),
        viewerProtocolPolicy: ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
        allowedMethods: AllowedMethods.ALLOW_GET_HEAD,
        cachePolicy: CachePolicy.CACHING_OPTIMIZED,
        responseHeadersPolicy: this.responseHeadersPolicy,
        compress: true,
      },
      httpVersion: HttpVersion.HTTP2_AND_3,
      priceClass: props.priceClass ?? PriceClass.PRICE_CLASS_100,
      geoRestriction: props.geoRestriction,
      enableLogging: true,
      logBucket: this.logsBucket,
      logFilePrefix: 'distribution/',
    });
    Validations.of(this.distribution).acknowledge(
      {
        id: 'AwsSolutions-CFR4',
        reason:
          'The distribution uses its cloudfront.net name and certificate, for which CloudFront fixes the viewer TLS policy; a custom domain with its own certificate can set TLSv1.2_2021.',
      },
      {
        id: 'AwsSolutions-CFR2',
        reason:
          'A static page of three files that holds no data: the data sits behind the API, which needs SigV4 from a signed-in user and is throttled. A WAF web ACL would cost more than it protects here.',
      },
      ...(props.geoRestriction
        ? []
        : [
            {
              id: 'AwsSolutions-CFR1',
              reason:
                'Operators sign in from wherever they are on call; pass geoRestriction to DashboardSite to limit countries.',
            },
          ]),
    );

    this.origin = `https://${this.distribution.distributionDomainName}`;
    this.url = `${this.origin}/`;
  }

  /**
   * Uploads the page, `dashboard.js`, `sign-in.js`, `dashboard.css` (built with esbuild at synthesis) and
   * `config.json`, then invalidates the distribution. Every file is sent with
   * `Cache-Control: no-cache`: browsers revalidate, so a deployment never mixes old and new files.
   */
  public publish(props: DashboardPublishProps): BucketDeployment {
    const stack = Stack.of(this);
    const deployment = new BucketDeployment(this, 'Deployment', {
      destinationBucket: this.bucket,
      distribution: this.distribution,
      distributionPaths: ['/*'],
      cacheControl: [CacheControl.noCache()],
      memoryLimit: 256,
      sources: [
        Source.asset(WEB_DIR, {
          // The bundles' hash, not the folder's: they also hold code from shared/.
          assetHashType: AssetHashType.OUTPUT,
          bundling: {
            // Never used: local bundling with the project's esbuild always succeeds or throws.
            image: DockerImage.fromRegistry('scratch'),
            local: {
              tryBundle(outputDir: string): boolean {
                writeDashboardAssetsSync(outputDir);
                return true;
              },
            },
          },
        }),
        Source.data(
          DASHBOARD_FILES.page,
          renderHostedDashboardPage(props.apiOrigin, stack.region, stack.urlSuffix),
        ),
        Source.jsonData(DASHBOARD_FILES.config, props.config),
      ],
    });
    acknowledgeDeploymentHandler(deployment);
    return deployment;
  }
}

/**
 * `BucketDeployment` runs one CDK-owned singleton function per stack (Python with the AWS CLI layer) that
 * copies the asset into the bucket and invalidates the distribution. Its runtime, role and grants are
 * CDK's; its findings are acknowledged here, each with its reason, and its wildcard resources by name.
 */
function acknowledgeDeploymentHandler(deployment: BucketDeployment): void {
  const handler = deployment.handlerRole.node.scope;
  if (handler === undefined) return;
  const stack = Stack.of(deployment);
  const copying =
    'CDK grant of the deployment handler: it reads the zipped site from the CDK asset bucket and writes, replaces and prunes the files of the site bucket, which holds nothing else.';
  Validations.of(handler).acknowledge(
    {
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      reason:
        'CDK-owned handler that copies the dashboard into its bucket at deploy time; it only needs log access.',
    },
    ...['s3:GetObject*', 's3:GetBucket*', 's3:List*', 's3:DeleteObject*', 's3:Abort*'].map((action) => ({
      id: `AwsSolutions-IAM5[Action::${action}]`,
      reason: copying,
    })),
    {
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'CDK grants cloudfront:CreateInvalidation and GetInvalidation on * to the deployment handler, which invalidates only the dashboard distribution after a deployment.',
    },
    {
      id: 'AwsSolutions-L1',
      reason:
        'The runtime of the deployment handler is chosen by CDK (Python with the AWS CLI layer), not by this project.',
    },
    {
      id: 'Serverless-LambdaLatestVersion',
      reason:
        'The runtime of the deployment handler is chosen by CDK (Python with the AWS CLI layer), not by this project.',
    },
    {
      id: 'Serverless-LambdaDLQ',
      reason:
        'Invoked synchronously by CloudFormation as a custom resource; a failure fails the deployment, which reports it.',
    },
    {
      id: 'Serverless-LambdaTracing',
      reason: 'A deploy-time copy job run by CloudFormation, whose events and logs already tell what it did.',
    },
  );
  const policy = deployment.handlerRole.node.tryFindChild('DefaultPolicy') as Policy | undefined;
  const statements = (stack.resolve(policy?.document.toJSON()) ?? { Statement: [] }) as {
    Statement: { Resource: unknown }[];
  };
  for (const statement of statements.Statement) {
    for (const resource of [statement.Resource].flat()) {
      const rendered = flattenCfnReference(resource);
      if (rendered !== '*' && rendered.includes('*')) {
        Validations.of(handler).acknowledge({
          id: `AwsSolutions-IAM5[Resource::${rendered}]`,
          reason: copying,
        });
      }
    }
  }
}

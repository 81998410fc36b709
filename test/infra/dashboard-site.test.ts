import { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { GeoRestriction } from 'aws-cdk-lib/aws-cloudfront';
import { describe, expect, it } from 'vitest';
import { WalArchiveBucket } from '../../infra/constructs/wal-archive-bucket.js';
import { WalBackupMonitor, type WalBackupMonitorProps } from '../../infra/constructs/wal-backup-monitor.js';
import { createWalwatchApp } from '../../infra/create-app.js';
import { SYNTH_TIMEOUT_MS, testApp, testContext } from './support.js';

interface Built {
  readonly stack: Stack;
  readonly monitor: WalBackupMonitor;
  readonly template: Template;
}

function build(overrides: Partial<WalBackupMonitorProps> = { dashboardSite: true }): Built {
  const stack = new Stack(testApp(), 'Test', { env: { account: '111111111111', region: 'eu-central-1' } });
  const archive = new WalArchiveBucket(stack, 'Archive', { archiveRoots: ['spilo/demo/wal/17/'] });
  const monitor = new WalBackupMonitor(stack, 'Monitor', {
    archiveBucket: archive.bucket,
    archiveRoots: archive.archiveRoots,
    ...overrides,
  });
  return { stack, monitor, template: Template.fromStack(stack) };
}

/** A resolved CloudFormation value as one string: `{Ref: X}` → `<X>`, `{Fn::GetAtt: [X, A]}` → `<X.A>`. */
function render(value: unknown): string {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return value.map(render).join(',');
  const v = value as Record<string, unknown>;
  if ('Ref' in v) return `<${String(v.Ref)}>`;
  if ('Fn::GetAtt' in v) return `<${(v['Fn::GetAtt'] as string[]).join('.')}>`;
  if ('Fn::Join' in v) {
    const [separator, parts] = v['Fn::Join'] as [string, unknown[]];
    return parts.map(render).join(separator);
  }
  return JSON.stringify(value);
}

function only<T>(resources: Record<string, unknown>): [string, T] {
  const entries = Object.entries(resources);
  expect(entries).toHaveLength(1);
  return entries[0] as [string, T];
}

function logicalId(built: Built, construct: { node: { defaultChild?: unknown } }): string {
  return built.stack.getLogicalId(construct.node.defaultChild as never);
}

interface Statement {
  readonly Effect: string;
  readonly Action: string | string[];
  readonly Resource: unknown;
  readonly Principal?: unknown;
  readonly Condition?: Record<string, Record<string, unknown>>;
}

describe('hosted dashboard (WalBackupMonitor dashboardSite)', { timeout: SYNTH_TIMEOUT_MS }, () => {
  describe('sign-in', () => {
    it('lets only administrators create users, with a strong password policy and TOTP MFA required', () => {
      const { template } = build();
      template.hasResourceProperties('AWS::Cognito::UserPool', {
        AdminCreateUserConfig: { AllowAdminCreateUserOnly: true },
        Policies: {
          PasswordPolicy: {
            MinimumLength: 14,
            RequireLowercase: true,
            RequireUppercase: true,
            RequireNumbers: true,
            RequireSymbols: true,
            TemporaryPasswordValidityDays: 3,
          },
        },
        MfaConfiguration: 'ON',
        EnabledMfas: ['SOFTWARE_TOKEN_MFA'],
        UserPoolTier: 'PLUS',
        UserPoolAddOns: { AdvancedSecurityMode: 'ENFORCED' },
        DeletionProtection: 'ACTIVE',
      });
    });

    it('gives the page an app client without secret, password sign-in and refresh only, no OAuth', () => {
      const { template } = build();
      template.hasResourceProperties('AWS::Cognito::UserPoolClient', {
        GenerateSecret: false,
        ExplicitAuthFlows: ['ALLOW_USER_PASSWORD_AUTH', 'ALLOW_REFRESH_TOKEN_AUTH'],
        AllowedOAuthFlowsUserPoolClient: false,
        PreventUserExistenceErrors: 'ENABLED',
        EnableTokenRevocation: true,
      });
      const [, client] = only<{ Properties: Record<string, unknown> }>(
        template.findResources('AWS::Cognito::UserPoolClient'),
      );
      expect(client.Properties.AllowedOAuthFlows).toBeUndefined();
      expect(client.Properties.CallbackURLs).toBeUndefined();
    });

    it('has an identity pool without unauthenticated identities, classic flow or unchecked tokens', () => {
      const built = build();
      const signIn = built.monitor.dashboardSite?.signIn;
      if (!signIn) throw new Error('no sign-in');
      built.template.hasResourceProperties('AWS::Cognito::IdentityPool', {
        AllowUnauthenticatedIdentities: false,
        AllowClassicFlow: false,
        CognitoIdentityProviders: [
          {
            ClientId: { Ref: logicalId(built, signIn.userPoolClient) },
            ProviderName: { 'Fn::GetAtt': [logicalId(built, signIn.userPool), 'ProviderName'] },
            ServerSideTokenCheck: true,
          },
        ],
      });
      const [, attachment] = only<{ Properties: { Roles: Record<string, unknown> } }>(
        built.template.findResources('AWS::Cognito::IdentityPoolRoleAttachment'),
      );
      expect(Object.keys(attachment.Properties.Roles)).toEqual(['authenticated']);
    });

    it('lets only authenticated identities of its own pool assume the role', () => {
      const built = build();
      const signIn = built.monitor.dashboardSite?.signIn;
      if (!signIn) throw new Error('no sign-in');
      const role = built.template.toJSON().Resources[logicalId(built, signIn.authenticatedRole)];
      const [trust] = role.Properties.AssumeRolePolicyDocument.Statement as Statement[];
      expect(role.Properties.AssumeRolePolicyDocument.Statement).toHaveLength(1);
      expect(trust).toEqual({
        Effect: 'Allow',
        Action: 'sts:AssumeRoleWithWebIdentity',
        Principal: { Federated: 'cognito-identity.amazonaws.com' },
        Condition: {
          StringEquals: {
            'cognito-identity.amazonaws.com:aud': { Ref: built.stack.getLogicalId(signIn.identityPool) },
          },
          'ForAnyValue:StringLike': { 'cognito-identity.amazonaws.com:amr': 'authenticated' },
        },
      });
      expect(role.Properties.ManagedPolicyArns).toBeUndefined();
    });

    it.each([
      ['reads and acknowledgements', true, ['GET/clusters', 'GET/clusters/*', 'POST/clusters/*/gaps/*/ack']],
      ['reads only', false, ['GET/clusters', 'GET/clusters/*']],
    ])(
      'lets signed-in users only invoke the dashboard routes of the $default stage: %s',
      (_, allowAcknowledge, routes) => {
        const built = build({ dashboardSite: { allowAcknowledge } });
        const signIn = built.monitor.dashboardSite?.signIn;
        if (!signIn) throw new Error('no sign-in');
        const roleId = logicalId(built, signIn.authenticatedRole);
        const policies = Object.values(built.template.findResources('AWS::IAM::Policy')) as {
          Properties: { Roles: unknown[]; PolicyDocument: { Statement: Statement[] } };
        }[];
        const statements = policies
          .filter((p) => p.Properties.Roles.some((r) => render(r) === `<${roleId}>`))
          .flatMap((p) => p.Properties.PolicyDocument.Statement);
        expect(statements).toHaveLength(1);
        const [statement] = statements;
        expect(statement?.Action).toBe('execute-api:Invoke');
        const apiId = logicalId(built, built.monitor.api);
        expect([statement?.Resource].flat().map(render)).toEqual(
          routes.map(
            (route) =>
              `arn:<AWS::Partition>:execute-api:eu-central-1:111111111111:<${apiId}>/$default/${route}`,
          ),
        );
      },
    );
  });

  describe('API', () => {
    it('allows CORS from the distribution alone, with the SigV4 headers and If-None-Match, for GET, POST and OPTIONS, exposing ETag', () => {
      const built = build();
      const site = built.monitor.dashboardSite?.site;
      if (!site) throw new Error('no site');
      const [, api] = only<{ Properties: { CorsConfiguration: Record<string, unknown> } }>(
        built.template.findResources('AWS::ApiGatewayV2::Api'),
      );
      const cors = api.Properties.CorsConfiguration;
      expect((cors.AllowOrigins as unknown[]).map(render)).toEqual([
        `https://<${logicalId(built, site.distribution)}.DomainName>`,
      ]);
      expect(cors.AllowMethods).toEqual(['GET', 'POST', 'OPTIONS']);
      expect(cors.AllowHeaders).toEqual([
        'authorization',
        'content-type',
        'x-amz-content-sha256',
        'x-amz-date',
        'x-amz-security-token',
        'if-none-match',
      ]);
      expect(cors.ExposeHeaders).toEqual(['etag']);
      expect(cors.AllowCredentials).toBeUndefined();
    });

    it('keeps IAM authorization on every route, and has no CORS, user pool or site without dashboardSite', () => {
      const { template } = build({});
      const [, api] = only<{ Properties: Record<string, unknown> }>(
        template.findResources('AWS::ApiGatewayV2::Api'),
      );
      expect(api.Properties.CorsConfiguration).toBeUndefined();
      for (const type of [
        'AWS::Cognito::UserPool',
        'AWS::CloudFront::Distribution',
        'Custom::CDKBucketDeployment',
      ]) {
        template.resourceCountIs(type, 0);
      }
      const withSite = build();
      const routes = Object.values(withSite.template.findResources('AWS::ApiGatewayV2::Route')) as {
        Properties: { AuthorizationType?: string };
      }[];
      expect(routes.map((route) => route.Properties.AuthorizationType)).toEqual(['AWS_IAM', 'AWS_IAM']);
    });
  });

  describe('site', () => {
    it('keeps the bucket private, encrypted, TLS-only and access-logged', () => {
      const built = build();
      const site = built.monitor.dashboardSite?.site;
      if (!site) throw new Error('no site');
      const bucket = built.template.toJSON().Resources[logicalId(built, site.bucket)];
      expect(bucket.Properties).toMatchObject({
        PublicAccessBlockConfiguration: {
          BlockPublicAcls: true,
          BlockPublicPolicy: true,
          IgnorePublicAcls: true,
          RestrictPublicBuckets: true,
        },
        BucketEncryption: {
          ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
        },
        OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
        LoggingConfiguration: {
          DestinationBucketName: { Ref: logicalId(built, site.logsBucket) },
          LogFilePrefix: 'site-bucket/',
        },
      });
      expect(bucket.Properties.WebsiteConfiguration).toBeUndefined();
    });

    it('lets only this distribution read the bucket (Origin Access Control), and denies plain HTTP', () => {
      const built = build();
      const site = built.monitor.dashboardSite?.site;
      if (!site) throw new Error('no site');
      const bucketId = logicalId(built, site.bucket);
      const distributionId = logicalId(built, site.distribution);
      const policies = Object.values(built.template.findResources('AWS::S3::BucketPolicy')) as {
        Properties: { Bucket: unknown; PolicyDocument: { Statement: Statement[] } };
      }[];
      const policy = policies.find((p) => render(p.Properties.Bucket) === `<${bucketId}>`);
      const statements = policy?.Properties.PolicyDocument.Statement ?? [];
      const allows = statements.filter((s) => s.Effect === 'Allow');
      expect(allows).toHaveLength(1);
      expect(allows[0]).toMatchObject({
        Action: 's3:GetObject',
        Principal: { Service: 'cloudfront.amazonaws.com' },
        Condition: { StringEquals: { 'AWS:SourceArn': expect.anything() } },
      });
      expect(render(allows[0]?.Condition?.StringEquals?.['AWS:SourceArn'])).toContain(`<${distributionId}>`);
      expect(
        statements.some(
          (s) =>
            s.Effect === 'Deny' && JSON.stringify(s.Condition) === '{"Bool":{"aws:SecureTransport":"false"}}',
        ),
      ).toBe(true);
      built.template.hasResourceProperties('AWS::CloudFront::OriginAccessControl', {
        OriginAccessControlConfig: {
          OriginAccessControlOriginType: 's3',
          SigningBehavior: 'always',
          SigningProtocol: 'sigv4',
        },
      });
    });

    it('serves over HTTPS only, with a CSP limited to the API Gateway and Cognito endpoints, HSTS and no framing', () => {
      const built = build();
      built.template.hasResourceProperties('AWS::CloudFront::Distribution', {
        DistributionConfig: Match.objectLike({
          DefaultRootObject: 'index.html',
          DefaultCacheBehavior: Match.objectLike({
            ViewerProtocolPolicy: 'redirect-to-https',
            AllowedMethods: ['GET', 'HEAD'],
          }),
          Logging: Match.objectLike({ Prefix: 'distribution/' }),
        }),
      });
      const [, headers] = only<{
        Properties: {
          ResponseHeadersPolicyConfig: { SecurityHeadersConfig: Record<string, Record<string, unknown>> };
        };
      }>(built.template.findResources('AWS::CloudFront::ResponseHeadersPolicy'));
      const security = headers.Properties.ResponseHeadersPolicyConfig.SecurityHeadersConfig;
      const csp = render(security.ContentSecurityPolicy?.ContentSecurityPolicy);
      expect(csp).toContain("default-src 'none'");
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).toContain(
        "connect-src 'self' https://*.execute-api.eu-central-1.<AWS::URLSuffix> https://cognito-idp.eu-central-1.<AWS::URLSuffix> https://cognito-identity.eu-central-1.<AWS::URLSuffix>;",
      );
      expect(security.StrictTransportSecurity).toMatchObject({
        AccessControlMaxAgeSec: 31_536_000,
        Override: true,
      });
      expect(security.FrameOptions).toMatchObject({ FrameOption: 'DENY' });
      expect(security.ContentTypeOptions).toMatchObject({ Override: true });
    });

    it('publishes the bundles, a page whose CSP names the one API, and config.json with the API and pools', () => {
      const built = build();
      const signIn = built.monitor.dashboardSite?.signIn;
      if (!signIn) throw new Error('no sign-in');
      const [, deployment] = only<{
        Properties: {
          SourceObjectKeys: unknown[];
          SourceMarkers: Record<string, unknown>[];
          DistributionPaths: string[];
        };
      }>(built.template.findResources('Custom::CDKBucketDeployment'));
      expect(deployment.Properties.SourceObjectKeys).toHaveLength(3);
      expect(deployment.Properties.DistributionPaths).toEqual(['/*']);
      const [bundles, page, config] = deployment.Properties.SourceMarkers.map((markers) =>
        Object.values(markers).map(render),
      );
      const apiId = logicalId(built, built.monitor.api);
      expect(bundles).toEqual([]);
      expect(page).toEqual([`<${apiId}>`, '<AWS::URLSuffix>', '<AWS::URLSuffix>', '<AWS::URLSuffix>']);
      expect(config).toEqual(
        expect.arrayContaining([
          `<${logicalId(built, signIn.userPool)}>`,
          `<${logicalId(built, signIn.userPoolClient)}>`,
          `<${built.stack.getLogicalId(signIn.identityPool)}>`,
        ]),
      );
    });

    it('restricts countries when asked', () => {
      const { template } = build({ dashboardSite: { geoRestriction: GeoRestriction.allowlist('DE', 'AT') } });
      template.hasResourceProperties('AWS::CloudFront::Distribution', {
        DistributionConfig: Match.objectLike({
          Restrictions: { GeoRestriction: { RestrictionType: 'whitelist', Locations: ['DE', 'AT'] } },
        }),
      });
    });
  });

  describe('in the app', () => {
    it('is on by default, with the dashboard URL and user pool as outputs; dashboardSite=false removes it', () => {
      const on = Template.fromStack(createWalwatchApp({ context: testContext() }).stack);
      expect(Object.keys(on.findOutputs('*'))).toEqual(
        expect.arrayContaining(['DashboardUrl', 'DashboardUserPoolId']),
      );
      on.resourceCountIs('AWS::CloudFront::Distribution', 1);
      const off = Template.fromStack(
        createWalwatchApp({ context: testContext({ dashboardSite: 'false' }) }).stack,
      );
      expect(Object.keys(off.findOutputs('*'))).not.toContain('DashboardUrl');
      off.resourceCountIs('AWS::CloudFront::Distribution', 0);
      off.resourceCountIs('AWS::Cognito::IdentityPool', 0);
    });
  });
});

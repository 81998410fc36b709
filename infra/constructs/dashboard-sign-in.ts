import { Duration, type RemovalPolicy } from 'aws-cdk-lib';
import type { HttpApi } from 'aws-cdk-lib/aws-apigatewayv2';
import {
  AccountRecovery,
  CfnIdentityPool,
  CfnIdentityPoolRoleAttachment,
  FeaturePlan,
  Mfa,
  StandardThreatProtectionMode,
  UserPool,
  type UserPoolClient,
} from 'aws-cdk-lib/aws-cognito';
import { FederatedPrincipal, PolicyStatement, Role } from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { acknowledgeWildcardResource } from './acknowledge.js';

/**
 * The API calls the dashboard makes, as `execute-api` resources of the `$default` stage: the fleet, a
 * cluster's report and its parts (including the restore plan), and, unless read-only, a gap's
 * acknowledgement. Cluster and gap ids are path parameters, hence the wildcards.
 */
export const DASHBOARD_ROUTES = {
  read: [
    ['GET', '/clusters'],
    ['GET', '/clusters/*'],
  ],
  acknowledge: [['POST', '/clusters/*/gaps/*/ack']],
} as const;

/** Properties of {@link DashboardSignIn}. */
export interface DashboardSignInProps {
  /** The query API the signed-in role may invoke. */
  readonly api: HttpApi;
  /**
   * Let signed-in users acknowledge gaps (`POST …/ack`); otherwise they may only read.
   *
   * @default true
   */
  readonly allowAcknowledge?: boolean;
  /** What happens to the user pool when the stack is deleted. */
  readonly removalPolicy: RemovalPolicy;
}

/**
 * Who may use the hosted dashboard, and with what: a Cognito user pool whose users only an administrator
 * creates (no self sign-up), with a 14-character password policy, TOTP MFA required and threat protection
 * on; an app client without secret for the page's `USER_PASSWORD_AUTH` sign-in; and an identity pool
 * without unauthenticated identities, whose authenticated role may do one thing: `execute-api:Invoke` the
 * dashboard's routes of the API's `$default` stage.
 */
export class DashboardSignIn extends Construct {
  /** The user pool people sign in to. */
  public readonly userPool: UserPool;
  /** The page's app client. */
  public readonly userPoolClient: UserPoolClient;
  /** The identity pool that issues the role's credentials for an ID token. */
  public readonly identityPool: CfnIdentityPool;
  /** The role of signed-in users. */
  public readonly authenticatedRole: Role;

  constructor(scope: Construct, id: string, props: DashboardSignInProps) {
    super(scope, id);

    this.userPool = new UserPool(this, 'UserPool', {
      selfSignUpEnabled: false,
      signInAliases: { username: true },
      signInCaseSensitive: false,
      passwordPolicy: {
        minLength: 14,
        requireLowercase: true,
        requireUppercase: true,
        requireDigits: true,
        requireSymbols: true,
        tempPasswordValidity: Duration.days(3),
      },
      mfa: Mfa.REQUIRED,
      // An authenticator app only: SMS needs a phone number per user and an SNS spending limit.
      mfaSecondFactor: { otp: true, sms: false },
      // Users exist only because an administrator made them; a forgotten password is the administrator's too.
      accountRecovery: AccountRecovery.NONE,
      // Plus: compromised-credential checks and adaptive blocking of risky sign-ins, for a handful of users.
      featurePlan: FeaturePlan.PLUS,
      standardThreatProtectionMode: StandardThreatProtectionMode.FULL_FUNCTION,
      deletionProtection: true,
      removalPolicy: props.removalPolicy,
    });

    this.userPoolClient = this.userPool.addClient('DashboardClient', {
      generateSecret: false,
      authFlows: { userPassword: true },
      // The page signs in with the API; no hosted UI, no OAuth redirects.
      disableOAuth: true,
      preventUserExistenceErrors: true,
      enableTokenRevocation: true,
      idTokenValidity: Duration.hours(1),
      accessTokenValidity: Duration.hours(1),
      refreshTokenValidity: Duration.hours(12),
    });

    this.identityPool = new CfnIdentityPool(this, 'IdentityPool', {
      allowUnauthenticatedIdentities: false,
      // The enhanced flow only: roles come from the pool's role attachment, never from the caller.
      allowClassicFlow: false,
      cognitoIdentityProviders: [
        {
          providerName: this.userPool.userPoolProviderName,
          clientId: this.userPoolClient.userPoolClientId,
          // Cognito checks with the user pool that the ID token was not revoked (signed out).
          serverSideTokenCheck: true,
        },
      ],
    });

    this.authenticatedRole = new Role(this, 'AuthenticatedRole', {
      description: 'walwatch dashboard users: invoke the query API routes the dashboard uses',
      assumedBy: new FederatedPrincipal(
        'cognito-identity.amazonaws.com',
        {
          StringEquals: { 'cognito-identity.amazonaws.com:aud': this.identityPool.ref },
          'ForAnyValue:StringLike': { 'cognito-identity.amazonaws.com:amr': 'authenticated' },
        },
        'sts:AssumeRoleWithWebIdentity',
      ),
      maxSessionDuration: Duration.hours(1),
    });
    const routes = [
      ...DASHBOARD_ROUTES.read,
      ...((props.allowAcknowledge ?? true) ? DASHBOARD_ROUTES.acknowledge : []),
    ];
    const resources = routes.map(([method, path]) => props.api.arnForExecuteApi(method, path, '$default'));
    this.authenticatedRole.addToPolicy(
      new PolicyStatement({ sid: 'InvokeDashboardRoutes', actions: ['execute-api:Invoke'], resources }),
    );
    for (const resource of resources.filter((arn) => arn.includes('*'))) {
      acknowledgeWildcardResource(
        this.authenticatedRole,
        resource,
        'Cluster and gap ids are path parameters of the dashboard routes; the wildcard stands for them, on one method of one stage of this API.',
      );
    }

    new CfnIdentityPoolRoleAttachment(this, 'Roles', {
      identityPoolId: this.identityPool.ref,
      roles: { authenticated: this.authenticatedRole.roleArn },
    });
  }
}

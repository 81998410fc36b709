/**
 * Signing in to the hosted dashboard and signing its API requests, for the page built with a sign-in
 * configuration (`site-config.ts`). It is bundled with the sign-in forms into `sign-in.js`, loaded only by
 * such a page, so the local monitor's page carries none of the AWS SDK.
 *
 * 1. **Sign in** with the Cognito user pool: `InitiateAuth` with `USER_PASSWORD_AUTH`, then the challenges
 *    an administrator-created user meets: `NEW_PASSWORD_REQUIRED` (the temporary password is replaced),
 *    `MFA_SETUP` (an authenticator app is registered: `AssociateSoftwareToken`, `VerifySoftwareToken`) and
 *    `SOFTWARE_TOKEN_MFA` (a one-time code on every later sign-in).
 * 2. **Credentials**: the identity pool exchanges the ID token for temporary AWS credentials of its
 *    authenticated role (`GetId`, `GetCredentialsForIdentity`), which may only invoke the API's routes.
 *    They are renewed before they expire, and the ID token with the refresh token when it is about to.
 * 3. **Requests** are signed with SigV4 for `execute-api`, as API Gateway's IAM authorization checks them.
 *
 * The refresh token is kept in `sessionStorage` (this tab only, gone when it closes) so a reload does not
 * ask again; signing out ends every session of the user at Cognito (`GlobalSignOut`).
 */
import { Sha256 } from '@aws-crypto/sha256-js';
import {
  CognitoIdentityClient,
  GetCredentialsForIdentityCommand,
  GetIdCommand,
} from '@aws-sdk/client-cognito-identity';
import {
  AssociateSoftwareTokenCommand,
  type AuthenticationResultType,
  CognitoIdentityProviderClient,
  GlobalSignOutCommand,
  InitiateAuthCommand,
  type InitiateAuthCommandOutput,
  RespondToAuthChallengeCommand,
  VerifySoftwareTokenCommand,
} from '@aws-sdk/client-cognito-identity-provider';
import { SignatureV4 } from '@smithy/signature-v4';
import type { Fetcher } from './api.js';
import type { AwsSiteConfig } from './site-config.js';

/** Temporary AWS credentials of the identity pool's authenticated role. */
export interface TemporaryCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken: string;
  /** Epoch ms. */
  readonly expiration: number;
}

/** Where a sign-in stands after each answer. */
export type SignInStep =
  | { readonly step: 'signed-in'; readonly username: string }
  /** The password was temporary (an administrator created the user): choose a new one. */
  | { readonly step: 'new-password' }
  /** The pool requires an authenticator app: register `secret`, then confirm with a code. */
  | { readonly step: 'mfa-setup'; readonly secret: string; readonly otpauthUri: string }
  /** Enter the current code of the registered authenticator app. */
  | { readonly step: 'mfa-code' };

/** Why a sign-in step failed, worded for the person signing in. */
export const SignInErrorCode = {
  wrongCredentials: 'wrong-credentials',
  wrongCode: 'wrong-code',
  rejectedPassword: 'rejected-password',
  expired: 'expired',
  throttled: 'throttled',
  network: 'network',
  other: 'other',
} as const;

/** One of {@link SignInErrorCode}. */
export type SignInErrorCode = (typeof SignInErrorCode)[keyof typeof SignInErrorCode];

/** A sign-in step that failed; `message` is meant to be shown as is. */
export class SignInError extends Error {
  override readonly name = 'SignInError';
  constructor(
    readonly code: SignInErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** The session cannot go on (the refresh token was revoked or expired): sign in again. */
export class SessionEndedError extends Error {
  override readonly name = 'SessionEndedError';
}

/** The part of `Storage` the session uses. */
export type SessionStorage = Pick<Storage, 'getItem' | 'setItem' | 'removeItem'>;

/** Settings of {@link AwsSession} besides the site's configuration. */
export interface AwsSessionOptions {
  /** Where the refresh token survives a reload. @default sessionStorage */
  readonly storage?: SessionStorage;
  /** The clock, epoch ms. @default Date.now */
  readonly now?: () => number;
  /** Endpoints of the two Cognito services instead of AWS's, for tests. @default - the region's */
  readonly endpoints?: { readonly userPool?: string; readonly identityPool?: string };
  /** Called once when the session ends by itself (revoked or expired refresh token). */
  readonly onSessionEnded?: (error: SessionEndedError) => void;
}

interface Tokens {
  readonly idToken: string;
  /** Epoch ms. */
  readonly idTokenExpiry: number;
  readonly accessToken: string;
  readonly refreshToken: string;
}

interface Challenge {
  readonly name: string;
  readonly session: string;
  readonly username: string;
}

const STORAGE_KEY = 'walwatch-session';
/** Renew credentials and tokens this long before they expire (or at half their lifetime, if shorter). */
const RENEW_BEFORE_MS = 5 * 60_000;

/** Escapes a query component as SigV4's canonical query does (RFC 3986: `!'()*` too). */
function escapeQueryComponent(value: string): string {
  return encodeURIComponent(value).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

/** The `exp` claim of a JWT, epoch ms; the signature is Cognito's business, not the page's. */
function jwtExpiry(token: string): number {
  const payload = token.split('.')[1] ?? '';
  const json = atob(payload.replace(/-/g, '+').replace(/_/g, '/'));
  const exp = (JSON.parse(json) as { exp?: unknown }).exp;
  if (typeof exp !== 'number')
    throw new SignInError(SignInErrorCode.other, 'Cognito sent a token without expiry');
  return exp * 1000;
}

function renewAt(obtainedAt: number, expiresAt: number): number {
  return expiresAt - Math.min(RENEW_BEFORE_MS, (expiresAt - obtainedAt) / 2);
}

/** Turns a Cognito error into words for the person signing in. */
function toSignInError(error: unknown, during: 'password' | 'challenge'): SignInError {
  const name = (error as { name?: unknown })?.name;
  const message = (error as { message?: unknown })?.message;
  const text = typeof message === 'string' ? message : String(error);
  const options = { cause: error };
  switch (name) {
    case 'NotAuthorizedException':
    case 'UserNotFoundException':
      if (during === 'challenge')
        return new SignInError(SignInErrorCode.expired, 'The sign-in took too long: start again.', options);
      return /disabled/i.test(text)
        ? new SignInError(SignInErrorCode.wrongCredentials, 'This user is disabled.', options)
        : new SignInError(SignInErrorCode.wrongCredentials, 'Incorrect username or password.', options);
    case 'PasswordResetRequiredException':
      return new SignInError(
        SignInErrorCode.wrongCredentials,
        'This password was reset: ask an administrator for a new temporary password.',
        options,
      );
    case 'CodeMismatchException':
    case 'EnableSoftwareTokenMFAException':
      return new SignInError(
        SignInErrorCode.wrongCode,
        'That code is not right: enter the current 6-digit code of your authenticator app.',
        options,
      );
    case 'ExpiredCodeException':
      return new SignInError(SignInErrorCode.expired, 'The sign-in took too long: start again.', options);
    case 'InvalidPasswordException':
    case 'InvalidParameterException':
      return new SignInError(SignInErrorCode.rejectedPassword, text, options);
    case 'TooManyRequestsException':
    case 'TooManyFailedAttemptsException':
    case 'LimitExceededException':
      return new SignInError(
        SignInErrorCode.throttled,
        'Too many attempts: wait a minute and try again.',
        options,
      );
    case 'TypeError':
      return new SignInError(SignInErrorCode.network, `Cannot reach Cognito: ${text}`, options);
    default:
      return new SignInError(SignInErrorCode.other, text, options);
  }
}

/**
 * One person's session with the hosted dashboard: sign-in steps, temporary credentials and a `fetch` that
 * signs.
 *
 * @example
 * const session = new AwsSession(config);
 * let step = await session.signIn('alice', 'temporary password');
 * if (step.step === 'new-password') step = await session.setNewPassword('a new long password');
 * const api = new ApiClient(config.apiUrl, session.fetch);
 */
export class AwsSession {
  private readonly userPool: CognitoIdentityProviderClient;
  private readonly identityPool: CognitoIdentityClient;
  private readonly signer: SignatureV4;
  private readonly storage: SessionStorage | undefined;
  private readonly now: () => number;
  private tokens: Tokens | undefined;
  private challenge: Challenge | undefined;
  private user: string | undefined;
  private identityId: string | undefined;
  private current: { credentials: TemporaryCredentials; renewAt: number } | undefined;
  private renewing: Promise<TemporaryCredentials> | undefined;
  private ended = false;

  constructor(
    private readonly config: AwsSiteConfig,
    private readonly options: AwsSessionOptions = {},
  ) {
    this.storage = options.storage ?? (typeof sessionStorage === 'undefined' ? undefined : sessionStorage);
    this.now = options.now ?? Date.now;
    this.userPool = new CognitoIdentityProviderClient({
      region: config.region,
      ...(options.endpoints?.userPool ? { endpoint: options.endpoints.userPool } : {}),
    });
    this.identityPool = new CognitoIdentityClient({
      region: config.region,
      ...(options.endpoints?.identityPool ? { endpoint: options.endpoints.identityPool } : {}),
    });
    this.signer = new SignatureV4({
      service: 'execute-api',
      region: config.region,
      credentials: async () => {
        const { accessKeyId, secretAccessKey, sessionToken } = await this.credentials();
        return { accessKeyId, secretAccessKey, sessionToken };
      },
      sha256: Sha256,
    });
  }

  /** Who is signed in, once signed in. */
  get username(): string | undefined {
    return this.tokens ? this.user : undefined;
  }

  /** Starts a sign-in with a username and a password. */
  async signIn(username: string, password: string): Promise<SignInStep> {
    this.challenge = undefined;
    let answer: InitiateAuthCommandOutput;
    try {
      answer = await this.userPool.send(
        new InitiateAuthCommand({
          ClientId: this.config.userPoolClientId,
          AuthFlow: 'USER_PASSWORD_AUTH',
          AuthParameters: { USERNAME: username, PASSWORD: password },
        }),
      );
    } catch (error) {
      throw toSignInError(error, 'password');
    }
    return this.next(username, answer);
  }

  /** Replaces a temporary password (`new-password` step). */
  async setNewPassword(newPassword: string): Promise<SignInStep> {
    const challenge = this.expectChallenge('NEW_PASSWORD_REQUIRED');
    return this.respond(challenge, { USERNAME: challenge.username, NEW_PASSWORD: newPassword });
  }

  /** Confirms the authenticator app registered in the `mfa-setup` step with its current code. */
  async confirmMfaSetup(code: string): Promise<SignInStep> {
    const challenge = this.expectChallenge('MFA_SETUP');
    let session: string | undefined;
    try {
      const verified = await this.userPool.send(
        new VerifySoftwareTokenCommand({
          Session: challenge.session,
          UserCode: code.trim(),
          FriendlyDeviceName: 'walwatch dashboard',
        }),
      );
      if (verified.Status !== 'SUCCESS') {
        throw new SignInError(SignInErrorCode.wrongCode, 'The authenticator app could not be verified.');
      }
      session = verified.Session;
    } catch (error) {
      throw error instanceof SignInError ? error : toSignInError(error, 'challenge');
    }
    return this.respond(
      { ...challenge, session: session ?? challenge.session },
      { USERNAME: challenge.username },
    );
  }

  /** Answers the `mfa-code` step with the authenticator app's current code. */
  async enterMfaCode(code: string): Promise<SignInStep> {
    const challenge = this.expectChallenge('SOFTWARE_TOKEN_MFA');
    return this.respond(challenge, { USERNAME: challenge.username, SOFTWARE_TOKEN_MFA_CODE: code.trim() });
  }

  /**
   * Picks up the session this tab had before a reload (the stored refresh token), with fresh credentials.
   * False when there is none or it no longer works.
   */
  async resume(): Promise<boolean> {
    const stored = this.storage?.getItem(STORAGE_KEY);
    if (!stored) return false;
    try {
      const { username, refreshToken } = JSON.parse(stored) as { username: string; refreshToken: string };
      this.user = username;
      await this.refreshTokens(refreshToken);
      await this.credentials();
      return true;
    } catch {
      // A revoked or expired refresh token: the sign-in form it is.
      this.forget();
      return false;
    }
  }

  /**
   * Credentials of the identity pool's authenticated role, renewed when they are within five minutes (or
   * half their lifetime) of expiry; concurrent callers share one renewal.
   */
  async credentials(): Promise<TemporaryCredentials> {
    if (this.current && this.now() < this.current.renewAt) return this.current.credentials;
    this.renewing ??= this.renewCredentials().finally(() => {
      this.renewing = undefined;
    });
    return this.renewing;
  }

  /** A `fetch` that signs the request with SigV4 for `execute-api` first. */
  readonly fetch: Fetcher = async (url, init) => {
    const target = new URL(url);
    const query: Record<string, string | string[]> = {};
    for (const [name, value] of target.searchParams) {
      const previous = query[name];
      query[name] =
        previous === undefined ? value : [...(Array.isArray(previous) ? previous : [previous]), value];
    }
    const headers: Record<string, string> = { host: target.host };
    new Headers(init.headers).forEach((value, name) => {
      headers[name] = value;
    });
    const body = typeof init.body === 'string' ? init.body : undefined;
    let signed: { headers: Record<string, string> };
    try {
      signed = await this.signer.sign({
        method: (init.method ?? 'GET').toUpperCase(),
        protocol: target.protocol,
        hostname: target.hostname,
        ...(target.port ? { port: Number(target.port) } : {}),
        path: target.pathname,
        query,
        headers,
        ...(body === undefined ? {} : { body }),
      });
    } catch (error) {
      if (error instanceof SessionEndedError) this.end(error);
      throw error;
    }
    // The browser sets Host itself (the signature covers the same value).
    const { host: _host, ...sendHeaders } = signed.headers;
    // Sent exactly as signed: the same escaping as SigV4's canonical query.
    const search = Object.entries(query)
      .flatMap(([name, values]) =>
        (Array.isArray(values) ? values : [values]).map(
          (value) => `${escapeQueryComponent(name)}=${escapeQueryComponent(value)}`,
        ),
      )
      .join('&');
    return fetch(`${target.origin}${target.pathname}${search ? `?${search}` : ''}`, {
      ...init,
      headers: sendHeaders,
    });
  };

  /**
   * Ends the session: every refresh token of the user is revoked at Cognito (`GlobalSignOut`, which signs
   * out the user's other tabs and devices too: Cognito's `RevokeToken` would end only this one, but no
   * local stand-in speaks it) and this tab forgets tokens and credentials. Credentials already issued stay
   * valid until they expire (at most an hour); the page no longer holds them. Returns a warning when
   * Cognito could not be told.
   */
  async signOut(): Promise<string | undefined> {
    const accessToken = this.tokens?.accessToken;
    this.forget();
    if (!accessToken) return undefined;
    try {
      await this.userPool.send(new GlobalSignOutCommand({ AccessToken: accessToken }));
      return undefined;
    } catch (error) {
      return `Signed out here, but Cognito could not revoke the session: ${(error as Error).message}`;
    }
  }

  private expectChallenge(name: string): Challenge {
    if (this.challenge?.name !== name) {
      throw new SignInError(SignInErrorCode.expired, 'This sign-in step is not expected now: start again.');
    }
    return this.challenge;
  }

  private async respond(challenge: Challenge, responses: Record<string, string>): Promise<SignInStep> {
    let answer: InitiateAuthCommandOutput;
    try {
      answer = await this.userPool.send(
        new RespondToAuthChallengeCommand({
          ClientId: this.config.userPoolClientId,
          ChallengeName: challenge.name as never,
          Session: challenge.session,
          ChallengeResponses: responses,
        }),
      );
    } catch (error) {
      const failure = toSignInError(error, 'challenge');
      // A wrong code or a rejected password may be tried again in the same step; anything else restarts.
      if (failure.code !== SignInErrorCode.wrongCode && failure.code !== SignInErrorCode.rejectedPassword) {
        this.challenge = undefined;
      }
      throw failure;
    }
    return this.next(challenge.username, answer);
  }

  private async next(username: string, answer: InitiateAuthCommandOutput): Promise<SignInStep> {
    if (answer.AuthenticationResult) {
      this.challenge = undefined;
      this.user = answer.ChallengeParameters?.USERNAME ?? username;
      this.keepTokens(answer.AuthenticationResult, undefined);
      this.current = undefined;
      try {
        await this.credentials();
      } catch (error) {
        this.forget();
        throw error instanceof SignInError
          ? error
          : new SignInError(
              SignInErrorCode.other,
              `Signed in, but the identity pool gave no credentials: ${(error as Error).message}`,
              { cause: error },
            );
      }
      return { step: 'signed-in', username: this.user };
    }
    const name = answer.ChallengeName;
    const session = answer.Session;
    if (!name || !session) {
      throw new SignInError(SignInErrorCode.other, 'Cognito answered with neither tokens nor a challenge.');
    }
    const user =
      answer.ChallengeParameters?.USER_ID_FOR_SRP ?? answer.ChallengeParameters?.USERNAME ?? username;
    this.challenge = { name, session, username: user };
    switch (name) {
      case 'NEW_PASSWORD_REQUIRED':
        return { step: 'new-password' };
      case 'SOFTWARE_TOKEN_MFA':
        return { step: 'mfa-code' };
      case 'MFA_SETUP': {
        let associated: { SecretCode?: string; Session?: string };
        try {
          associated = await this.userPool.send(new AssociateSoftwareTokenCommand({ Session: session }));
        } catch (error) {
          this.challenge = undefined;
          throw toSignInError(error, 'challenge');
        }
        const secret = associated.SecretCode;
        if (!secret) throw new SignInError(SignInErrorCode.other, 'Cognito sent no authenticator secret.');
        this.challenge = { name, session: associated.Session ?? session, username: user };
        const label = encodeURIComponent(`walwatch:${username}`);
        return {
          step: 'mfa-setup',
          secret,
          otpauthUri: `otpauth://totp/${label}?secret=${secret}&issuer=walwatch`,
        };
      }
      default:
        this.challenge = undefined;
        throw new SignInError(
          SignInErrorCode.other,
          `Cognito asks for ${name}, which this page does not support: ask an administrator.`,
        );
    }
  }

  private keepTokens(result: AuthenticationResultType, refreshToken: string | undefined): void {
    const idToken = result.IdToken;
    const accessToken = result.AccessToken;
    const refresh = result.RefreshToken ?? refreshToken;
    if (!idToken || !accessToken || !refresh) {
      throw new SignInError(SignInErrorCode.other, 'Cognito sent incomplete tokens.');
    }
    this.tokens = { idToken, idTokenExpiry: jwtExpiry(idToken), accessToken, refreshToken: refresh };
    this.ended = false;
    this.storage?.setItem(STORAGE_KEY, JSON.stringify({ username: this.user, refreshToken: refresh }));
  }

  private async refreshTokens(refreshToken: string): Promise<void> {
    let answer: InitiateAuthCommandOutput;
    try {
      answer = await this.userPool.send(
        new InitiateAuthCommand({
          ClientId: this.config.userPoolClientId,
          AuthFlow: 'REFRESH_TOKEN_AUTH',
          AuthParameters: { REFRESH_TOKEN: refreshToken },
        }),
      );
    } catch (error) {
      if ((error as { name?: unknown })?.name === 'NotAuthorizedException') {
        throw new SessionEndedError('The session ended (signed out or expired): sign in again.', {
          cause: error,
        });
      }
      throw error;
    }
    if (!answer.AuthenticationResult) throw new SessionEndedError('Cognito would not renew the session.');
    this.keepTokens(answer.AuthenticationResult, refreshToken);
  }

  private async renewCredentials(): Promise<TemporaryCredentials> {
    const tokens = this.tokens;
    if (!tokens || this.ended) throw new SessionEndedError('Not signed in.');
    const obtainedAt = this.now();
    // The identity pool takes only a valid ID token; Cognito's last an hour.
    if (obtainedAt >= tokens.idTokenExpiry - RENEW_BEFORE_MS) {
      await this.refreshTokens(tokens.refreshToken);
    }
    const idToken = this.tokens?.idToken ?? tokens.idToken;
    const logins = { [`cognito-idp.${this.config.region}.amazonaws.com/${this.config.userPoolId}`]: idToken };
    this.identityId ??= (
      await this.identityPool.send(
        new GetIdCommand({ IdentityPoolId: this.config.identityPoolId, Logins: logins }),
      )
    ).IdentityId;
    const answer = await this.identityPool.send(
      new GetCredentialsForIdentityCommand({ IdentityId: this.identityId, Logins: logins }),
    );
    const issued = answer.Credentials;
    if (!issued?.AccessKeyId || !issued.SecretKey || !issued.SessionToken || !issued.Expiration) {
      throw new Error('the identity pool sent incomplete credentials');
    }
    const credentials: TemporaryCredentials = {
      accessKeyId: issued.AccessKeyId,
      secretAccessKey: issued.SecretKey,
      sessionToken: issued.SessionToken,
      expiration: issued.Expiration.getTime(),
    };
    this.current = { credentials, renewAt: renewAt(obtainedAt, credentials.expiration) };
    return credentials;
  }

  private end(error: SessionEndedError): void {
    if (this.ended) return;
    this.forget();
    this.ended = true;
    this.options.onSessionEnded?.(error);
  }

  private forget(): void {
    this.tokens = undefined;
    this.current = undefined;
    this.challenge = undefined;
    this.identityId = undefined;
    this.storage?.removeItem(STORAGE_KEY);
  }
}

/**
 * The hosted dashboard's Cognito side on moto_server: a user pool as the CDK creates it (administrators
 * create users, strong passwords, TOTP MFA required), its app client without secret, an identity pool without
 * unauthenticated identities, and helpers to reach them as the browser would.
 *
 * moto speaks cognito-idp for real here: passwords, `NEW_PASSWORD_REQUIRED`, `MFA_SETUP` and TOTP codes
 * (with `MOTO_COGNITO_IDP_USER_POOL_ENABLE_TOTP=true` it checks each code against its authenticator secret).
 * Its cognito-identity is thinner: `GetId` and `GetCredentialsForIdentity` ignore the `Logins` map and always
 * issue the same fixed credentials, valid 90 s. {@link checkIdentityLogin} makes up for the first part.
 */
import { execFile } from 'node:child_process';
import { createHmac, createPublicKey, verify } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CognitoIdentityClient, CreateIdentityPoolCommand } from '@aws-sdk/client-cognito-identity';
import {
  AdminCreateUserCommand,
  CognitoIdentityProviderClient,
  CreateUserPoolClientCommand,
  CreateUserPoolCommand,
  SetUserPoolMfaConfigCommand,
} from '@aws-sdk/client-cognito-identity-provider';
import { MOTO_CREDENTIALS } from './moto.js';

/** The pools a hosted dashboard signs in with. */
export interface SignInPools {
  readonly region: string;
  readonly userPoolId: string;
  readonly userPoolClientId: string;
  readonly identityPoolId: string;
}

/** The user pool's password policy, as the CDK sets it. */
export const PASSWORD_POLICY = {
  MinimumLength: 14,
  RequireUppercase: true,
  RequireLowercase: true,
  RequireNumbers: true,
  RequireSymbols: true,
  TemporaryPasswordValidityDays: 3,
} as const;

/** Creates the user pool, its client and the identity pool in `region` of the moto server at `endpoint`. */
export async function createSignInPools(endpoint: string, region: string): Promise<SignInPools> {
  const common = { endpoint, region, credentials: MOTO_CREDENTIALS };
  const idp = new CognitoIdentityProviderClient(common);
  const identity = new CognitoIdentityClient(common);
  try {
    const pool = await idp.send(
      new CreateUserPoolCommand({
        PoolName: 'walwatch-dashboard',
        Policies: { PasswordPolicy: PASSWORD_POLICY },
        AdminCreateUserConfig: { AllowAdminCreateUserOnly: true },
        MfaConfiguration: 'ON',
      }),
    );
    const userPoolId = pool.UserPool?.Id as string;
    await idp.send(
      new SetUserPoolMfaConfigCommand({
        UserPoolId: userPoolId,
        MfaConfiguration: 'ON',
        SoftwareTokenMfaConfiguration: { Enabled: true },
      }),
    );
    const client = await idp.send(
      new CreateUserPoolClientCommand({
        UserPoolId: userPoolId,
        ClientName: 'dashboard',
        GenerateSecret: false,
        ExplicitAuthFlows: ['ALLOW_USER_PASSWORD_AUTH', 'ALLOW_REFRESH_TOKEN_AUTH'],
      }),
    );
    const userPoolClientId = client.UserPoolClient?.ClientId as string;
    const identityPool = await identity.send(
      new CreateIdentityPoolCommand({
        IdentityPoolName: 'walwatch_dashboard',
        AllowUnauthenticatedIdentities: false,
        CognitoIdentityProviders: [
          {
            ProviderName: `cognito-idp.${region}.amazonaws.com/${userPoolId}`,
            ClientId: userPoolClientId,
            ServerSideTokenCheck: true,
          },
        ],
      }),
    );
    return { region, userPoolId, userPoolClientId, identityPoolId: identityPool.IdentityPoolId as string };
  } finally {
    idp.destroy();
    identity.destroy();
  }
}

/** Creates a user as an administrator does: a temporary password, no e-mail sent. */
export async function createUser(
  endpoint: string,
  pools: SignInPools,
  username: string,
  temporaryPassword: string,
): Promise<void> {
  const idp = new CognitoIdentityProviderClient({
    endpoint,
    region: pools.region,
    credentials: MOTO_CREDENTIALS,
  });
  try {
    await idp.send(
      new AdminCreateUserCommand({
        UserPoolId: pools.userPoolId,
        Username: username,
        TemporaryPassword: temporaryPassword,
        MessageAction: 'SUPPRESS',
      }),
    );
  } finally {
    idp.destroy();
  }
}

/** A request as the browser made it to an AWS endpoint. */
export interface AwsRequest {
  readonly method: string;
  /** The AWS URL (`https://cognito-idp.eu-central-1.amazonaws.com/`). */
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly body: Buffer | null;
}

/** moto's answer. */
export interface MotoAnswer {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: Buffer;
}

/**
 * Sends a request meant for an AWS endpoint to moto instead, keeping the AWS host name in `Host`: moto tells
 * the region of an unsigned request (all of Cognito's sign-in calls are unsigned) from it.
 */
export function forwardToMoto(endpoint: string, request: AwsRequest): Promise<MotoAnswer> {
  const target = new URL(endpoint);
  const original = new URL(request.url);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (!['host', 'origin', 'referer', 'content-length', 'connection'].includes(name.toLowerCase())) {
      headers[name] = value;
    }
  }
  headers.host = original.host;
  if (request.body) headers['content-length'] = String(request.body.length);
  return new Promise((resolve, reject) => {
    const outgoing = httpRequest(
      {
        hostname: target.hostname,
        port: target.port,
        method: request.method,
        path: `${original.pathname}${original.search}`,
        headers,
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          const answerHeaders: Record<string, string> = {};
          for (const [name, value] of Object.entries(response.headers)) {
            if (value !== undefined) answerHeaders[name] = Array.isArray(value) ? value.join(', ') : value;
          }
          resolve({
            status: response.statusCode ?? 500,
            headers: answerHeaders,
            body: Buffer.concat(chunks),
          });
        });
        response.on('error', reject);
      },
    );
    outgoing.on('error', reject);
    outgoing.end(request.body ?? undefined);
  });
}

interface Jwk {
  readonly kid: string;
  readonly kty: string;
  readonly n: string;
  readonly e: string;
}

function decodeSegment(segment: string | undefined): Record<string, unknown> {
  return JSON.parse(Buffer.from(segment ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
}

/**
 * Checks the `Logins` entry a browser sends to `GetId`/`GetCredentialsForIdentity`, as Cognito Identity does
 * and moto does not: exactly one login, for this user pool, an ID token signed with the pool's key (moto's
 * JWKS), issued by the pool, for the app client, not expired. Returns why not, or undefined when it is good.
 */
export async function checkIdentityLogin(
  endpoint: string,
  pools: SignInPools,
  logins: unknown,
): Promise<string | undefined> {
  const provider = `cognito-idp.${pools.region}.amazonaws.com/${pools.userPoolId}`;
  const entries = Object.entries((logins ?? {}) as Record<string, unknown>);
  if (entries.length !== 1 || entries[0]?.[0] !== provider) return `Logins must name only ${provider}`;
  const token = entries[0][1];
  if (typeof token !== 'string') return 'the login is not a token';
  const [header, payload, signature] = token.split('.');
  const jwks = await forwardToMoto(endpoint, {
    method: 'GET',
    url: `https://${provider}/.well-known/jwks.json`,
    headers: {},
    body: null,
  });
  const { keys } = JSON.parse(jwks.body.toString('utf8')) as { keys: Jwk[] };
  const kid = decodeSegment(header).kid;
  const jwk = keys.find((key) => key.kid === kid);
  if (!jwk) return `no key ${String(kid)} in the pool's JWKS`;
  const publicKey = createPublicKey({ key: { kty: jwk.kty, n: jwk.n, e: jwk.e }, format: 'jwk' });
  if (
    !verify(
      'RSA-SHA256',
      Buffer.from(`${header}.${payload}`),
      publicKey,
      Buffer.from(signature ?? '', 'base64url'),
    )
  ) {
    return 'the ID token signature is wrong';
  }
  const claims = decodeSegment(payload);
  if (claims.iss !== `https://${provider}`) return `issuer ${String(claims.iss)}`;
  if (claims.aud !== pools.userPoolClientId) return `audience ${String(claims.aud)}`;
  if (claims.token_use !== 'id') return `token_use ${String(claims.token_use)}`;
  if (typeof claims.exp !== 'number' || claims.exp * 1000 <= Date.now()) return 'the ID token expired';
  return undefined;
}

function decodeBase32(text: string): Buffer {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const char of text.toUpperCase().replace(/=+$/, '')) {
    const index = alphabet.indexOf(char);
    if (index < 0) throw new Error(`not base32: ${char}`);
    bits += index.toString(2).padStart(5, '0');
  }
  const bytes: number[] = [];
  for (let i = 0; i + 8 <= bits.length; i += 8) bytes.push(Number.parseInt(bits.slice(i, i + 8), 2));
  return Buffer.from(bytes);
}

/** The RFC 6238 code (SHA-1, 6 digits, 30 s steps) of a base32 secret at `time` (epoch ms). */
export function totpCode(secret: string, time: number): string {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(time / 30_000)));
  const digest = createHmac('sha1', decodeBase32(secret)).update(counter).digest();
  const offset = (digest[digest.length - 1] ?? 0) & 0x0f;
  const value = digest.readUInt32BE(offset) & 0x7fffffff;
  return String(value % 1_000_000).padStart(6, '0');
}

/**
 * A code that stays valid for at least `margin` ms: moto accepts only the current 30 s step, so near the end
 * of one this waits for the next.
 */
export async function freshTotpCode(secret: string, margin = 5_000): Promise<string> {
  const left = 30_000 - (Date.now() % 30_000);
  if (left < margin) await new Promise((resolve) => setTimeout(resolve, left + 50));
  return totpCode(secret, Date.now());
}

/** A local HTTPS endpoint answering for both Cognito hosts, in front of moto. */
export interface CognitoEndpoint {
  /** Port to map `cognito-idp.<region>.amazonaws.com` and `cognito-identity.<region>.amazonaws.com` to. */
  readonly port: number;
  /** Cognito operations called, in order (the `X-Amz-Target` action); the test may empty it. */
  readonly calls: string[];
  /** Identity-pool logins refused by {@link checkIdentityLogin}. */
  readonly refusedLogins: string[];
  close(): Promise<void>;
}

/** What {@link startCognitoEndpoint} answers with. */
export interface CognitoEndpointOptions {
  readonly motoEndpoint: string;
  readonly pools: () => SignInPools;
  /** Called with every set of credentials the identity pool issues. */
  readonly onCredentials: (credentials: {
    accessKeyId: string;
    secretAccessKey: string;
    sessionToken: string;
    expiration: number;
    identityId: string;
  }) => void;
}

/**
 * Starts an HTTPS server (a throw-away self-signed certificate made with `openssl`) that the browser reaches
 * under Cognito's real host names (Chromium's `--host-resolver-rules`): it answers CORS as Cognito does (any
 * origin), refuses identity-pool calls whose login {@link checkIdentityLogin} rejects, forwards everything
 * else to moto with the AWS host name, and reports the credentials the identity pool issues.
 */
export async function startCognitoEndpoint(options: CognitoEndpointOptions): Promise<CognitoEndpoint> {
  const dir = await mkdtemp(join(tmpdir(), 'walwatch-cognito-tls-'));
  try {
    await promisify(execFile)('openssl', [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=cognito.test',
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'cert.pem'),
    ]);
    const [key, cert] = await Promise.all([readFile(join(dir, 'key.pem')), readFile(join(dir, 'cert.pem'))]);
    const calls: string[] = [];
    const refusedLogins: string[] = [];
    const cors = { 'access-control-allow-origin': '*', 'access-control-expose-headers': 'x-amzn-requestid' };

    const answer = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
      if (request.method === 'OPTIONS') {
        response.writeHead(200, {
          ...cors,
          'access-control-allow-methods': 'POST, GET, OPTIONS',
          'access-control-allow-headers': String(request.headers['access-control-request-headers'] ?? '*'),
          'access-control-max-age': '600',
        });
        response.end();
        return;
      }
      const chunks: Buffer[] = [];
      for await (const chunk of request) chunks.push(chunk as Buffer);
      const body = Buffer.concat(chunks);
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(request.headers)) {
        if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
      }
      const action = headers['x-amz-target'] ?? '';
      calls.push(action.split('.')[1] ?? action);
      if (action.startsWith('AWSCognitoIdentityService.')) {
        const input = JSON.parse(body.toString('utf8') || '{}') as { Logins?: unknown };
        const problem = await checkIdentityLogin(options.motoEndpoint, options.pools(), input.Logins);
        if (problem) {
          refusedLogins.push(problem);
          response.writeHead(400, { ...cors, 'content-type': 'application/x-amz-json-1.1' });
          response.end(
            JSON.stringify({ __type: 'NotAuthorizedException', message: `Invalid login token. ${problem}` }),
          );
          return;
        }
      }
      const moto = await forwardToMoto(options.motoEndpoint, {
        method: request.method ?? 'POST',
        url: `https://${headers.host}${request.url ?? '/'}`,
        headers,
        body,
      });
      if (action === 'AWSCognitoIdentityService.GetCredentialsForIdentity' && moto.status === 200) {
        const { Credentials, IdentityId } = JSON.parse(moto.body.toString('utf8')) as {
          Credentials: { AccessKeyId: string; SecretKey: string; SessionToken: string; Expiration: number };
          IdentityId: string;
        };
        options.onCredentials({
          accessKeyId: Credentials.AccessKeyId,
          secretAccessKey: Credentials.SecretKey,
          sessionToken: Credentials.SessionToken,
          expiration: Credentials.Expiration * 1000,
          identityId: IdentityId,
        });
      }
      const { 'content-length': _length, connection: _connection, ...motoHeaders } = moto.headers;
      response.writeHead(moto.status, { ...motoHeaders, ...cors });
      response.end(moto.body);
    };

    const server = createHttpsServer({ key, cert }, (request, response) => {
      answer(request, response).catch((error: unknown) => {
        response.writeHead(500, { ...cors, 'content-type': 'application/json' });
        response.end(JSON.stringify({ __type: 'InternalErrorException', message: String(error) }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    return {
      port,
      calls,
      refusedLogins,
      close: () => {
        server.closeAllConnections();
        return new Promise((resolve) => server.close(() => resolve()));
      },
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Chromium's `--host-resolver-rules` sending both Cognito hosts of `region` to the local endpoint and
 * every other AWS host nowhere.
 */
export function cognitoHostRules(region: string, port: number): string {
  return [
    `MAP cognito-idp.${region}.amazonaws.com 127.0.0.1:${port}`,
    `MAP cognito-identity.${region}.amazonaws.com 127.0.0.1:${port}`,
    'MAP *.amazonaws.com ~NOTFOUND',
  ].join(', ');
}

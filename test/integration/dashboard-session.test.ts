/**
 * The hosted dashboard's session (`web/aws-session.ts`) in Node against moto's Cognito, with a clock the test
 * moves: when credentials and tokens are renewed, that concurrent callers share a renewal, that a revoked
 * session ends once, and that a reload resumes from the stored refresh token. The browser test covers the
 * forms, signing and CORS; this one covers what takes an hour of real time to happen.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  AdminUserGlobalSignOutCommand,
  CognitoIdentityProviderClient,
} from '@aws-sdk/client-cognito-identity-provider';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AwsSession, SessionEndedError, type SessionStorage } from '../../web/aws-session.js';
import type { AwsSiteConfig } from '../../web/site-config.js';
import {
  createSignInPools,
  createUser,
  forwardToMoto,
  freshTotpCode,
  type SignInPools,
} from '../support/cognito-moto.js';
import { type LocalMoto, MOTO_CREDENTIALS, MOTO_REGION, motoAvailable, startMoto } from '../support/moto.js';

const available = motoAvailable();
const PASSWORD = 'Correct-Horse-Battery-5taple';
const MINUTE = 60_000;

let moto: LocalMoto;
let pools: SignInPools;
let config: AwsSiteConfig;
let proxy: { url: string; calls: string[]; close: () => Promise<void> };
let userCount = 0;

/** Both Cognito services on one local URL, in front of moto, counting operations. */
async function startCountingProxy(): Promise<typeof proxy> {
  const calls: string[] = [];
  const server = createServer(async (request, response) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const headers = Object.fromEntries(
      Object.entries(request.headers).map(([name, value]) => [
        name,
        Array.isArray(value) ? value.join(', ') : String(value),
      ]),
    );
    const action = headers['x-amz-target'] ?? '';
    const service = action.startsWith('AWSCognitoIdentityService.') ? 'cognito-identity' : 'cognito-idp';
    calls.push(action.split('.')[1] ?? action);
    const answer = await forwardToMoto(moto.endpoint, {
      method: request.method ?? 'POST',
      url: `https://${service}.${MOTO_REGION}.amazonaws.com${request.url ?? '/'}`,
      headers,
      body: Buffer.concat(chunks),
    });
    const { 'content-length': _length, connection: _connection, ...answerHeaders } = answer.headers;
    response.writeHead(answer.status, answerHeaders);
    response.end(answer.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

function memoryStorage(): SessionStorage & { readonly items: Map<string, string> } {
  const items = new Map<string, string>();
  return {
    items,
    getItem: (key) => items.get(key) ?? null,
    setItem: (key, value) => void items.set(key, value),
    removeItem: (key) => void items.delete(key),
  };
}

interface Signed {
  readonly session: AwsSession;
  readonly username: string;
  readonly storage: ReturnType<typeof memoryStorage>;
  readonly clock: { now: number };
  readonly ended: SessionEndedError[];
}

/** A new user through the whole first sign-in, on a clock the test moves. */
async function signedInSession(): Promise<Signed> {
  const username = `user${++userCount}`;
  await createUser(moto.endpoint, pools, username, 'Temporary-Passw0rd!');
  const clock = { now: Date.now() };
  const storage = memoryStorage();
  const ended: SessionEndedError[] = [];
  const session = new AwsSession(config, {
    storage,
    now: () => clock.now,
    endpoints: { userPool: proxy.url, identityPool: proxy.url },
    onSessionEnded: (error) => ended.push(error),
  });
  expect(await session.signIn(username, 'Temporary-Passw0rd!')).toEqual({ step: 'new-password' });
  const setup = await session.setNewPassword(PASSWORD);
  if (setup.step !== 'mfa-setup') throw new Error(`expected the authenticator set-up, got ${setup.step}`);
  expect(await session.confirmMfaSetup(await freshTotpCode(setup.secret))).toEqual({
    step: 'signed-in',
    username,
  });
  return { session, username, storage, clock, ended };
}

beforeAll(async () => {
  if (!available) return;
  moto = await startMoto({ env: { MOTO_COGNITO_IDP_USER_POOL_ENABLE_TOTP: 'true' } });
  pools = await createSignInPools(moto.endpoint, MOTO_REGION);
  proxy = await startCountingProxy();
  config = {
    apiUrl: 'https://abc123.execute-api.eu-central-1.amazonaws.com',
    region: MOTO_REGION,
    userPoolId: pools.userPoolId,
    userPoolClientId: pools.userPoolClientId,
    identityPoolId: pools.identityPoolId,
  };
});

afterAll(async () => {
  if (!available) return;
  await proxy?.close();
  await moto?.stop();
});

beforeEach(() => {
  if (available) proxy.calls.length = 0;
});

describe.skipIf(!available)('AwsSession', () => {
  it('renews credentials at half their lifetime and shares one renewal among concurrent callers', async () => {
    const { session, clock } = await signedInSession();
    proxy.calls.length = 0;
    const first = await session.credentials();
    // moto issues credentials for 90 s: renewed after 45 s, not before.
    expect(first.expiration - clock.now).toBeGreaterThan(80_000);
    expect(first.expiration - clock.now).toBeLessThanOrEqual(95_000);
    clock.now += 40_000;
    expect(await session.credentials()).toBe(first);
    expect(proxy.calls).toEqual([]);

    clock.now += 10_000;
    const renewed = await Promise.all([session.credentials(), session.credentials(), session.credentials()]);
    expect(proxy.calls).toEqual(['GetCredentialsForIdentity']);
    expect(renewed[0]).not.toBe(first);
    expect(renewed[1]).toBe(renewed[0]);
    expect(renewed[2]).toBe(renewed[0]);
  });

  it('renews the ID token with the refresh token before asking for credentials with it', async () => {
    const { session, clock } = await signedInSession();
    proxy.calls.length = 0;
    // Cognito's ID tokens last an hour; within five minutes of that the refresh token is used first.
    clock.now += 56 * MINUTE;
    await session.credentials();
    expect(proxy.calls).toEqual(['InitiateAuth', 'GetCredentialsForIdentity']);
  });

  it('ends the session once, and forgets it, when the refresh token has been revoked', async () => {
    const { session, username, storage, clock, ended } = await signedInSession();
    expect(storage.items.size).toBe(1);
    const admin = new CognitoIdentityProviderClient({
      endpoint: moto.endpoint,
      region: MOTO_REGION,
      credentials: MOTO_CREDENTIALS,
    });
    await admin.send(new AdminUserGlobalSignOutCommand({ UserPoolId: pools.userPoolId, Username: username }));
    admin.destroy();

    clock.now += 56 * MINUTE;
    await expect(session.fetch(`${config.apiUrl}/clusters`, {})).rejects.toBeInstanceOf(SessionEndedError);
    await expect(session.fetch(`${config.apiUrl}/clusters`, {})).rejects.toBeInstanceOf(SessionEndedError);
    expect(ended).toHaveLength(1);
    expect(storage.items.size).toBe(0);
    expect(session.username).toBeUndefined();
  });

  it('resumes a session from the stored refresh token, as after a reload', async () => {
    const { username, storage } = await signedInSession();
    proxy.calls.length = 0;
    const reloaded = new AwsSession(config, {
      storage,
      endpoints: { userPool: proxy.url, identityPool: proxy.url },
    });
    expect(await reloaded.resume()).toBe(true);
    expect(reloaded.username).toBe(username);
    expect(proxy.calls).toEqual(['InitiateAuth', 'GetId', 'GetCredentialsForIdentity']);

    const stranger = new AwsSession(config, {
      storage: memoryStorage(),
      endpoints: { userPool: proxy.url, identityPool: proxy.url },
    });
    expect(await stranger.resume()).toBe(false);
  });

  it('signs out at Cognito and forgets the session', async () => {
    const { session, storage } = await signedInSession();
    proxy.calls.length = 0;
    expect(await session.signOut()).toBeUndefined();
    expect(proxy.calls).toEqual(['GlobalSignOut']);
    expect(storage.items.size).toBe(0);
    expect(session.username).toBeUndefined();
  });
});

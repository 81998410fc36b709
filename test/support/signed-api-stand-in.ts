/**
 * A TEST STAND-IN for API Gateway's HTTP API in front of the real query API router: nothing that runs
 * locally speaks API Gateway's IAM authorization, so this server does the two things the deployed API does
 * before the Lambda sees a request, as the CDK configures them:
 *
 * - **CORS**: it answers a preflight (`OPTIONS` with `Access-Control-Request-Method`) with the CORS headers
 *   only for the one allowed origin, methods GET/POST/OPTIONS and the SigV4 headers; any other origin gets
 *   no `Access-Control-Allow-Origin`, so the browser blocks it, as with API Gateway's `corsPreflight`.
 * - **IAM authorization**: every other request must carry a SigV4 signature for `execute-api` in the
 *   configured region, made with temporary credentials the identity pool issued (the test registers them
 *   as it sees `GetCredentialsForIdentity` answers), with their session token, not expired, dated within 5
 *   minutes. The signature is recomputed with `@smithy/signature-v4` over the request exactly as received
 *   (method, raw path, query, the signed headers, the body's hash) and compared.
 *
 * What this does NOT verify: API Gateway's own canonicalisation is assumed to equal the SigV4 reference
 * implementation used here (the signer and the checker share `@smithy/signature-v4`, so a bug common to both
 * would pass); and the role's IAM policy (which routes the credentials may invoke) is not evaluated — the
 * infra tests check that policy in the template instead.
 */
import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';

/** Credentials the identity pool issued, as the stand-in needs them to check a signature. */
export interface IssuedCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken: string;
  /** Epoch ms. */
  readonly expiration: number;
  /** The identity they were issued to; passed to the router as the caller. */
  readonly identityId: string;
}

/** Why a request was let through or not. */
export type Verdict =
  | 'forwarded'
  | 'preflight-allowed'
  | 'preflight-refused'
  | 'unsigned'
  | 'unknown-credentials'
  | 'expired-credentials'
  | 'wrong-session-token'
  | 'wrong-scope'
  | 'clock-skew'
  | 'bad-signature';

/** One request the stand-in saw. */
export interface SeenRequest {
  readonly method: string;
  readonly path: string;
  readonly origin: string | undefined;
  readonly verdict: Verdict;
}

/** What the stand-in forwards to and checks against. */
export interface SignedApiStandInOptions {
  /** The only origin CORS allows (the page's). */
  readonly allowedOrigin: string;
  /** Region of the signature's credential scope. */
  readonly region: string;
  /** Credentials issued so far, by access key id. */
  readonly credentials: ReadonlyMap<string, IssuedCredentials>;
  /** The API behind it (the real router), given the caller's identity. */
  readonly handle: (request: Request, caller: string) => Promise<Response>;
}

/** A running stand-in. */
export interface SignedApiStandIn {
  readonly url: string;
  /** Every request, in order. */
  readonly seen: SeenRequest[];
  close(): Promise<void>;
}

const ALLOWED_METHODS = ['GET', 'POST', 'OPTIONS'];
const ALLOWED_HEADERS = [
  'authorization',
  'content-type',
  'x-amz-content-sha256',
  'x-amz-date',
  'x-amz-security-token',
];
const MAX_SKEW_MS = 5 * 60_000;
const AUTHORIZATION =
  /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/;

function readBody(request: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks)));
    request.on('error', reject);
  });
}

function parseAmzDate(value: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!m) return Number.NaN;
  const [year, month, day, hour, minute, second] = m.slice(1).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  return Date.UTC(year, month - 1, day, hour, minute, second);
}

function queryOf(search: string): Record<string, string | string[]> {
  const query: Record<string, string | string[]> = {};
  for (const part of search.split('&').filter(Boolean)) {
    const [rawName = '', rawValue = ''] = part.split('=', 2);
    const name = decodeURIComponent(rawName);
    const value = decodeURIComponent(rawValue);
    const previous = query[name];
    query[name] =
      previous === undefined ? value : [...(Array.isArray(previous) ? previous : [previous]), value];
  }
  return query;
}

/** Recomputes the signature of a received request with the issued secret; true when it matches. */
async function signatureMatches(
  request: IncomingMessage,
  body: Buffer,
  credentials: IssuedCredentials,
  region: string,
  signedHeaders: readonly string[],
  signature: string,
  signingDate: Date,
): Promise<boolean> {
  const [path = '/', search = ''] = (request.url ?? '/').split('?', 2);
  const headers: Record<string, string> = {};
  for (const name of signedHeaders) {
    // The body's hash is recomputed from the body below, never taken from the request.
    if (name === 'x-amz-content-sha256') continue;
    const value = request.headers[name];
    if (value === undefined) return false;
    headers[name] = Array.isArray(value) ? value.join(',') : value;
  }
  const host = headers.host ?? '';
  const [hostname = '', port] = host.split(':');
  const signer = new SignatureV4({
    service: 'execute-api',
    region,
    credentials: {
      accessKeyId: credentials.accessKeyId,
      secretAccessKey: credentials.secretAccessKey,
      sessionToken: credentials.sessionToken,
    },
    sha256: Sha256,
  });
  const expected = await signer.sign(
    {
      method: request.method ?? 'GET',
      protocol: 'http:',
      hostname,
      ...(port ? { port: Number(port) } : {}),
      path,
      query: queryOf(search),
      headers,
      ...(body.length > 0 ? { body: body.toString('utf8') } : {}),
    },
    { signingDate },
  );
  const match = AUTHORIZATION.exec(expected.headers.authorization ?? '');
  if (!match?.[6] || match[5] !== signedHeaders.join(';')) return false;
  return timingSafeEqual(Buffer.from(match[6]), Buffer.from(signature));
}

/** Starts the stand-in on 127.0.0.1 with a free port. */
export async function startSignedApiStandIn(options: SignedApiStandInOptions): Promise<SignedApiStandIn> {
  const seen: SeenRequest[] = [];

  const corsHeaders = (origin: string | undefined): Record<string, string> =>
    origin === options.allowedOrigin ? { 'access-control-allow-origin': origin, vary: 'Origin' } : {};

  const answer = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const method = request.method ?? 'GET';
    const path = request.url ?? '/';
    const origin = request.headers.origin;
    const note = (verdict: Verdict) => seen.push({ method, path, origin, verdict });
    const deny = (verdict: Verdict, message: string) => {
      note(verdict);
      response.writeHead(403, { 'content-type': 'application/json', ...corsHeaders(origin) });
      response.end(JSON.stringify({ message }));
    };

    const requestedMethod = request.headers['access-control-request-method'];
    if (method === 'OPTIONS' && requestedMethod !== undefined) {
      const requestedHeaders = (request.headers['access-control-request-headers'] ?? '')
        .split(',')
        .map((h) => h.trim().toLowerCase())
        .filter(Boolean);
      const allowed =
        origin === options.allowedOrigin &&
        ALLOWED_METHODS.includes(requestedMethod.toUpperCase()) &&
        requestedHeaders.every((h) => ALLOWED_HEADERS.includes(h));
      note(allowed ? 'preflight-allowed' : 'preflight-refused');
      response.writeHead(
        204,
        allowed
          ? {
              ...corsHeaders(origin),
              'access-control-allow-methods': ALLOWED_METHODS.join(','),
              'access-control-allow-headers': ALLOWED_HEADERS.join(','),
              'access-control-max-age': '600',
            }
          : {},
      );
      response.end();
      return;
    }

    const body = await readBody(request);
    const match = AUTHORIZATION.exec(request.headers.authorization ?? '');
    if (!match) return deny('unsigned', 'Forbidden');
    const [, accessKeyId = '', , scopeRegion, service, signedList = '', signature = ''] = match;
    const issued = options.credentials.get(accessKeyId);
    if (!issued) return deny('unknown-credentials', 'The security token included in the request is invalid.');
    if (request.headers['x-amz-security-token'] !== issued.sessionToken) {
      return deny('wrong-session-token', 'The security token included in the request is invalid.');
    }
    if (Date.now() >= issued.expiration)
      return deny('expired-credentials', 'The security token included in the request is expired');
    if (scopeRegion !== options.region || service !== 'execute-api') {
      return deny(
        'wrong-scope',
        `Credential should be scoped to a valid region and service execute-api, not ${scopeRegion}/${service}`,
      );
    }
    const signingDate = parseAmzDate(String(request.headers['x-amz-date'] ?? ''));
    if (!(Math.abs(Date.now() - signingDate) <= MAX_SKEW_MS)) return deny('clock-skew', 'Signature expired');
    const signedHeaders = signedList.split(';');
    if (
      !signedHeaders.includes('host') ||
      !(await signatureMatches(
        request,
        body,
        issued,
        options.region,
        signedHeaders,
        signature,
        new Date(signingDate),
      ))
    ) {
      return deny(
        'bad-signature',
        'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.',
      );
    }

    note('forwarded');
    const forwarded = await options.handle(
      new Request(`http://api.internal${path}`, {
        method,
        headers: { 'content-type': String(request.headers['content-type'] ?? 'application/json') },
        ...(body.length > 0 ? { body: body.toString('utf8') } : {}),
      }),
      issued.identityId,
    );
    const headers: Record<string, string> = { ...corsHeaders(origin) };
    forwarded.headers.forEach((value, name) => {
      headers[name] = value;
    });
    response.writeHead(forwarded.status, headers);
    response.end(Buffer.from(await forwarded.arrayBuffer()));
  };

  const server = createServer((request, response) => {
    answer(request, response).catch((error: unknown) => {
      response.writeHead(500, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ message: (error as Error).message }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/// <reference lib="dom" />
/**
 * How the page reaches its API. Two kinds of page exist:
 *
 * - **plain**: the local monitor's page, or a static copy of it, calling an API that needs no signature.
 *   The API's base URL is `?api=`, else `<meta name="walwatch-api">`, else the page's own origin.
 * - **aws**: the hosted page next to the deployed HTTP API, which has IAM auth. The user signs in with the
 *   Cognito user pool, the identity pool turns the ID token into temporary credentials, and every request is
 *   SigV4-signed. The settings come from a JSON file next to the page (`<meta name="walwatch-config"
 *   content="config.json">`, what the CDK deployment writes) or from meta tags (`walwatch-api`,
 *   `walwatch-region`, `walwatch-user-pool-id`, `walwatch-user-pool-client-id`, `walwatch-identity-pool-id`).
 *   `?api=` is ignored there: signed requests go only to the configured API.
 */
import { resolveApiBase } from './api.js';

/** What the signed-in page needs: the API and the Cognito pools that give access to it. */
export interface AwsSiteConfig {
  /** Base URL of the HTTP API, without a trailing slash. */
  readonly apiUrl: string;
  /** Region of the API and both pools. */
  readonly region: string;
  /** The user pool people sign in to (`eu-central-1_AbCdEf123`). */
  readonly userPoolId: string;
  /** The user pool's app client (no secret). */
  readonly userPoolClientId: string;
  /** The identity pool that exchanges an ID token for credentials (`eu-central-1:uuid`). */
  readonly identityPoolId: string;
}

/** The page's configuration, or why it has none. */
export type SiteConfig =
  | { readonly kind: 'plain'; readonly apiBase: string }
  | { readonly kind: 'aws'; readonly aws: AwsSiteConfig }
  | { readonly kind: 'invalid'; readonly message: string };

/** The names of `config.json`'s fields, each also a meta tag `walwatch-<kebab name>` (`apiUrl` is `walwatch-api`). */
const META_NAMES: Record<keyof AwsSiteConfig, string> = {
  apiUrl: 'walwatch-api',
  region: 'walwatch-region',
  userPoolId: 'walwatch-user-pool-id',
  userPoolClientId: 'walwatch-user-pool-client-id',
  identityPoolId: 'walwatch-identity-pool-id',
};

const REGION = /^[a-z]{2}(-[a-z]+)+-\d+$/;

/**
 * Checks a configuration object field by field; the message names the first bad field.
 *
 * @example
 * parseAwsSiteConfig(await (await fetch('config.json')).json())
 */
export function parseAwsSiteConfig(value: unknown): AwsSiteConfig | { readonly error: string } {
  if (typeof value !== 'object' || value === null) return { error: 'the configuration is not a JSON object' };
  const record = value as Record<string, unknown>;
  const fields = {} as Record<keyof AwsSiteConfig, string>;
  for (const name of Object.keys(META_NAMES) as (keyof AwsSiteConfig)[]) {
    const field = record[name];
    if (typeof field !== 'string' || field.trim() === '') return { error: `${name} is missing` };
    fields[name] = field.trim();
  }
  let api: URL;
  try {
    api = new URL(fields.apiUrl);
  } catch {
    return { error: `apiUrl is not a URL: ${fields.apiUrl}` };
  }
  if (api.protocol !== 'https:' && api.hostname !== '127.0.0.1' && api.hostname !== 'localhost') {
    return { error: `apiUrl must use https, got ${fields.apiUrl}` };
  }
  if (!REGION.test(fields.region)) return { error: `region is not a region name: ${fields.region}` };
  for (const name of ['userPoolId', 'identityPoolId'] as const) {
    if (!fields[name].startsWith(`${fields.region}${name === 'userPoolId' ? '_' : ':'}`)) {
      return { error: `${name} ${fields[name]} is not in region ${fields.region}` };
    }
  }
  return { ...fields, apiUrl: fields.apiUrl.replace(/\/+$/, '') };
}

function meta(document: Document, name: string): string | undefined {
  return document.querySelector<HTMLMetaElement>(`meta[name="${name}"]`)?.content;
}

/**
 * Reads the page's configuration: the JSON file named by `<meta name="walwatch-config">`, else the sign-in
 * meta tags, else a plain page (see the module comment). A file that cannot be read or a field that is
 * wrong gives `invalid` with the reason, for the page to show.
 */
export async function loadSiteConfig(
  location: Location,
  document: Document,
  fetchJson: (url: string) => Promise<unknown> = defaultFetchJson,
): Promise<SiteConfig> {
  const file = meta(document, 'walwatch-config');
  let source: unknown;
  if (file) {
    const url = new URL(file, location.href).href;
    try {
      source = await fetchJson(url);
    } catch (error) {
      return { kind: 'invalid', message: `cannot read ${url}: ${(error as Error).message}` };
    }
  } else if (meta(document, META_NAMES.userPoolId) !== undefined) {
    source = Object.fromEntries(
      Object.entries(META_NAMES).map(([field, name]) => [field, meta(document, name)]),
    );
  } else {
    return { kind: 'plain', apiBase: resolveApiBase(location, document) };
  }
  const parsed = parseAwsSiteConfig(source);
  return 'error' in parsed
    ? { kind: 'invalid', message: `the sign-in configuration is wrong: ${parsed.error}` }
    : { kind: 'aws', aws: parsed };
}

async function defaultFetchJson(url: string): Promise<unknown> {
  const response = await fetch(url, { cache: 'no-store' });
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  return response.json();
}

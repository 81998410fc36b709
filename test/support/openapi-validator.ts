/**
 * Holds an API's answers to its own OpenAPI 3.1 document: wraps a Hono app so that every response a test
 * receives is validated (JSON Schema 2020-12, with Ajv) against the schema the document gives for that
 * route and status. A route the document does not list, a status it does not declare, or a body that does
 * not match fails the test that made the request.
 */
import { Ajv2020 } from 'ajv/dist/2020.js';

interface OpenApiDocument {
  readonly paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
  readonly components?: { readonly schemas?: Record<string, unknown> };
}

/** Thrown when a response does not match the document. */
export class OpenApiMismatchError extends Error {
  override readonly name = 'OpenApiMismatchError';
}

/** Something with Hono's `request`. */
export interface RequestableApp {
  request(path: string, init?: RequestInit): Response | Promise<Response>;
}

const ERROR_ROUTE = 'no-route';

/** The document's path templates as patterns (`/clusters/{id}` → `^/clusters/[^/]+$`). */
function matcherOf(document: OpenApiDocument) {
  const templates = Object.keys(document.paths).map((template) => ({
    template,
    pattern: new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`),
    literal: !template.includes('{'),
  }));
  // Literal paths first, so `/clusters` never matches a template meant for `/clusters/{id}`.
  templates.sort((a, b) => Number(b.literal) - Number(a.literal));
  return (path: string) => templates.find((t) => t.pattern.test(path))?.template;
}

/** Fetches the app's `/openapi.json` and returns a validator for its responses. */
export async function loadOpenApiValidator(app: RequestableApp) {
  const response = await app.request('/openapi.json');
  if (response.status !== 200)
    throw new OpenApiMismatchError(`GET /openapi.json answered ${response.status}`);
  const document = (await response.json()) as OpenApiDocument;
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  ajv.addSchema({ $id: 'openapi.json', components: document.components ?? {} });
  const match = matcherOf(document);
  const compiled = new Map<string, ReturnType<typeof ajv.compile>>();

  const validatorFor = (template: string, method: string, status: number) => {
    const key = `${method} ${template} ${status}`;
    const known = compiled.get(key);
    if (known) return known;
    const responses = document.paths[template]?.[method]?.responses ?? {};
    if (!(String(status) in responses))
      throw new OpenApiMismatchError(
        `${method.toUpperCase()} ${template} answered ${status}, not in the document`,
      );
    // Response schemas refer to `#/components/...`: resolve them against the document's components.
    const schema = JSON.parse(
      JSON.stringify(
        (responses[String(status)] as { content: Record<string, { schema: unknown }> }).content[
          'application/json'
        ]?.schema ?? {},
      ).replace(/"#\/components\//g, '"openapi.json#/components/'),
    ) as object;
    const validate = ajv.compile(schema);
    compiled.set(key, validate);
    return validate;
  };

  return {
    document,
    /** Checks one response; throws `OpenApiMismatchError` when it does not match. */
    async check(method: string, path: string, response: Response): Promise<void> {
      const pathname = new URL(path, 'http://api.test').pathname;
      const template = match(pathname);
      const lower = method.toLowerCase();
      if (response.status === 304) {
        // Not Modified has no body: the document must declare it for the route.
        const responses = template === undefined ? {} : (document.paths[template]?.[lower]?.responses ?? {});
        if (!('304' in responses))
          throw new OpenApiMismatchError(
            `${method.toUpperCase()} ${pathname} answered 304, not in the document`,
          );
        if ((await response.clone().text()) !== '')
          throw new OpenApiMismatchError(`${method} ${pathname} 304: the answer has a body`);
        return;
      }
      const body: unknown = await response.clone().json();
      if (template === undefined || !document.paths[template]?.[lower]) {
        // Unknown routes and methods answer the document's error shape.
        const validate = ajv.getSchema(ERROR_ROUTE) ?? compileError();
        if (!validate(body))
          throw new OpenApiMismatchError(`${method} ${pathname}: ${ajv.errorsText(validate.errors)}`);
        return;
      }
      const validate = validatorFor(template, lower, response.status);
      if (!validate(body))
        throw new OpenApiMismatchError(
          `${method} ${pathname} ${response.status}: ${ajv.errorsText(validate.errors)}`,
        );
    },
  };

  function compileError() {
    ajv.addSchema({ $ref: 'openapi.json#/components/schemas/Error' }, ERROR_ROUTE);
    return ajv.getSchema(ERROR_ROUTE) as ReturnType<typeof ajv.compile>;
  }
}

/**
 * Wraps an app so each response of `request` is validated against the app's own document (fetched from
 * its `/openapi.json` on the first request).
 */
export function validatingApp<A extends RequestableApp>(app: A): A {
  let validator: ReturnType<typeof loadOpenApiValidator> | undefined;
  return new Proxy(app, {
    get(target, property, receiver) {
      if (property !== 'request') return Reflect.get(target, property, receiver);
      return async (path: string, init?: RequestInit) => {
        validator ??= loadOpenApiValidator(target);
        const response = await target.request(path, init);
        await (await validator).check(init?.method ?? 'GET', path, response);
        return response;
      };
    },
  });
}

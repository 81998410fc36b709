import type { z } from '@hono/zod-openapi';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { createMemoryMonitorData } from '../../../shared/api/monitor-data.js';
import { createApiRouter } from '../../../shared/api/router.js';
import type { clusterReportSchema, restorePlanSchema } from '../../../shared/api/schemas.js';
import type { ClusterReport } from '../../../shared/core/report.js';
import type { RestorePlan } from '../../../shared/core/restore-plan.js';
import { buildClusterStates } from '../../../shared/core/state.js';
import { contentLookup, generateArchive } from '../../support/archive-generator.js';
import { loadOpenApiValidator, OpenApiMismatchError } from '../../support/openapi-validator.js';

const MIB = 1024 * 1024;
const CLUSTER = 'spilo/superman/wal/15';

function router() {
  const objects = generateArchive({
    clusterId: CLUSTER,
    segmentSize: 16 * MIB,
    segments: 12,
    switches: [],
    backups: [1],
  });
  return createApiRouter({
    data: createMemoryMonitorData(buildClusterStates(objects, contentLookup(objects), () => 16 * MIB)),
    now: () => Date.parse('2026-11-01T00:20:00Z'),
    callerOf: () => 'local',
  });
}

/** True when A and B are assignable both ways (readonly aside). */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;

describe('the OpenAPI document', () => {
  it('is OpenAPI 3.1 served at /openapi.json, with the report schemas as components', async () => {
    const response = await router().request('/openapi.json');
    expect(response.status).toBe(200);
    const document = (await response.json()) as {
      openapi: string;
      info: { title: string };
      components: { schemas: Record<string, unknown> };
    };
    expect(document.openapi).toBe('3.1.0');
    expect(document.info.title).toBe('walwatch query API');
    expect(Object.keys(document.components.schemas)).toEqual(
      expect.arrayContaining(['ClusterReport', 'Gap', 'Backup', 'RestorePlan', 'Error', 'FleetEntry']),
    );
  });

  it('lists every route the router serves, and no other', async () => {
    const app = router();
    const document = (await (await app.request('/openapi.json')).json()) as {
      paths: Record<string, Record<string, unknown>>;
    };
    const documented = Object.entries(document.paths)
      .flatMap(([path, methods]) => Object.keys(methods).map((method) => `${method.toUpperCase()} ${path}`))
      .sort();
    const served = [
      ...new Set(
        app.routes
          .filter((route) => route.method !== 'ALL' && route.path !== '/openapi.json')
          .map((route) => `${route.method} ${route.path.replace(/:([A-Za-z]+)/g, '{$1}')}`),
      ),
    ].sort();
    expect(served).toEqual(documented);
    expect(served).toContain('POST /clusters/{id}/gaps/{gapId}/ack');
  });

  it('describes the same report and restore plan as the core types', () => {
    expectTypeOf<Same<z.infer<typeof clusterReportSchema>, ClusterReport>>().toEqualTypeOf<true>();
    expectTypeOf<Same<z.infer<typeof restorePlanSchema>, RestorePlan>>().toEqualTypeOf<true>();
  });

  it('rejects an answer with a field the document does not describe, a missing field or an undeclared status', async () => {
    const app = router();
    const validator = await loadOpenApiValidator(app);
    const real = await app.request(`/clusters/${encodeURIComponent(CLUSTER)}`);
    await expect(validator.check('GET', `/clusters/${encodeURIComponent(CLUSTER)}`, real)).resolves.toBe(
      undefined,
    );
    const body = (await real.clone().json()) as { generatedAt: string; cluster: Record<string, unknown> };
    const answer = (value: unknown, status = 200) => new Response(JSON.stringify(value), { status });
    const path = `/clusters/${encodeURIComponent(CLUSTER)}`;
    await expect(
      validator.check('GET', path, answer({ ...body, cluster: { ...body.cluster, secret: 1 } })),
    ).rejects.toThrow(OpenApiMismatchError);
    const { status: _status, ...withoutStatus } = body.cluster;
    await expect(validator.check('GET', path, answer({ ...body, cluster: withoutStatus }))).rejects.toThrow(
      /status/,
    );
    await expect(validator.check('GET', path, answer(body, 201))).rejects.toThrow(/not in the document/);
  });
});

import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, getSchemaPath, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { AppConfig } from './config/app-config.js';
import { errorResponse, ErrorResponseDto } from './http/api-errors.js';
import { REQUEST_ID_HEADER, REQUEST_ID_MAX_LENGTH } from './common/logging-http.js';

const OPERATIONS = ['get', 'put', 'post', 'delete', 'patch'] as const;
type Operation = {
  security?: unknown[];
  parameters?: unknown[];
  requestBody?: unknown;
  responses: Record<string, unknown>;
};

export function buildOpenApi(app: INestApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('K8s Deployment Manager')
    .setDescription(
      'Create, update and delete Kubernetes Deployments asynchronously. Write calls answer 202 with a request ' +
        'record at once; poll GET /v1/requests/{requestId} until status is SUCCESS or FAILURE. ' +
        'Every error body is {statusCode, error, message, code?}. Every /v1 call needs an API key: ' +
        'Authorization: Bearer kdm_... (Swagger UI: "Authorize"). A method a path does not list answers 405 ' +
        'with Allow; a body that is not application/json answers 415. No string may hold NUL (\\u0000).',
    )
    .setVersion('1')
    .setOpenAPIVersion('3.1.0')
    .addBearerAuth({
      type: 'http',
      scheme: 'bearer',
      bearerFormat: 'kdm_ API key',
      description: 'An API key (kdm_...): POST /v1/api-keys, `npm run keys -- create`, or ADMIN_API_KEY',
    })
    .build();
  const doc = SwaggerModule.createDocument(app, config, { extraModels: [ErrorResponseDto] });
  const errorSchema = { $ref: getSchemaPath(ErrorResponseDto) };
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const method of OPERATIONS) {
      const op = (item as Record<string, Operation | undefined>)[method];
      if (!op) continue;
      // @Access on a class and on one of its methods each add the bearer requirement: list it once.
      if (Array.isArray(op.security))
        op.security = [...new Map(op.security.map((r) => [JSON.stringify(r), r])).values()];
      if (!path.startsWith('/v1/')) continue;
      op.parameters = [...(op.parameters ?? []), REQUEST_ID_PARAMETER];
      // What every /v1 route can answer, whatever its controller declares: the edge's guards,
      // the input pipes, the body parser and PostgreSQL being away.
      const statuses = [400, 401, 403, 429, 503, ...(op.requestBody ? [413, 415] : [])];
      for (const status of statuses) op.responses[status] ??= errorResponse(status, errorSchema);
      op.responses = Object.fromEntries(Object.entries(op.responses).sort(([a], [b]) => a.localeCompare(b)));
    }
  }
  // replicas' maximum is MAX_REPLICAS, which is configuration.
  const maxReplicas = app.get(AppConfig, { strict: false }).MAX_REPLICAS;
  for (const schema of Object.values(doc.components?.schemas ?? {})) {
    const replicas = (schema as { properties?: Record<string, { maximum?: number; type?: string }> }).properties
      ?.replicas;
    if (replicas?.type === 'integer' && 'minimum' in replicas) replicas.maximum = maxReplicas;
  }
  // Bodies with a field the DTO does not list are refused (forbidNonWhitelisted): say so.
  closeRequestBodies(doc);
  const patch = doc.components?.schemas?.PatchDeploymentDto as { minProperties?: number } | undefined;
  if (patch) patch.minProperties = 1;
  toOpenApi31(doc);
  return doc;
}

type Schema = Record<string, unknown>;

/** additionalProperties: false on every component schema a request body reaches, unless it says otherwise. */
function closeRequestBodies(doc: OpenAPIObject) {
  const schemas = (doc.components?.schemas ?? {}) as Record<string, Schema>;
  const seen = new Set<string>();
  const visit = (node: unknown) => {
    if (Array.isArray(node)) return node.forEach(visit);
    if (!node || typeof node !== 'object') return;
    const ref = (node as Schema).$ref;
    if (typeof ref === 'string') {
      const name = ref.split('/').pop()!;
      if (seen.has(name) || !schemas[name]) return;
      seen.add(name);
      schemas[name].additionalProperties ??= false;
      return visit(schemas[name]);
    }
    Object.values(node).forEach(visit);
  };
  for (const item of Object.values(doc.paths))
    for (const method of OPERATIONS) visit((item as Record<string, Operation | undefined>)[method]?.requestBody);
}

/**
 * @nestjs/swagger writes OpenAPI 3.0's `nullable`; 3.1 (JSON Schema 2020-12, which can also say
 * what map keys may be: propertyNames) spells a nullable type as a type list, or a choice with null.
 */
function toOpenApi31(node: unknown): void {
  if (Array.isArray(node)) return node.forEach(toOpenApi31);
  if (!node || typeof node !== 'object') return;
  const o = node as Schema;
  Object.values(o).forEach(toOpenApi31);
  if (o.nullable !== true) return;
  delete o.nullable;
  if (Array.isArray(o.allOf)) {
    o.oneOf = [...(o.allOf as unknown[]), { type: 'null' }];
    delete o.allOf;
    delete o.type;
  } else if (typeof o.type === 'string') o.type = [o.type, 'null'];
}

const REQUEST_ID_PARAMETER = {
  name: REQUEST_ID_HEADER,
  in: 'header',
  required: false,
  description:
    `Correlation id for logs and the request record. Used when it is 1-${REQUEST_ID_MAX_LENGTH} visible ASCII ` +
    'characters and does not look like an API key; otherwise (or when absent) the server makes a UUID. ' +
    'Echoed in the response header of the same name.',
  schema: { type: 'string' },
};

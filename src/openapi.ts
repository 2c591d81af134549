import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { ErrorResponseDto } from './http/api-errors.js';

export function buildOpenApi(app: INestApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('K8s Deployment Manager')
    .setDescription(
      'Create, update and delete Kubernetes Deployments asynchronously. Write calls answer 202 with a request ' +
        'record at once; poll GET /v1/requests/{requestId} until status is SUCCESS or FAILURE. ' +
        'Every error body is {statusCode, error, message, code?}. Every /v1 call needs an API key: ' +
        'Authorization: Bearer kdm_... (Swagger UI: "Authorize").',
    )
    .setVersion('1')
    .addBearerAuth({
      type: 'http',
      scheme: 'bearer',
      bearerFormat: 'kdm_ API key',
      description: 'An API key (kdm_...): POST /v1/api-keys, `npm run keys -- create`, or ADMIN_API_KEY',
    })
    .build();
  const doc = SwaggerModule.createDocument(app, config, { extraModels: [ErrorResponseDto] });
  // @Access on a class and on one of its methods each add the bearer requirement: list it once.
  for (const ops of Object.values(doc.paths))
    for (const op of Object.values(ops as Record<string, { security?: unknown[] }>))
      if (Array.isArray(op?.security))
        op.security = [...new Map(op.security.map((r) => [JSON.stringify(r), r])).values()];
  return doc;
}

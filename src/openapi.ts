import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { ErrorResponseDto } from './http/api-errors.js';

export function buildOpenApi(app: INestApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('K8s Deployment Manager')
    .setDescription(
      'Create, update and delete Kubernetes Deployments asynchronously. Write calls answer 202 with a request ' +
        'record at once; poll GET /v1/requests/{requestId} until status is SUCCESS or FAILURE. ' +
        'Every error body is {statusCode, error, message, code?}.',
    )
    .setVersion('1')
    .build();
  return SwaggerModule.createDocument(app, config, { extraModels: [ErrorResponseDto] });
}

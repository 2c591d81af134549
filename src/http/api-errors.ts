import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiResponse } from '@nestjs/swagger';

/** The body of every error response. */
export class ErrorResponseDto {
  @ApiProperty({ example: 400 })
  statusCode!: number;

  @ApiProperty({ example: 'Bad Request' })
  error!: string;

  @ApiProperty({
    oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }],
    example: ['replicas must not be less than 0', 'image must be an image reference with no whitespace'],
  })
  message!: string | string[];

  @ApiProperty({ required: false, example: 'ValidationFailed', description: 'The domain error code' })
  code?: string;

  @ApiProperty({
    required: false,
    type: Object,
    additionalProperties: true,
    example: { newerRequestId: '6f1c0c3e-2b1f-4c1e-9a55-0d1f3c2b7a10', newerStatus: 'SUCCESS' },
    description: 'Facts about the error that a client may act on, by code (RetrySuperseded: the newer request)',
  })
  details?: Record<string, unknown>;
}

const DESCRIPTIONS: Record<number, string> = {
  400: 'Invalid input; message names each bad field',
  401: 'code AuthenticationRequired: no API key, or one that is malformed, unknown, revoked or expired',
  403:
    "code PermissionDenied: the API key's role or namespace scope does not allow it; code NamespaceNotAllowed: " +
    'outside MANAGED_NAMESPACES, or a Kubernetes system namespace',
  404: 'Not found',
  409: 'Not possible in the current state',
  413: 'Body larger than MAX_BODY_BYTES',
  415: 'code UnsupportedMediaType: the body is not application/json',
  422: 'Idempotency-Key reused with a different body',
  429: 'code RateLimited: too many calls from this API key (or address, without one) in the window',
  503: 'A dependency (PostgreSQL, NATS, Kubernetes) is unavailable; retry after Retry-After seconds',
};

const RETRY_AFTER = {
  'Retry-After': { description: 'Seconds to wait before retrying', schema: { type: 'integer', example: 5 } },
};

const HEADERS: Record<number, Record<string, { description: string; schema: Record<string, unknown> }>> = {
  401: { 'WWW-Authenticate': { description: 'Bearer', schema: { type: 'string', example: 'Bearer' } } },
  429: RETRY_AFTER,
  503: RETRY_AFTER,
};

export const ApiErrors = (...statuses: number[]) =>
  applyDecorators(
    ...statuses.map((status) =>
      ApiResponse({
        status,
        description: DESCRIPTIONS[status],
        type: ErrorResponseDto,
        ...(HEADERS[status] ? { headers: HEADERS[status] } : {}),
      }),
    ),
  );

/** The same response as a plain OpenAPI object, for the statuses buildOpenApi adds to every /v1 route. */
export const errorResponse = (status: number, schema: { $ref: string }) => ({
  description: DESCRIPTIONS[status],
  ...(HEADERS[status] ? { headers: HEADERS[status] } : {}),
  content: { 'application/json': { schema } },
});

/** One error status with the route's own description (and the status's usual headers). */
export const ApiError = (status: number, description: string) =>
  ApiResponse({
    status,
    description,
    type: ErrorResponseDto,
    ...(HEADERS[status] ? { headers: HEADERS[status] } : {}),
  });

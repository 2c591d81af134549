import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsIn, IsISO8601, IsOptional, IsString, IsUUID } from 'class-validator';
import { API_ROLES, type ApiRole } from '../domain/principal.js';
import { MAX_NAMESPACE_PATTERNS, NAMESPACE_PATTERN } from './api-key-input.js';
import type { ApiKeyEntity } from './api-key.entity.js';

/** The shape of POST /v1/api-keys; ApiKeysService checks the content (patterns, admin scope, expiry). */
export class CreateApiKeyDto {
  @ApiProperty({ example: 'ci-team-a', description: '1 to 100 printable ASCII characters' })
  @IsString()
  name!: string;

  @ApiProperty({ enum: API_ROLES, example: 'writer' })
  @IsIn(API_ROLES, { message: `role must be one of ${API_ROLES.join(', ')}` })
  role!: ApiRole;

  @ApiPropertyOptional({
    type: [String],
    example: ['team-a', 'team-b-*'],
    description:
      'Namespace names and prefix patterns (team-*), or ["*"] for every namespace. Required for reader and writer; ' +
      'an admin key always has ["*"]. Scopes never widen MANAGED_NAMESPACES.',
  })
  @IsOptional()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(MAX_NAMESPACE_PATTERNS)
  @IsString({ each: true })
  namespaces?: string[];

  @ApiPropertyOptional({ example: '2026-12-31T00:00:00Z', description: 'ISO 8601 date-time in the future' })
  @IsOptional()
  @IsISO8601({ strict: true }, { message: 'expiresAt must be an ISO 8601 date-time' })
  expiresAt?: string;
}

export class ApiKeyIdParams {
  @ApiProperty({
    format: 'uuid',
    pattern: '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$',
  })
  @IsUUID('all', { message: 'id must be an API key id (a UUID)' })
  id!: string;
}

const KEY_NAME = {
  type: 'string',
  minLength: 1,
  maxLength: 100,
  pattern: '^[\\x20-\\x7e]*[\\x21-\\x7e][\\x20-\\x7e]*$',
  description: '1 to 100 printable ASCII characters, not only spaces',
  example: 'ci-team-a',
};
const EXPIRES_AT = {
  type: 'string',
  format: 'date-time',
  description: 'ISO 8601 date-time in the future',
  example: '2030-12-31T00:00:00Z',
};

/** The body of POST /v1/api-keys as the service checks it: an admin key has scope *; the others need a scope. */
export const CREATE_API_KEY_SCHEMA = {
  oneOf: [
    {
      title: 'An admin key (scope: every namespace)',
      type: 'object',
      additionalProperties: false,
      required: ['name', 'role'],
      properties: {
        name: KEY_NAME,
        role: { type: 'string', enum: ['admin'] },
        namespaces: { type: 'array', items: { type: 'string', enum: ['*'] }, minItems: 1, maxItems: 1 },
        expiresAt: EXPIRES_AT,
      },
    },
    {
      title: 'A reader or writer key, with its namespace scope',
      type: 'object',
      additionalProperties: false,
      required: ['name', 'role', 'namespaces'],
      properties: {
        name: KEY_NAME,
        role: { type: 'string', enum: ['reader', 'writer'] },
        namespaces: {
          type: 'array',
          minItems: 1,
          maxItems: MAX_NAMESPACE_PATTERNS,
          items: { type: 'string', maxLength: 63, pattern: NAMESPACE_PATTERN.source },
          description:
            'Namespace names and prefix patterns (team-*), or ["*"] for every namespace. Scopes never widen ' +
            'MANAGED_NAMESPACES.',
          example: ['team-a', 'team-b-*'],
        },
        expiresAt: EXPIRES_AT,
      },
    },
  ],
};

/** An API key as lists show it: never the secret or its hash. */
export class ApiKeyDto {
  @ApiProperty({ format: 'uuid', example: '5d0c8a3e-8f0e-4d5c-9a44-3b2f1f0a9c11' })
  id!: string;

  @ApiProperty({ example: 'ci-team-a' })
  name!: string;

  @ApiProperty({ enum: API_ROLES, example: 'writer' })
  role!: ApiRole;

  @ApiProperty({ type: [String], example: ['team-a', 'team-b-*'] })
  namespaces!: string[];

  @ApiProperty({ example: 'kdm_Xc3vB8qZ', description: 'The start of the key, to recognise it; not a secret' })
  prefix!: string;

  @ApiProperty({ example: '2026-01-10T09:30:00.000Z' })
  createdAt!: string;

  @ApiProperty({ type: String, nullable: true, example: null })
  expiresAt!: string | null;

  @ApiProperty({ type: String, nullable: true, example: null })
  revokedAt!: string | null;

  @ApiProperty({ type: String, nullable: true, example: '2026-01-10T09:41:00.000Z', description: 'To the minute' })
  lastUsedAt!: string | null;
}

/** The answer to POST /v1/api-keys: the only time the key itself is shown. */
export class CreatedApiKeyDto extends ApiKeyDto {
  @ApiProperty({
    example: 'kdm_Xc3vB8qZ2mRk1y0Wd7uTnPq4sLh9eJfGaVbNcYxDzEo',
    description: 'The API key. Shown only in this answer: store it now.',
  })
  key!: string;
}

export class ApiKeyListDto {
  @ApiProperty({ type: [ApiKeyDto] })
  items!: ApiKeyDto[];
}

export function toApiKeyDto(k: ApiKeyEntity): ApiKeyDto {
  return {
    id: k.id,
    name: k.name,
    role: k.role,
    namespaces: k.namespaces,
    prefix: k.keyPrefix,
    createdAt: k.createdAt.toISOString(),
    expiresAt: k.expiresAt?.toISOString() ?? null,
    revokedAt: k.revokedAt?.toISOString() ?? null,
    lastUsedAt: k.lastUsedAt?.toISOString() ?? null,
  };
}

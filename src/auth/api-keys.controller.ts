import { Body, Controller, Delete, Get, HttpCode, Param, Post } from '@nestjs/common';
import { ApiBody, ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ApiErrors } from '../http/api-errors.js';
import { Access } from './access.decorator.js';
import {
  ApiKeyDto,
  ApiKeyIdParams,
  ApiKeyListDto,
  CREATE_API_KEY_SCHEMA,
  CreateApiKeyDto,
  CreatedApiKeyDto,
  toApiKeyDto,
} from './api-key.dto.js';
import { ApiKeysService } from './api-keys.service.js';

@ApiTags('api keys')
@Controller('v1/api-keys')
@Access('admin')
export class ApiKeysController {
  constructor(private readonly keys: ApiKeysService) {}

  @Post()
  @HttpCode(201)
  @ApiOperation({
    summary: 'Create an API key',
    description: 'The answer holds the key itself; it is shown only this once (only its SHA-256 is stored).',
  })
  @ApiBody({ schema: CREATE_API_KEY_SCHEMA })
  @ApiCreatedResponse({ type: CreatedApiKeyDto })
  @ApiErrors(400, 503)
  async create(@Body() body: CreateApiKeyDto): Promise<CreatedApiKeyDto> {
    const { key, secret } = await this.keys.create({
      name: body.name,
      role: body.role,
      namespaces: body.namespaces,
      expiresAt: body.expiresAt === undefined ? undefined : new Date(body.expiresAt),
    });
    return { ...toApiKeyDto(key), key: secret };
  }

  @Get()
  @ApiOperation({ summary: 'List API keys, newest first (revoked ones too); never their secrets' })
  @ApiOkResponse({ type: ApiKeyListDto })
  @ApiErrors(503)
  async list(): Promise<ApiKeyListDto> {
    return { items: (await this.keys.list()).map(toApiKeyDto) };
  }

  @Delete(':id')
  @ApiOperation({
    summary: 'Revoke an API key',
    description: 'Calls with it answer 401 from then on (other API replicas within API_KEY_CACHE_MS). Repeatable.',
  })
  @ApiOkResponse({ type: ApiKeyDto })
  @ApiErrors(400, 404, 503)
  async revoke(@Param() { id }: ApiKeyIdParams): Promise<ApiKeyDto> {
    return toApiKeyDto(await this.keys.revoke(id));
  }
}

import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsEnum, IsOptional } from 'class-validator';
import { DNS_LABEL, IsDns1123Label } from '../../domain/validators.js';
import { PageQuery } from '../../http/pagination.js';
import { RequestStatus } from '../deployment-request.entity.js';

export class ListRequestsQuery extends PageQuery {
  @ApiPropertyOptional({ example: 'default', ...DNS_LABEL })
  @IsOptional()
  @IsDns1123Label()
  namespace?: string;

  @ApiPropertyOptional({ example: 'web', ...DNS_LABEL })
  @IsOptional()
  @IsDns1123Label()
  name?: string;

  @ApiPropertyOptional({ enum: RequestStatus })
  @IsOptional()
  @IsEnum(RequestStatus, { message: `status must be one of ${Object.values(RequestStatus).join(', ')}` })
  status?: RequestStatus;
}

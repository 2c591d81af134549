import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsEnum, IsOptional, IsString, Matches, MaxLength } from 'class-validator';
import { DNS1123_LABEL } from '../../common/k8s-validators.js';
import { PageQuery } from '../../common/pagination.js';
import { RequestStatus } from '../deployment-request.entity.js';

export class ListRequestsQuery extends PageQuery {
  @ApiPropertyOptional({ example: 'default' })
  @IsOptional()
  @IsString()
  @MaxLength(63)
  @Matches(DNS1123_LABEL, { message: 'namespace must be a DNS-1123 label' })
  namespace?: string;

  @ApiPropertyOptional({ example: 'web' })
  @IsOptional()
  @IsString()
  @MaxLength(63)
  @Matches(DNS1123_LABEL, { message: 'name must be a DNS-1123 label' })
  name?: string;

  @ApiPropertyOptional({ enum: RequestStatus })
  @IsOptional()
  @IsEnum(RequestStatus, { message: `status must be one of ${Object.values(RequestStatus).join(', ')}` })
  status?: RequestStatus;
}

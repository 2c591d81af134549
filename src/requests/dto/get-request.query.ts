import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, Max, Min, ValidateIf } from 'class-validator';

export const WAIT_FOR = ['done', 'rollout'] as const;
export type WaitFor = (typeof WAIT_FOR)[number];

export class GetRequestQuery {
  @ApiPropertyOptional({
    enum: WAIT_FOR,
    description:
      'Long-poll: answer once the request is terminal (done: SUCCESS or FAILURE) or its rollout receipt is final ' +
      '(rollout: COMPLETE, FAILED, SUPERSEDED or GONE; a FAILURE request, which has none, also ends the wait, and so ' +
      'does a SUCCESS accepted before receipts existed), or ' +
      'at the timeout with the current record and Retry-After.',
  })
  @IsOptional()
  @IsIn(WAIT_FOR, { message: `wait must be one of ${WAIT_FOR.join(', ')}` })
  wait?: WaitFor;

  @ApiPropertyOptional({
    type: 'integer',
    minimum: 1,
    maximum: 60,
    default: 30,
    description: 'Seconds to wait; ignored without wait',
  })
  @ValidateIf((q: GetRequestQuery) => q.timeout !== undefined)
  @Type(() => Number)
  @IsInt({ message: 'timeout must be a whole number of seconds' })
  @Min(1, { message: 'timeout must be at least 1 second' })
  @Max(60, { message: 'timeout must be at most 60 seconds' })
  timeout?: number;
}

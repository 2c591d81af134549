import { Controller } from '@nestjs/common';
import { MessagePattern } from '@nestjs/microservices';
import { plainToInstance } from 'class-transformer';
import { IsEnum, IsObject, IsOptional, IsString, Length, validateSync } from 'class-validator';
import { DomainError, ErrorCode } from '../domain/domain-error.js';
import type { DeploymentSpecPatch } from '../domain/deployment-spec.js';
import type { DryRunOutcome } from '../domain/spec-diff.js';
import { Operation, SpecMode } from '../requests/deployment-request.entity.js';
import { DRY_RUN_REQUEST, type DryRunMessage } from '../requests/dry-run-subject.js';
import { DryRunService } from './dry-run.service.js';

/** The shape of a dry-run request; its spec was validated by the API, as a request's is. */
class DryRunPayload implements DryRunMessage {
  @IsEnum(Operation)
  operation!: Operation;

  @IsEnum(SpecMode)
  specMode!: SpecMode;

  @IsString()
  @Length(1, 253)
  namespace!: string;

  @IsString()
  @Length(1, 253)
  name!: string;

  @IsOptional()
  @IsObject()
  spec!: DeploymentSpecPatch | null;
}

/** The worker's side of `?dryRun=true`: one worker of the queue group answers each. */
@Controller()
export class DryRunController {
  constructor(private readonly dryRuns: DryRunService) {}

  @MessagePattern(DRY_RUN_REQUEST)
  dryRun(payload: unknown): Promise<DryRunOutcome> {
    const msg = plainToInstance(DryRunPayload, payload ?? {});
    const errors = validateSync(msg);
    if (errors.length)
      throw new DomainError(ErrorCode.ValidationFailed, `bad dry-run message: ${errors.map(String).join('; ')}`);
    return this.dryRuns.run({ ...msg, spec: msg.spec ?? null });
  }
}

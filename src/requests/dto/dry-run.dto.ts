import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsBoolean, IsOptional } from 'class-validator';

const toBoolean = ({ value }: { value: unknown }) => (value === 'true' ? true : value === 'false' ? false : value);

export class DryRunQuery {
  @ApiPropertyOptional({
    type: Boolean,
    default: false,
    example: true,
    description:
      'true: answer 200 with what the write would change, from a server-side dry run (dryRun=All) made by a worker; ' +
      'nothing is recorded or queued, and the call is audited with details.dryRun. Idempotency-Key is ignored.',
  })
  @IsOptional()
  @Transform(toBoolean)
  @IsBoolean({ message: 'dryRun must be true or false' })
  dryRun?: boolean;
}

const VALUE = {
  oneOf: [{ type: 'string' }, { type: 'integer' }, { type: 'null' }],
  description: 'A string or an integer; null when absent on that side',
};

export class SpecChangeDto {
  @ApiProperty({
    example: 'image',
    description:
      'Dotted path in the request-spec shape: image, replicas, env.LOG_LEVEL, resources.limits.cpu, labels.team',
  })
  path!: string;

  @ApiProperty({ ...VALUE, example: 'nginx:1.27' })
  from!: string | number | null;

  @ApiProperty({ ...VALUE, example: 'nginx:1.28' })
  to!: string | number | null;
}

export class DryRunResultDto {
  @ApiProperty({ type: Boolean, enum: [true], example: true })
  dryRun!: true;

  @ApiProperty({ example: true, description: 'Whether any managed field would change' })
  wouldChange!: boolean;

  @ApiProperty({
    type: [SpecChangeDto],
    description:
      "Only fields whose value would change, comparing the live object with the apiserver's dry-run result in " +
      'request-spec shape, so defaults the apiserver fills in are not changes. A create lists every field from ' +
      'null, a delete every field to null.',
  })
  changes!: SpecChangeDto[];

  @ApiProperty({
    type: [String],
    example: ['replicas is owned by field manager "kubectl-scale" now; the write would take it over'],
    description:
      "Kubernetes' Warning headers, then our own (fields another field manager owns that the write takes over)",
  })
  warnings!: string[];
}

import { ArgumentMetadata, BadRequestException, Injectable, PipeTransform } from '@nestjs/common';
import { rawInputProblems } from '../domain/validators.js';

/**
 * Runs before ValidationPipe on bodies, queries and path parameters: refuses, naming the
 * field, what would otherwise crash class-transformer (reserved keys, deep nesting) or
 * PostgreSQL (NUL, lone surrogates), and nulls that would silently drop a field.
 */
@Injectable()
export class RawInputPipe implements PipeTransform {
  transform(value: unknown, metadata: ArgumentMetadata): unknown {
    if (metadata.type !== 'body' && metadata.type !== 'query' && metadata.type !== 'param') return value;
    const problems = rawInputProblems(value, metadata.data ?? '');
    if (problems.length > 0) throw new BadRequestException({ message: problems });
    return value;
  }
}

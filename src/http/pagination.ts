import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { DomainError, ErrorCode } from '../domain/domain-error.js';
import { rawInputProblems } from '../domain/validators.js';
import { IsInt, IsOptional, IsString, Matches, Max, Min } from 'class-validator';

const CURSOR = /^[A-Za-z0-9_-]{1,400}$/;

export class PageQuery {
  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: 500, default: 50 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(500)
  limit?: number;

  @ApiPropertyOptional({
    description:
      'nextCursor from the previous page of the same list, as it was returned (opaque: base64url). Other values ' +
      'answer 400.',
    pattern: CURSOR.source,
  })
  @IsOptional()
  @IsString()
  @Matches(CURSOR, { message: 'cursor is not a cursor this API returned' })
  cursor?: string;
}

/** Opaque cursors: base64url JSON of the sort key of the last row returned. */
export function encodeCursor(key: unknown): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

export function decodeCursor<T>(cursor: string | undefined, check: (v: unknown) => v is T): T | undefined {
  if (!cursor) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(cursor, 'base64url').toString());
  } catch {
    v = undefined;
  }
  // A forged cursor may carry NUL or lone surrogates, which PostgreSQL refuses with an error.
  if (!check(v) || rawInputProblems(v).length > 0)
    throw new DomainError(ErrorCode.ValidationFailed, 'cursor is not a cursor this API returned');
  return v;
}

import { Catch, type RpcExceptionFilter } from '@nestjs/common';
import { throwError, type Observable } from 'rxjs';

/**
 * Hands a message handler's error to the transport exactly as thrown. Without it Nest
 * replaces every error that is not an RpcException with "Internal server error", and
 * JetStreamServer could no longer tell a retryable DomainError from a permanent one.
 */
@Catch()
export class HandlerErrorFilter implements RpcExceptionFilter {
  catch(exception: unknown): Observable<never> {
    return throwError(() => exception);
  }
}

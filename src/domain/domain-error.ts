/**
 * Every failure the domain reports carries one of these codes. Transports map codes
 * in one place each: HTTP statuses in http-exception.filter.ts, JetStream outcomes
 * in jetstream-outcome.ts. Request records store the code as error.code.
 */
export enum ErrorCode {
  // Request intake (API)
  ValidationFailed = 'ValidationFailed',
  NamespaceNotAllowed = 'NamespaceNotAllowed',
  PayloadTooLarge = 'PayloadTooLarge',
  IdempotencyKeyReused = 'IdempotencyKeyReused',
  RequestNotFound = 'RequestNotFound',
  DeploymentNotFound = 'DeploymentNotFound',
  ReconcileRunNotFound = 'ReconcileRunNotFound',
  RequestNotRetryable = 'RequestNotRetryable',
  // Outcomes of applying a request to Kubernetes
  Conflict = 'Conflict',
  ResourceVersionConflict = 'ResourceVersionConflict',
  Forbidden = 'Forbidden',
  NotFound = 'NotFound',
  NamespaceNotFound = 'NamespaceNotFound',
  Invalid = 'Invalid',
  Unauthorized = 'Unauthorized',
  KubernetesUnavailable = 'KubernetesUnavailable',
  KubernetesError = 'KubernetesError',
  DeadlineExceeded = 'DeadlineExceeded',
  DeadLettered = 'DeadLettered',
  // Infrastructure
  QueueUnavailable = 'QueueUnavailable',
  DependencyUnavailable = 'DependencyUnavailable',
  // A retry of a request that a newer request of the same deployment has overtaken
  RetrySuperseded = 'RetrySuperseded',
  /** PostgreSQL cannot be reached or refuses connections: the API answers 503 with Retry-After. */
  DatabaseUnavailable = 'DatabaseUnavailable',
  // The mirror: a resourceVersion that breaks KEP-5504's rules (reported, never crashes)
  InvalidResourceVersion = 'InvalidResourceVersion',
  // Who may call the API
  /** No API key, or one that is malformed, unknown, revoked or expired: 401 with WWW-Authenticate. */
  AuthenticationRequired = 'AuthenticationRequired',
  /** The key's role does not allow the call, or the namespace is outside its scope: 403. */
  PermissionDenied = 'PermissionDenied',
  /** Too many calls from one key (or one address without a key) in the window: 429 with Retry-After. */
  RateLimited = 'RateLimited',
  ApiKeyNotFound = 'ApiKeyNotFound',
  // The HTTP edge
  /** A method the path does not have: 405 with Allow. */
  MethodNotAllowed = 'MethodNotAllowed',
  /** A body that is not JSON: 415. */
  UnsupportedMediaType = 'UnsupportedMediaType',
  // Revisions and rollback
  /** No such revision of the deployment (or none in the key's scope): 404. */
  RevisionNotFound = 'RevisionNotFound',
  /** A rollback while a DELETE is open or after the deployment was deleted: 409. */
  DeploymentBeingDeleted = 'DeploymentBeingDeleted',
  // Events
  /** The API key already holds EVENT_STREAMS_PER_KEY event streams on this API process: 429. */
  TooManyEventStreams = 'TooManyEventStreams',
}

/** Codes whose cause may go away on its own: retried with backoff, never failed at once. */
export const RETRYABLE_CODES: ReadonlySet<ErrorCode> = new Set([
  ErrorCode.KubernetesUnavailable,
  ErrorCode.ResourceVersionConflict,
  ErrorCode.QueueUnavailable,
  ErrorCode.DependencyUnavailable,
  ErrorCode.DatabaseUnavailable,
]);

export class DomainError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'DomainError';
  }

  get retryable(): boolean {
    return RETRYABLE_CODES.has(this.code);
  }
}

export const isDomainError = (e: unknown): e is DomainError => e instanceof DomainError;

import type { AppConfig } from '../config/app-config.js';
import type { DeploymentSpecPatch } from '../domain/deployment-spec.js';
import { controlSubject } from '../messaging/jetstream-topology.js';
import type { Operation, SpecMode } from './deployment-request.entity.js';

/** The pattern of a dry run: `@MessagePattern(DRY_RUN_REQUEST)` on workers, one of them answers. */
export const DRY_RUN_REQUEST = 'dry-run';
/** Where the API asks workers for a dry run (core NATS request/reply). */
export const dryRunSubject = (config: AppConfig) => controlSubject(config, DRY_RUN_REQUEST);

/** The body of a dry-run request: a write as the API would record it, already validated there. */
export interface DryRunMessage {
  operation: Operation;
  specMode: SpecMode;
  namespace: string;
  name: string;
  spec: DeploymentSpecPatch | null;
}

import type { AppConfig } from '../config/app-config.js';
import { controlSubject } from '../messaging/jetstream-topology.js';

/** The pattern of the manual-reconcile request: `@MessagePattern(RECONCILE_REQUEST)`, one reconciler answers. */
export const RECONCILE_REQUEST = 'reconcile';
/** Where the API asks reconcilers for a manual pass (core NATS request/reply). */
export const reconcileSubject = (config: AppConfig) => controlSubject(config, RECONCILE_REQUEST);

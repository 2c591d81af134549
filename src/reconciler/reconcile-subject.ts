import type { AppConfig } from '../config/app-config.js';

export const RECONCILE_QUEUE_GROUP = 'reconcilers';
/** Where the API asks reconcilers for a manual pass (core NATS request/reply, one answers). */
export const reconcileSubject = (config: AppConfig) => `${config.NATS_CONTROL_SUBJECT}.reconcile`;

import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The process's Prometheus registry and the instruments the roles record into. */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();

  readonly requestsAccepted = new Counter({
    name: 'dm_requests_accepted_total',
    help: 'Deployment requests accepted by the API',
    labelNames: ['operation'],
    registers: [this.registry],
  });
  readonly requestsCompleted = new Counter({
    name: 'dm_requests_completed_total',
    help: 'Deployment requests that reached SUCCESS or FAILURE',
    labelNames: ['operation', 'status', 'code'],
    registers: [this.registry],
  });
  readonly messagesHandled = new Counter({
    name: 'dm_jetstream_messages_total',
    help: 'JetStream messages handled, by outcome (ack, nak, deadLetter)',
    labelNames: ['outcome'],
    registers: [this.registry],
  });
  readonly kubernetesCallSeconds = new Histogram({
    name: 'dm_kubernetes_call_seconds',
    help: 'Duration of Kubernetes API calls made by the worker',
    labelNames: ['verb'],
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly watcherEventLagSeconds = new Histogram({
    name: 'dm_watcher_event_lag_seconds',
    help: 'From a watch event arriving (Kubernetes has accepted the change) to PostgreSQL committing its mirror row',
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly watcherEvents = new Counter({
    name: 'dm_watcher_events_total',
    help: 'Watch events applied to the mirror',
    labelNames: ['type'],
    registers: [this.registry],
  });
  readonly watcherRelists = new Counter({
    name: 'dm_watcher_relists_total',
    help: 'Full lists diffed against the mirror, by reason',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  readonly watcherLastEventAge = new Gauge({
    name: 'dm_watcher_last_event_age_seconds',
    help: 'Seconds since the watcher last heard from Kubernetes (event or bookmark)',
    registers: [this.registry],
  });
  readonly watcherLeader = new Gauge({
    name: 'dm_watcher_leader',
    help: '1 while this process is the active watcher',
    registers: [this.registry],
  });
  readonly reconcileRuns = new Counter({
    name: 'dm_reconcile_runs_total',
    help: 'Reconcile passes, by trigger and result',
    labelNames: ['trigger', 'result'],
    registers: [this.registry],
  });

  readonly invalidResourceVersions = new Counter({
    name: 'dm_invalid_resource_versions_total',
    help: 'resourceVersions that break KEP-5504 rules (positive integer, no leading zeros), by where they were seen',
    labelNames: ['source'],
    registers: [this.registry],
  });
  readonly mirrorResets = new Counter({
    name: 'dm_mirror_resets_total',
    help: 'Lists taken as authoritative because the cluster changed or its history went back, by reason',
    labelNames: ['reason'],
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }
}

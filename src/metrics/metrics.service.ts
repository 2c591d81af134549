import { Injectable, Logger } from '@nestjs/common';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** A scrape reads PostgreSQL or JetStream at most this often; scrapes in between get the last reading. */
export const SCRAPE_SOURCE_CACHE_MS = 5_000;
/** A reading that takes longer is abandoned for this scrape, so /metrics answers while a dependency hangs. */
const SCRAPE_SOURCE_TIMEOUT_MS = 2_000;

const LATENCY_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800];
const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** Request counts by status, and the outbox's oldest CREATED request, as one query reads them. */
export interface RequestStats {
  byStatus: { status: string; count: number }[];
  /** Seconds since the oldest request still CREATED was accepted; 0 when none is. */
  oldestCreatedAgeSeconds: number;
}

/** The request consumer's backlog and the dead-letter stream's size, from the JetStream API. */
export interface JetStreamStats {
  stream: string;
  consumer: string;
  numPending: number;
  numAckPending: number;
  dlqStream: string;
  dlqMessages: number;
}

type SourceName = 'requests' | 'jetstream';

interface ScrapeSource {
  read: () => Promise<void>;
  readAt: number;
  inFlight?: Promise<void>;
}

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
    help: 'Duration of Kubernetes API calls, by verb and code (HTTP status, or timeout / network when none came)',
    labelNames: ['verb', 'code'],
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

  readonly httpRequests = new Counter({
    name: 'dm_http_requests_total',
    help: 'HTTP requests answered by the API, by method, route template and status',
    labelNames: ['method', 'route', 'status'],
    registers: [this.registry],
  });
  readonly httpRequestSeconds = new Histogram({
    name: 'dm_http_request_duration_seconds',
    help: 'Time from a request arriving to its answer being sent, by method, route template and status',
    labelNames: ['method', 'route', 'status'],
    buckets: DURATION_BUCKETS,
    registers: [this.registry],
  });
  readonly requestLatencySeconds = new Histogram({
    name: 'dm_request_accepted_to_terminal_seconds',
    help: 'From the API accepting a request to it ending SUCCESS or FAILURE, by operation and status',
    labelNames: ['operation', 'status'],
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly workerProcessingSeconds = new Histogram({
    name: 'dm_worker_processing_seconds',
    help: 'Time a worker spends on one message, by outcome (finished, busy, waiting, dead_lettered, error)',
    labelNames: ['outcome'],
    buckets: DURATION_BUCKETS,
    registers: [this.registry],
  });
  readonly workerLockWaitSeconds = new Histogram({
    name: 'dm_worker_lock_wait_seconds',
    help: "Time to get a deployment's advisory lock or learn another worker holds it, by acquired (true/false)",
    labelNames: ['acquired'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  readonly kubernetesCallErrors = new Counter({
    name: 'dm_kubernetes_call_errors_total',
    help: 'Kubernetes API calls that failed, by verb and code (HTTP status, or timeout / network when none came)',
    labelNames: ['verb', 'code'],
    registers: [this.registry],
  });
  readonly reconcilePassSeconds = new Histogram({
    name: 'dm_reconcile_pass_seconds',
    help: 'Duration of reconcile passes, by trigger and result',
    labelNames: ['trigger', 'result'],
    buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
    registers: [this.registry],
  });
  readonly reconcileItems = new Counter({
    name: 'dm_reconcile_items_total',
    help: 'What reconcile passes did, by kind (inserted, updated, markedDeleted, republished, requeued, failed, drifted, healed)',
    labelNames: ['kind'],
    registers: [this.registry],
  });
  readonly reconcileLastSuccess = new Gauge({
    name: 'dm_reconcile_last_success_timestamp_seconds',
    help: 'Unix time at which the last reconcile pass of this process succeeded',
    registers: [this.registry],
  });
  readonly scrapeSourceErrors = new Counter({
    name: 'dm_scrape_source_errors_total',
    help: 'Scrape-time readings (requests from PostgreSQL, jetstream from NATS) that failed or timed out; the last values stay',
    labelNames: ['source'],
    registers: [this.registry],
  });

  // Registered only where a role reads their source (registerScrapeSource), so no role reports a made-up 0.
  readonly requestsByStatus = new Gauge({
    name: 'dm_requests',
    help: 'Deployment request records in PostgreSQL, by status (the same in every process that reports it: aggregate with max)',
    labelNames: ['status'],
    registers: [],
    collect: () => this.refresh('requests'),
  });
  readonly outboxBacklog = new Gauge({
    name: 'dm_outbox_backlog_requests',
    help: 'Requests accepted but not yet published to NATS (status CREATED)',
    registers: [],
    collect: () => this.refresh('requests'),
  });
  readonly outboxOldestAge = new Gauge({
    name: 'dm_outbox_oldest_created_age_seconds',
    help: 'Age of the oldest request still CREATED (not yet published); 0 when there is none',
    registers: [],
    collect: () => this.refresh('requests'),
  });
  readonly jetstreamPending = new Gauge({
    name: 'dm_jetstream_consumer_pending_messages',
    help: "The request consumer's num_pending: messages in the stream not yet delivered",
    labelNames: ['stream', 'consumer'],
    registers: [],
    collect: () => this.refresh('jetstream'),
  });
  readonly jetstreamAckPending = new Gauge({
    name: 'dm_jetstream_consumer_ack_pending_messages',
    help: "The request consumer's num_ack_pending: messages delivered and not yet acked",
    labelNames: ['stream', 'consumer'],
    registers: [],
    collect: () => this.refresh('jetstream'),
  });
  readonly jetstreamDlqMessages = new Gauge({
    name: 'dm_jetstream_dlq_messages',
    help: 'Messages held by the dead-letter stream',
    labelNames: ['stream'],
    registers: [],
    collect: () => this.refresh('jetstream'),
  });

  private readonly logger = new Logger(MetricsService.name);
  private readonly sources = new Map<SourceName, ScrapeSource>();

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  /**
   * Reads for the gauges of one source (PostgreSQL's request counts, JetStream's backlog)
   * happen at scrape time, at most every SCRAPE_SOURCE_CACHE_MS; the roles that can read the
   * source register it, and its gauges appear on their /metrics only.
   */
  registerScrapeSource(name: 'requests', read: () => Promise<RequestStats>): void;
  registerScrapeSource(name: 'jetstream', read: () => Promise<JetStreamStats>): void;
  registerScrapeSource(name: SourceName, read: () => Promise<RequestStats | JetStreamStats>): void {
    if (this.sources.has(name)) return;
    const gauges =
      name === 'requests'
        ? [this.requestsByStatus, this.outboxBacklog, this.outboxOldestAge]
        : [this.jetstreamPending, this.jetstreamAckPending, this.jetstreamDlqMessages];
    const apply = async () => {
      const stats = await read();
      if ('byStatus' in stats) this.setRequestStats(stats);
      else this.setJetStreamStats(stats);
    };
    this.sources.set(name, { read: apply, readAt: 0 });
    for (const g of gauges) this.registry.registerMetric(g);
  }

  /** One request ended SUCCESS or FAILURE: count it and observe its accepted -> terminal latency. */
  requestEnded(request: { operation: string; createdAt: Date }, status: string, code = '') {
    this.requestsCompleted.inc({ operation: request.operation, status, code });
    this.requestLatencySeconds.observe(
      { operation: request.operation, status },
      Math.max(0, (Date.now() - request.createdAt.getTime()) / 1000),
    );
  }

  private setRequestStats(stats: RequestStats) {
    this.requestsByStatus.reset();
    for (const { status, count } of stats.byStatus) this.requestsByStatus.set({ status }, count);
    this.outboxBacklog.set(stats.byStatus.find((s) => s.status === 'CREATED')?.count ?? 0);
    this.outboxOldestAge.set(stats.oldestCreatedAgeSeconds);
  }

  private setJetStreamStats(s: JetStreamStats) {
    this.jetstreamPending.reset();
    this.jetstreamAckPending.reset();
    this.jetstreamDlqMessages.reset();
    this.jetstreamPending.set({ stream: s.stream, consumer: s.consumer }, s.numPending);
    this.jetstreamAckPending.set({ stream: s.stream, consumer: s.consumer }, s.numAckPending);
    this.jetstreamDlqMessages.set({ stream: s.dlqStream }, s.dlqMessages);
  }

  /** The gauges' collect: one reading per source per cache period, shared by the gauges and concurrent scrapes. */
  private async refresh(name: SourceName): Promise<void> {
    const source = this.sources.get(name);
    if (!source || Date.now() - source.readAt < SCRAPE_SOURCE_CACHE_MS) return;
    source.inFlight ??= this.readOnce(name, source).finally(() => (source.inFlight = undefined));
    await source.inFlight;
  }

  private async readOnce(name: SourceName, source: ScrapeSource) {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        source.read(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`no answer within ${SCRAPE_SOURCE_TIMEOUT_MS} ms`)),
            SCRAPE_SOURCE_TIMEOUT_MS,
          );
        }),
      ]);
      source.readAt = Date.now();
    } catch (e) {
      this.scrapeSourceErrors.inc({ source: name });
      this.logger.warn(`metrics source ${name} failed: ${(e as Error).message}`);
    } finally {
      clearTimeout(timer);
    }
  }
}

import { Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { connect, NatsConnection, type Subscription } from '@nats-io/transport-node';
import { jetstream, JetStreamClient, jetstreamManager, JetStreamManager } from '@nats-io/jetstream';
import { AppConfig, natsServers } from '../config/app-config.js';
import { DomainError, ErrorCode } from '../domain/domain-error.js';
import { fromControlReply, type ControlReply } from './control-reply.js';
import { ensureTopology } from './jetstream-topology.js';

const FIRST_CONNECT_WAIT_MS = 3_000;

/** Answers one control request: takes its JSON body, returns the reply body. */
export type ControlHandler = (data: unknown) => Promise<unknown>;
interface Service {
  subject: string;
  queue: string;
  handler: ControlHandler;
  sub?: Subscription;
}

/**
 * The process's one NATS connection. Boot never waits on NATS for long: the API keeps
 * accepting requests while NATS is down (they wait in PostgreSQL, the outbox), so the
 * connection is made and remade in the background, and the JetStream streams and
 * consumer are declared on every (re)connect.
 */
@Injectable()
export class NatsClient implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(NatsClient.name);
  private nc?: NatsConnection;
  private js?: JetStreamClient;
  private jsm?: JetStreamManager;
  private ready = false;
  private stopped = false;
  private loop?: Promise<void>;
  private readonly services = new Set<Service>();

  constructor(private readonly config: AppConfig) {}

  async onModuleInit() {
    let firstReady!: () => void;
    const first = new Promise<void>((resolve) => (firstReady = resolve));
    this.loop = this.run(firstReady);
    await Promise.race([first, sleep(FIRST_CONNECT_WAIT_MS)]);
    if (!this.ready)
      this.logger.warn(`NATS at ${this.config.NATS_URL} is not reachable yet; retrying in the background`);
  }

  get isReady(): boolean {
    return this.ready;
  }

  get connection(): NatsConnection | undefined {
    return this.ready ? this.nc : undefined;
  }

  jetstream(): JetStreamClient {
    if (!this.ready || !this.js) throw new DomainError(ErrorCode.QueueUnavailable, 'NATS is not connected');
    return this.js;
  }

  manager(): JetStreamManager {
    if (!this.ready || !this.jsm) throw new DomainError(ErrorCode.QueueUnavailable, 'NATS is not connected');
    return this.jsm;
  }

  /**
   * Answers core-NATS requests on subject (one member of the queue group answers each),
   * on this and every later connection, with what handler returns; the JetStream
   * transport maps results and errors to replies. Returns a function that stops answering.
   */
  serve(subject: string, queue: string, handler: ControlHandler): () => void {
    const svc: Service = { subject, queue, handler };
    this.services.add(svc);
    if (this.ready && this.nc) this.subscribe(this.nc, svc);
    return () => {
      this.services.delete(svc);
      try {
        svc.sub?.unsubscribe();
      } catch {
        // the connection is already closed: nothing is subscribed
      }
    };
  }

  /** Sends a control request and returns the result, or a DomainError when nobody answers. */
  async request<T>(subject: string, data: unknown, timeoutMs = 5_000): Promise<T> {
    if (!this.ready || !this.nc) throw new DomainError(ErrorCode.QueueUnavailable, 'NATS is not connected');
    let reply: ControlReply<T>;
    try {
      reply = (await this.nc.request(subject, JSON.stringify(data), { timeout: timeoutMs })).json();
    } catch (e) {
      // details.noAnswer tells this from a handler's own DependencyUnavailable, which arrives as a reply.
      throw new DomainError(ErrorCode.DependencyUnavailable, `no answer on ${subject}: ${(e as Error).message}`, {
        noAnswer: true,
      });
    }
    return fromControlReply(reply);
  }

  private subscribe(nc: NatsConnection, svc: Service) {
    svc.sub = nc.subscribe(svc.subject, {
      queue: svc.queue,
      callback: (err, msg) => {
        if (err) return;
        let data: unknown;
        try {
          data = msg.data.length ? msg.json() : {};
        } catch {
          data = {};
        }
        svc.handler(data).then(
          (reply) => msg.respond(JSON.stringify(reply)),
          (e: unknown) => this.logger.error(`no reply on ${svc.subject}: ${(e as Error).message}`),
        );
      },
    });
  }

  private async run(firstReady: () => void) {
    let delay = 500;
    while (!this.stopped) {
      try {
        const nc = await connect({
          servers: natsServers(this.config),
          name: `k8s-deployment-manager:${this.config.roles.join('+')}`,
          maxReconnectAttempts: -1,
          reconnectTimeWait: 1000,
          timeout: 2000,
          // Stack capture per request/publish costs ~1–2% of the API's CPU at load (issue 13's profile);
          // our errors name the subject and the cause without it.
          noAsyncTraces: true,
        });
        this.nc = nc;
        this.jsm = await jetstreamManager(nc, { timeout: 5000 });
        this.js = jetstream(nc, { timeout: 5000 });
        await ensureTopology(this.jsm, this.config);
        for (const svc of this.services) this.subscribe(nc, svc);
        this.ready = true;
        delay = 500;
        this.logger.log(`connected to NATS ${nc.getServer()}; JetStream topology ensured`);
        firstReady();
        await this.followStatus(nc);
      } catch (e) {
        this.ready = false;
        if (this.stopped) return;
        this.logger.debug(`NATS connect failed: ${(e as Error).message}`);
        await this.nc?.close().catch(() => undefined);
        await sleep(delay);
        delay = Math.min(delay * 2, 10_000);
      }
    }
  }

  /** Tracks connectivity until the connection closes; re-declares topology after reconnects. */
  private async followStatus(nc: NatsConnection) {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect') {
        this.ready = false;
        this.logger.warn('disconnected from NATS; reconnecting');
      } else if (s.type === 'reconnect') {
        try {
          await ensureTopology(this.jsm!, this.config);
          this.ready = true;
          this.logger.log('reconnected to NATS');
        } catch (e) {
          this.logger.error(`JetStream topology after reconnect failed: ${(e as Error).message}`);
          await nc.close();
        }
      }
    }
    this.ready = false;
    if (!this.stopped) throw new Error('NATS connection closed');
  }

  async onApplicationShutdown() {
    this.stopped = true;
    this.ready = false;
    const nc = this.nc;
    if (nc && !nc.isClosed()) {
      // A drain can wait on a connection that is still reconnecting: bound it, then close.
      const drained = nc.drain().then(
        () => true,
        () => false,
      );
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<false>((r) => (timer = setTimeout(() => r(false), DRAIN_TIMEOUT_MS)));
      const ok = await Promise.race([drained, timeout]);
      clearTimeout(timer);
      if (!ok) await nc.close().catch(() => undefined);
    }
    await this.loop?.catch(() => undefined);
  }
}

const DRAIN_TIMEOUT_MS = 5_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

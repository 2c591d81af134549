import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { request as httpsRequest, RequestOptions } from 'node:https';
import { createServer as createTcpServer, Server as TcpServer, Socket, connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';

export interface FaultRule {
  method?: string;
  path: RegExp;
  /** Answer with this status instead of forwarding. */
  status?: number;
  /** Forward after this delay. */
  delayMs?: number;
  /** How many matching requests the rule applies to (default: unlimited). */
  times?: number;
  /** With status: answer this body (as text/html) instead of a Kubernetes Status, like a proxy's error page. */
  body?: string;
  /**
   * Hold the request until this settles, then forward it to the real apiserver even when the
   * caller has gone: a call its client gave up on that still lands later. Recorded in `late`.
   */
  holdUntil?: Promise<unknown>;
  /** Matches the method by pattern (e.g. /^(POST|PATCH)$/), where `method` matches it exactly. */
  methodPattern?: RegExp;
  /** With status and body: the body's content type (default text/html), e.g. application/json for a malformed object. */
  contentType?: string;
}

/** A request held by a `holdUntil` rule, and what became of it. */
export interface LateRequest {
  method: string;
  path: string;
  body: string;
  /** The caller closed its connection while we held the request (it aborted). */
  callerGone: boolean;
  /** Set once the request was sent on to the apiserver. */
  forwarded: boolean;
  /** The apiserver's answer, once it came. */
  status?: number;
  response?: string;
}

/**
 * For tests only: a plain-HTTP proxy in front of the real kube-apiserver that can fail
 * or delay chosen requests. Everything else is forwarded, with the admin client
 * certificate, to the real server. `kubeconfigPath` points a process at the proxy.
 */
export class KubeFaultProxy {
  private server?: Server;
  private rules: FaultRule[] = [];
  readonly hits: { method: string; path: string; injected: boolean }[] = [];
  readonly late: LateRequest[] = [];
  kubeconfigPath = '';

  async start(): Promise<this> {
    const kc = new KubeConfig();
    kc.loadFromFile(process.env.KUBECONFIG!);
    const upstream = new URL(kc.getCurrentCluster()!.server);
    const tls: RequestOptions = {};
    await kc.applyToHTTPSOptions(tls);
    this.server = createServer((req, res) => void this.handle(req, res, upstream, tls));
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    const port = (this.server.address() as { port: number }).port;
    const dir = mkdtempSync(join(tmpdir(), 'kube-fault-'));
    this.kubeconfigPath = join(dir, 'kubeconfig');
    writeFileSync(
      this.kubeconfigPath,
      [
        'apiVersion: v1',
        'kind: Config',
        'clusters: [{name: proxy, cluster: {server: "http://127.0.0.1:' + port + '", insecure-skip-tls-verify: true}}]',
        'users: [{name: anonymous, user: {}}]',
        'contexts: [{name: proxy, context: {cluster: proxy, user: anonymous}}]',
        'current-context: proxy',
      ].join('\n'),
    );
    return this;
  }

  inject(rule: FaultRule) {
    this.rules.push({ ...rule });
  }

  clear() {
    this.rules = [];
  }

  async stop() {
    this.server?.closeAllConnections();
    await new Promise((r) => this.server?.close(r));
  }

  private async handle(req: IncomingMessage, res: ServerResponse, upstream: URL, tls: RequestOptions) {
    const path = req.url ?? '/';
    const rule = this.rules.find(
      (r) =>
        (!r.method || r.method === req.method) &&
        (!r.methodPattern || r.methodPattern.test(req.method ?? '')) &&
        r.path.test(path) &&
        (r.times ?? 1) > 0,
    );
    if (rule && rule.times !== undefined) rule.times--;
    this.hits.push({ method: req.method ?? '', path, injected: !!rule?.status });
    if (rule?.holdUntil) return this.holdAndForward(req, res, upstream, tls, rule.holdUntil);
    if (rule?.delayMs) await new Promise((r) => setTimeout(r, rule.delayMs));
    // The caller died while we held its request (a killed worker): it never reaches the server.
    if (req.socket.destroyed) return;
    if (rule?.status) {
      req.resume();
      if (rule.body !== undefined) {
        res.writeHead(rule.status, { 'content-type': rule.contentType ?? 'text/html' });
        res.end(rule.body);
        return;
      }
      res.writeHead(rule.status, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          kind: 'Status',
          apiVersion: 'v1',
          status: 'Failure',
          message: 'injected by KubeFaultProxy',
          code: rule.status,
        }),
      );
      return;
    }
    const up = httpsRequest(
      {
        ...tls,
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path,
        headers: { ...req.headers, host: upstream.host },
      },
      (upRes) => {
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        upRes.pipe(res);
      },
    );
    up.on('error', () => res.destroy());
    req.pipe(up);
  }

  /** Reads the whole request, holds it, then sends it upstream whether or not the caller is still there. */
  private async holdAndForward(
    req: IncomingMessage,
    res: ServerResponse,
    upstream: URL,
    tls: RequestOptions,
    until: Promise<unknown>,
  ) {
    const entry: LateRequest = {
      method: req.method ?? '',
      path: req.url ?? '/',
      body: '',
      callerGone: false,
      forwarded: false,
    };
    this.late.push(entry);
    res.on('close', () => {
      if (!res.writableFinished) entry.callerGone = true;
    });
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    entry.body = Buffer.concat(chunks).toString('utf8');
    await until.catch(() => undefined);
    const headers = { ...req.headers, host: upstream.host };
    delete headers.connection;
    entry.forwarded = true;
    const answer = await new Promise<{ status: number; body: string; headers: IncomingMessage['headers'] }>(
      (resolve) => {
        const up = httpsRequest(
          { ...tls, host: upstream.hostname, port: upstream.port, method: entry.method, path: entry.path, headers },
          (upRes) => {
            const parts: Buffer[] = [];
            upRes.on('data', (c: Buffer) => parts.push(c));
            upRes.on('end', () =>
              resolve({
                status: upRes.statusCode ?? 0,
                body: Buffer.concat(parts).toString('utf8'),
                headers: upRes.headers,
              }),
            );
          },
        );
        up.on('error', (e) => resolve({ status: 0, body: String(e), headers: {} }));
        up.end(chunks.length ? Buffer.concat(chunks) : undefined);
      },
    );
    entry.status = answer.status;
    entry.response = answer.body;
    if (res.destroyed) return;
    res.writeHead(answer.status || 502, { 'content-type': answer.headers['content-type'] ?? 'application/json' });
    res.end(answer.body);
  }
}

/**
 * For tests only: a TCP proxy in front of the real NATS server that can be cut, so one
 * process sees NATS go down and come back while the shared server keeps running.
 */
export class TcpCutProxy {
  private server?: TcpServer;
  private sockets = new Set<Socket>();
  private cut = false;
  url = '';

  constructor(private readonly target: { host: string; port: number }) {}

  async start(): Promise<this> {
    this.server = createTcpServer((client) => {
      if (this.cut) return client.destroy();
      const upstream = tcpConnect(this.target.port, this.target.host);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    this.url = `nats://127.0.0.1:${(this.server.address() as { port: number }).port}`;
    return this;
  }

  /** Drops every connection and refuses new ones until restore(). */
  down() {
    this.cut = true;
    for (const s of this.sockets) s.destroy();
  }

  restore() {
    this.cut = false;
  }

  async stop() {
    this.down();
    await new Promise((r) => this.server?.close(r));
  }
}

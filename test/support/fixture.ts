import { Module, type INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type pg from 'pg';
import type { Running } from '../../src/bootstrap.js';
import type { AppConfig } from '../../src/config/app-config.js';
import { ConfigModule } from '../../src/config/config.module.js';
import { DatabaseModule } from '../../src/database/database.module.js';
import { MirrorModule } from '../../src/deployments/mirror.module.js';
import { MetricsModule } from '../../src/metrics/metrics.module.js';
import { KubeFaultProxy, TcpCutProxy } from './fault-proxy.js';
import { boot, db, deleteNamespace, dropTopology, kube, sameStreams, testConfig } from './harness.js';

export interface SuiteOptions {
  /** testConfig overrides: ROLE, MANAGED_NAMESPACES, timings. */
  env: Record<string, string>;
  /** Put a KubeFaultProxy in front of the apiserver and point the app's KUBECONFIG at it. */
  kubeProxy?: boolean;
  /** Put a TcpCutProxy in front of PostgreSQL and point the app's DATABASE_URL at it. */
  dbProxy?: boolean;
  /** The suite's own namespaces, deleted afterwards. */
  namespaces?: string[];
  /** Create the namespaces before the app boots (a watcher lists them as it starts). */
  createNamespaces?: boolean;
  /** false: no app in beforeAll, the tests call start(). Default true. */
  boot?: boolean;
}

/** What a suite's tests use; filled in by the fixture's beforeAll. */
export interface Suite {
  config: AppConfig;
  /** The suite's app; undefined after stop(). */
  app: Running;
  /** The app's API base URL. */
  api: string;
  /** Only with `kubeProxy: true`. Rules a test injects are cleared after it. */
  kubeProxy: KubeFaultProxy;
  /** Only with `dbProxy: true`. */
  dbProxy: TcpCutProxy;
  /** A pool on the test database, ended after the suite. */
  pool: pg.Pool;
  /**
   * Boots the suite's app, closing the one running. With overrides it gets a new config (the
   * suite's env plus these, on fresh streams), so each test can have its own app: booted in a
   * test, it is closed after that test.
   */
  start(overrides?: Record<string, string>): Promise<Running>;
  /** Closes the suite's app. */
  stop(): Promise<void>;
  /**
   * Another app on the suite's streams, with the suite's env plus overrides (another API, more
   * workers). Booted in a test it is closed after that test, in beforeAll after the suite.
   */
  extraApp(overrides: Record<string, string>): Promise<Running>;
  /** A TcpCutProxy in front of the suite's NATS, stopped like extraApp's apps. */
  natsCutProxy(): Promise<TcpCutProxy>;
  /** A context with only the mirror's list-and-diff (what the reconciler's repair calls), closed like extraApp's apps. */
  mirrorContext(): Promise<INestApplicationContext>;
}

@Module({})
class RepairOnlyModule {}

/**
 * One in-process app for a describe block, on the suite's own streams: boots it in beforeAll
 * (behind the proxies asked for) and in afterAll closes it and everything the tests started,
 * stops the proxies, removes the streams and deletes the suite's namespaces.
 */
export function useSuite(opts: SuiteOptions): Suite {
  const configs: AppConfig[] = [];
  // Cleanups, last started first: those of the running test, and those of the suite.
  const testCleanups: (() => Promise<unknown>)[] = [];
  const suiteCleanups: (() => Promise<unknown>)[] = [];
  let inTest = false;
  const onCleanup = (fn: () => Promise<unknown>) => (inTest ? testCleanups : suiteCleanups).push(fn);
  const runAll = async (stack: (() => Promise<unknown>)[]) => {
    while (stack.length) await stack.pop()!();
  };

  const env = (overrides: Record<string, string> = {}) => ({
    ...opts.env,
    ...(opts.kubeProxy ? { KUBECONFIG: suite.kubeProxy.kubeconfigPath } : {}),
    ...(opts.dbProxy ? { DATABASE_URL: viaProxy(process.env.TEST_DATABASE_URL!, suite.dbProxy) } : {}),
    ...overrides,
  });
  const newConfig = (overrides?: Record<string, string>) => {
    const config = testConfig(env(overrides));
    configs.push(config);
    return config;
  };
  // An app the test may close itself: the fixture's close afterwards is then a no-op.
  const closedOnce = (app: Running): Running => {
    let closing: Promise<void> | undefined;
    return { ...app, close: () => (closing ??= app.close()) };
  };

  const suite = {
    pool: db(),
    async start(overrides?: Record<string, string>) {
      await suite.stop();
      if (overrides) suite.config = newConfig(overrides);
      const app = (suite.app = closedOnce(await boot(suite.config)));
      suite.api = app.apiUrl!;
      if (overrides) onCleanup(() => app.close());
      return app;
    },
    async stop() {
      await suite.app?.close();
      suite.app = undefined as unknown as Running;
    },
    async extraApp(overrides: Record<string, string>) {
      const app = closedOnce(await boot(sameStreams(suite.config, env(overrides))));
      onCleanup(() => app.close());
      return app;
    },
    async natsCutProxy() {
      const nats = new URL(suite.config.NATS_URL.replace('nats://', 'http://'));
      const proxy = await new TcpCutProxy({ host: nats.hostname, port: Number(nats.port) }).start();
      onCleanup(() => proxy.stop());
      return proxy;
    },
    async mirrorContext() {
      const ctx = await NestFactory.createApplicationContext(
        {
          module: RepairOnlyModule,
          imports: [ConfigModule.forRoot(suite.config), MetricsModule, DatabaseModule, MirrorModule],
        },
        { logger: false },
      );
      onCleanup(() => ctx.close());
      return ctx;
    },
  } as Suite;

  beforeAll(async () => {
    if (opts.kubeProxy) suite.kubeProxy = await new KubeFaultProxy().start();
    if (opts.dbProxy) {
      const pg = new URL(process.env.TEST_DATABASE_URL!);
      suite.dbProxy = await new TcpCutProxy({ host: pg.hostname, port: Number(pg.port || 5432) }).start();
    }
    if (opts.createNamespaces)
      for (const name of opts.namespaces ?? []) await kube().core.createNamespace({ body: { metadata: { name } } });
    suite.config = newConfig();
    if (opts.boot !== false) await suite.start();
  });
  beforeEach(() => {
    inTest = true;
  });
  afterEach(async () => {
    inTest = false;
    suite.kubeProxy?.clear();
    await runAll(testCleanups);
  });
  afterAll(async () => {
    suite.dbProxy?.restore(); // so the app can close its connections
    await runAll(suiteCleanups);
    await suite.stop();
    await suite.kubeProxy?.stop();
    await suite.dbProxy?.stop();
    await suite.pool.end();
    for (const config of configs) await dropTopology(config);
    for (const ns of opts.namespaces ?? []) await deleteNamespace(ns);
  });
  return suite;
}

/** The database URL with its host and port replaced by the proxy's. */
function viaProxy(url: string, proxy: TcpCutProxy): string {
  const via = new URL(url);
  via.hostname = '127.0.0.1';
  via.port = new URL(proxy.url).port;
  return via.toString();
}

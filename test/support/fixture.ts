import type { Running } from '../../src/bootstrap.js';
import type { AppConfig } from '../../src/config/app-config.js';
import { KubeFaultProxy } from './fault-proxy.js';
import { boot, deleteNamespace, dropTopology, testConfig } from './harness.js';

export interface SuiteOptions {
  /** testConfig overrides: ROLE, MANAGED_NAMESPACES, timings. */
  env: Record<string, string>;
  /** Put a KubeFaultProxy in front of the apiserver and point the app's KUBECONFIG at it. */
  kubeProxy?: boolean;
  /** The suite's own namespaces, deleted afterwards. */
  namespaces?: string[];
}

/** What a suite's tests use; filled in by the fixture's beforeAll. */
export interface Suite {
  config: AppConfig;
  app: Running;
  /** The app's API base URL. */
  api: string;
  /** Only with `kubeProxy: true`. */
  kubeProxy: KubeFaultProxy;
}

/**
 * One in-process app for a describe block, on the suite's own streams: boots it in beforeAll
 * (behind a KubeFaultProxy when asked) and in afterAll closes it, stops the proxy, removes
 * the streams and deletes the suite's namespaces.
 */
export function useSuite(opts: SuiteOptions): Suite {
  const suite = {} as Suite;
  beforeAll(async () => {
    if (opts.kubeProxy) suite.kubeProxy = await new KubeFaultProxy().start();
    suite.config = testConfig(opts.kubeProxy ? { ...opts.env, KUBECONFIG: suite.kubeProxy.kubeconfigPath } : opts.env);
    suite.app = await boot(suite.config);
    suite.api = suite.app.apiUrl!;
  });
  afterAll(async () => {
    await suite.app?.close();
    await suite.kubeProxy?.stop();
    await dropTopology(suite.config);
    for (const ns of opts.namespaces ?? []) await deleteNamespace(ns);
  });
  return suite;
}

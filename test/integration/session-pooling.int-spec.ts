import type { Running } from '../../src/bootstrap.js';
import { probeSessionPooling, SessionPoolingError } from '../../src/database/session-pooling.check.js';
import { PgBouncer } from '../support/pgbouncer.js';
import { adminAuth, boot, dropTopology, testConfig } from '../support/harness.js';

// Boot refuses a transaction-mode pooler for roles that hold session advisory locks,
// against a real pgbouncer in front of the stack's PostgreSQL.
describe('session pooling check at boot', () => {
  const upstream = process.env.TEST_DATABASE_URL!;
  let transaction: PgBouncer;
  let session: PgBouncer;
  let statement: PgBouncer;

  beforeAll(async () => {
    transaction = await new PgBouncer(upstream, 'transaction').start();
    session = await new PgBouncer(upstream, 'session').start();
    statement = await new PgBouncer(upstream, 'statement').start();
  });

  afterAll(async () => {
    await transaction?.stop();
    await session?.stop();
    await statement?.stop();
  });

  it('the probe passes on PostgreSQL itself and on a session-mode pgbouncer', async () => {
    expect(await probeSessionPooling(upstream)).toMatchObject({ sessionKept: true });
    expect(await probeSessionPooling(session.url)).toMatchObject({ sessionKept: true });
  });

  it('the probe fails on a transaction-mode pgbouncer, every time, and on a statement-mode one', async () => {
    for (let i = 0; i < 5; i++)
      expect(await probeSessionPooling(transaction.url)).toMatchObject({ sessionKept: false });
    expect(await probeSessionPooling(statement.url)).toMatchObject({
      sessionKept: false,
      detail: expect.stringMatching(/transaction was refused/),
    });
  });

  it.each(['worker', 'watcher', 'reconciler', 'api,worker'])(
    'ROLE=%s refuses to boot through a transaction-mode pgbouncer, saying why',
    async (role) => {
      const config = testConfig({ ROLE: role, DATABASE_URL: transaction.url });
      let error: unknown;
      try {
        const app = await boot(config);
        await app.close();
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(SessionPoolingError);
      expect((error as Error).message).toMatch(/pooler in transaction or statement mode/);
      expect((error as Error).message).toMatch(/session advisory locks/);
      expect((error as Error).message).toMatch(/pool_mode = session/);
    },
  );

  it('ROLE=worker boots through a session-mode pgbouncer, and ROLE=api through a transaction-mode one', async () => {
    const apps: Running[] = [];
    const configs = [
      testConfig({ ROLE: 'worker', DATABASE_URL: session.url, WORKER_CONCURRENCY: '1', DATABASE_POOL_SIZE: '4' }),
      testConfig({ ROLE: 'api', DATABASE_URL: transaction.url }),
    ];
    try {
      for (const config of configs) apps.push(await boot(config));
      const ready = await fetch(`${apps[1].apiUrl}/v1/requests?limit=1`, { headers: adminAuth() });
      expect(ready.status).toBe(200);
    } finally {
      for (const app of apps) await app.close();
      for (const config of configs) await dropTopology(config);
    }
  });
});

import { ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Where Debian's package puts it (scripts/stack.sh `up` installs it when missing). */
function pgbouncerBinary(): string {
  for (const p of ['/usr/sbin/pgbouncer', '/usr/bin/pgbouncer', '/usr/local/bin/pgbouncer'])
    if (existsSync(p)) return p;
  throw new Error('pgbouncer is not installed: `scripts/stack.sh up` installs it (apt-get install pgbouncer)');
}

async function freePort(): Promise<number> {
  const s = createServer();
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

/**
 * For tests only: a real pgbouncer, as a plain process on a free loopback port, in front of
 * the PostgreSQL of `upstreamUrl`. `url` reaches the same database through it.
 */
export class PgBouncer {
  private proc?: ChildProcess;
  private dir = '';
  private output = '';
  url = '';

  constructor(
    private readonly upstreamUrl: string,
    private readonly poolMode: 'session' | 'transaction' | 'statement',
  ) {}

  async start(): Promise<this> {
    const up = new URL(this.upstreamUrl);
    const database = up.pathname.slice(1);
    const port = await freePort();
    this.dir = mkdtempSync(join(tmpdir(), 'pgbouncer-'));
    // pgbouncer refuses to run as root: then it drops to `nobody`, who must read the ini.
    chmodSync(this.dir, 0o755);
    const ini = join(this.dir, 'pgbouncer.ini');
    writeFileSync(
      ini,
      [
        '[databases]',
        // Every client logs in as the upstream user, with its password: auth_type any.
        `${database} = host=${up.hostname} port=${up.port || 5432} dbname=${database} ` +
          `user=${decodeURIComponent(up.username)} password=${decodeURIComponent(up.password)}`,
        '[pgbouncer]',
        'listen_addr = 127.0.0.1',
        `listen_port = ${port}`,
        "unix_socket_dir = ''",
        'auth_type = any',
        `pool_mode = ${this.poolMode}`,
        'max_client_conn = 200',
        'default_pool_size = 40',
        // The app sends `options` (lock_timeout) and pg sends nothing else pgbouncer refuses.
        'ignore_startup_parameters = extra_float_digits,options',
        '',
      ].join('\n'),
      { mode: 0o644 },
    );
    const args = process.getuid?.() === 0 ? ['-u', 'nobody', ini] : [ini];
    this.proc = spawn(pgbouncerBinary(), args, { stdio: ['ignore', 'pipe', 'pipe'] });
    for (const s of [this.proc.stdout!, this.proc.stderr!]) s.on('data', (d: Buffer) => (this.output += d));
    const deadline = Date.now() + 10_000;
    while (!(await canConnect(port))) {
      if (this.proc.exitCode !== null || Date.now() > deadline)
        throw new Error(`pgbouncer did not start (exit ${this.proc.exitCode}): ${this.output}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    this.url = `postgres://${up.username}@127.0.0.1:${port}/${database}`;
    return this;
  }

  async stop() {
    if (this.proc && this.proc.exitCode === null) {
      this.proc.kill('SIGTERM');
      await once(this.proc, 'exit');
    }
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
  }
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.on('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

/**
 * The process's shutdown clock. Begun once (by SIGTERM, or by the first close()), it tells
 * every component that holds work (the API's requests, the worker's messages, a reconcile
 * pass, the watcher's streams) that it is time to stop, and until when it may finish that
 * work: the work deadline leaves a reserve of the SHUTDOWN_TIMEOUT_MS budget for closing
 * connections (NATS drain, PostgreSQL pool) before the process must be gone.
 */
export class ShutdownSignal {
  private startedAt?: number;
  private readonly controller = new AbortController();

  constructor(readonly timeoutMs: number) {}

  /** Idempotent: the clock starts at the first call. */
  begin(): void {
    if (this.startedAt !== undefined) return;
    this.startedAt = Date.now();
    this.controller.abort();
  }

  get requested(): boolean {
    return this.startedAt !== undefined;
  }

  /** Aborted when shutdown begins. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** What is left of the budget for closing connections after the work deadline. */
  get reserveMs(): number {
    return Math.min(5_000, Math.floor(this.timeoutMs / 4));
  }

  /** Milliseconds until work in hand must be finished or handed back (the full budget minus the reserve while not begun). */
  remainingWorkMs(): number {
    const start = this.startedAt ?? Date.now();
    return Math.max(0, start + this.timeoutMs - this.reserveMs - Date.now());
  }
}

/** Waits for work up to ms; true when it settled in time (its error, if any, is the caller's to see elsewhere). */
export async function settlesWithin(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([
      work.then(
        () => true,
        () => true,
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

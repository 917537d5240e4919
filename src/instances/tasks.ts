/**
 * Background work that outlives the request that started it (watching a host's operation to update the
 * location index). Every task is tracked, gets the set's AbortSignal, and stop() waits for all of them.
 */
export class TaskSet {
  private readonly running = new Set<Promise<void>>();
  private readonly abort = new AbortController();

  constructor(private readonly onError: (err: unknown) => void) {}

  get signal(): AbortSignal {
    return this.abort.signal;
  }

  run(task: (signal: AbortSignal) => Promise<void>): void {
    if (this.abort.signal.aborted) return;
    const tracked: Promise<void> = task(this.abort.signal)
      .catch((err: unknown) => {
        if (!this.abort.signal.aborted) this.onError(err);
      })
      .finally(() => this.running.delete(tracked));
    this.running.add(tracked);
  }

  /** Resolves once every task started so far has settled. */
  async idle(): Promise<void> {
    await Promise.allSettled([...this.running]);
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.idle();
  }
}

// A long privacy job (`erase`, `retention_run`, `backup_create`,
// `backup_restore`) run from a panel: holds the app's job slot while it
// runs, reports progress, can be cancelled, and re-reads the workspace
// counts when it ends.
import { app } from '../../lib/app.svelte';
import { runJob, toApiError, type ApiError } from '../../lib/api';
import type { Jobs, ProgressEvent } from '../../lib/types';

export class JobRunner<J extends keyof Jobs> {
  running = $state(false);
  cancelling = $state(false);
  progress = $state<ProgressEvent | null>(null);
  error = $state<ApiError | null>(null);
  /** True when the last run was cancelled. */
  cancelled = $state(false);
  #controller: AbortController | null = null;
  readonly job: J;

  constructor(job: J) {
    this.job = job;
  }

  /** Runs the job; null when it failed, was cancelled, or another job holds the slot. */
  async run(payload: Jobs[J]['payload']): Promise<Jobs[J]['result'] | null> {
    if (this.running || app.job !== null) return null;
    app.job = this.job;
    this.running = true;
    this.cancelling = false;
    this.cancelled = false;
    this.progress = null;
    this.error = null;
    const controller = new AbortController();
    this.#controller = controller;
    try {
      return await runJob(this.job, payload, (p) => (this.progress = p), controller.signal);
    } catch (e) {
      const err = toApiError(e);
      if (err.code === 'cancelled') this.cancelled = true;
      else this.error = err;
      return null;
    } finally {
      this.running = false;
      this.cancelling = false;
      this.#controller = null;
      if (app.job === this.job) app.job = null;
      void app.refresh().catch(() => undefined);
    }
  }

  cancel(): void {
    if (!this.running) return;
    this.cancelling = true;
    this.#controller?.abort();
  }
}

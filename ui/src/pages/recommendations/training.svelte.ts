// The training job (`recommend_train`), kept outside the page so that
// leaving the Recommendations page and coming back finds the progress bar
// (or the outcome) where it was. One instance, `training`.
import { app } from '../../lib/app.svelte';
import { runJob, toApiError, type ApiError } from '../../lib/api';
import type { ProgressEvent, RecommendSettings, RecommendStatus } from '../../lib/types';

const JOB = 'recommend_train';

class Training {
  running = $state(false);
  cancelling = $state(false);
  progress = $state<ProgressEvent | null>(null);
  error = $state<ApiError | null>(null);
  /** "Cancelled…", in words. */
  notice = $state<string | null>(null);
  /** The status the last successful run returned (its run is the new one). */
  result = $state<RecommendStatus | null>(null);
  /** Bumped when a run succeeded: the page shows its result. */
  finished = $state(0);
  /** The settings of the run started last, for the form when the page is opened again. */
  settings: RecommendSettings | null = null;
  private controller: AbortController | null = null;

  /** Starts a run; false when another job holds the app's slot. */
  start(settings: RecommendSettings): boolean {
    if (this.running || app.job !== null) return false;
    app.job = JOB;
    this.settings = settings;
    this.running = true;
    this.cancelling = false;
    this.progress = null;
    this.error = null;
    this.notice = null;
    this.result = null;
    const controller = new AbortController();
    this.controller = controller;
    void runJob(JOB, settings, (p) => (this.progress = p), controller.signal)
      .then(
        (status) => {
          this.result = status;
          this.finished += 1;
        },
        (e) => {
          const err = toApiError(e);
          if (err.code === 'cancelled') this.notice = 'Training cancelled. The recommendations in use are unchanged.';
          else this.error = err;
        },
      )
      .finally(() => {
        this.running = false;
        this.cancelling = false;
        this.controller = null;
        if (app.job === JOB) app.job = null;
      });
    return true;
  }

  cancel(): void {
    if (!this.running) return;
    this.cancelling = true;
    this.controller?.abort();
  }

  /** Forgets the outcome shown (dismissed, or another workspace). */
  clear(): void {
    if (this.running) return;
    this.error = null;
    this.notice = null;
    this.result = null;
    this.settings = null;
  }
}

export const training = new Training();

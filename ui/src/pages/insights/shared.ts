// What the Insights page, the traits on a profile and the survivorship
// panel share: the app-wide job slot, the workspace's currency and horizon,
// and saving a chart as a file.
import { app } from '../../lib/app.svelte';
import { call, saveText, transport } from '../../lib/api';
import type { InsightsOverview, Jobs } from '../../lib/types';

/** The long jobs started from these pages. */
export type InsightsJob = 'traits_compute' | 'cluster_run' | 'survivorship_set';

export { jobLabel } from '../../lib/app.svelte';

/** Takes the app's job slot (one long job at a time, and the workspace
 * cannot be switched under it); false when a job holds it already. */
export function holdJob(job: InsightsJob): boolean {
  if (app.job !== null) return false;
  app.job = job;
  return true;
}

/** The job in the app's slot, whichever page started it. */
export function currentJob(): keyof Jobs | null {
  return app.job;
}

/**
 * True while a job holds the slot that this page is not running (another
 * page's, or one this page started before it was left and opened again).
 */
export function otherJobRunning(runningHere: boolean): boolean {
  return currentJob() !== null && !runningHere;
}

export function releaseJob(job: InsightsJob): void {
  if (app.job === job) app.job = null;
}

// ---- currency and horizon of the workspace ----------------------------------

export interface TraitsBasics {
  /** Traits were computed on this workspace. */
  computed: boolean;
  currency: string;
  /** Days ahead that expected purchases and CLV cover, when a model was fitted. */
  horizon_days: number | null;
}

const basics = new Map<string, Promise<TraitsBasics | null>>();

function basicsOf(o: InsightsOverview): TraitsBasics {
  return { computed: o.computed, currency: o.currency, horizon_days: o.model.horizon_days };
}

/** Keeps what an overview says, so a profile page need not ask again. */
export function rememberBasics(path: string, o: InsightsOverview): void {
  basics.set(path, Promise.resolve(basicsOf(o)));
}

/** The workspace's currency and horizon (asked once per workspace). */
export function traitsBasics(path: string): Promise<TraitsBasics | null> {
  let b = basics.get(path);
  if (!b) {
    b = call('traits_basics', {}).then(
      (t) => t,
      () => {
        basics.delete(path);
        return null;
      },
    );
    basics.set(path, b);
  }
  return b;
}

// ---- charts -------------------------------------------------------------------

export type ChartFormat = 'svg' | 'png';

function decodeBase64(b64: string): Uint8Array<ArrayBuffer> {
  const binary = atob(b64);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/**
 * Asks the engine for a chart as an SVG or PNG file and saves it (a download
 * in the browser; the desktop app asks where to save an SVG). Resolves with
 * the file's name.
 */
export async function saveChart(name: string, runId: number | null, format: ChartFormat): Promise<string> {
  const file = await call('chart_file', { name, run_id: runId, format });
  const bytes = decodeBase64(file.base64);
  if (format === 'svg' && transport === 'tauri') {
    await saveText(file.file_name, new TextDecoder().decode(bytes), file.mime);
    return file.file_name;
  }
  const url = URL.createObjectURL(new Blob([bytes], { type: file.mime }));
  const a = document.createElement('a');
  a.href = url;
  a.download = file.file_name;
  a.style.display = 'none';
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
  return file.file_name;
}

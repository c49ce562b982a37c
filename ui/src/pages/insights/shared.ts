// What the Insights page, the traits on a profile and the survivorship
// panel share: the app-wide job slot, the workspace's currency and horizon,
// and saving a chart as a file.
import { app } from '../../lib/app.svelte';
import { call, saveText, transport } from '../../lib/api';
import type { InsightsOverview } from '../../lib/types';

/** The long jobs started from these pages. */
export type InsightsJob = 'traits_compute' | 'cluster_run' | 'survivorship_set';

const JOB_LABELS: Record<string, string> = {
  import: 'An import is running',
  demo: 'The demo business is loading',
  resolve: 'Identity resolution is running',
  traits_compute: 'Traits are being computed',
  cluster_run: 'A clustering is running',
  survivorship_set: 'Profiles are being rebuilt',
};

/** "Identity resolution is running", for the job in the app's slot. */
export function jobLabel(job: string | null): string {
  return (job && JOB_LABELS[job]) || 'Another job is running';
}

// `app.job` keeps one long job at a time (and keeps the workspace from being
// switched under it). Its type names the jobs of the first pages only, so
// these widen it here.
type JobSlot = { job: string | null };

/** Takes the app's job slot; false when another job holds it. */
export function holdJob(job: InsightsJob): boolean {
  const slot = app as unknown as JobSlot;
  if (slot.job !== null && slot.job !== job) return false;
  slot.job = job;
  return true;
}

/** The job in the app's slot, whichever page started it. */
export function currentJob(): string | null {
  return (app as unknown as JobSlot).job;
}

/** True while a job other than `job` holds the slot. */
export function otherJobRunning(job: InsightsJob): boolean {
  const current = currentJob();
  return current !== null && current !== job;
}

export function releaseJob(job: InsightsJob): void {
  const slot = app as unknown as JobSlot;
  if (slot.job === job) slot.job = null;
}

// ---- currency and horizon of the workspace ----------------------------------

export interface TraitsBasics {
  currency: string;
  /** Days ahead that expected purchases and CLV cover, when a model was fitted. */
  horizon_days: number | null;
}

const basics = new Map<string, Promise<TraitsBasics | null>>();

/** Keeps what an overview says, so a profile page need not ask again. */
export function rememberBasics(path: string, o: InsightsOverview): void {
  basics.set(path, Promise.resolve({ currency: o.currency, horizon_days: o.model.horizon_days }));
}

/** The workspace's currency and horizon (asked once per workspace). */
export function traitsBasics(path: string): Promise<TraitsBasics | null> {
  let b = basics.get(path);
  if (!b) {
    b = call('insights_overview', {}).then(
      (o) => ({ currency: o.currency, horizon_days: o.model.horizon_days }),
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

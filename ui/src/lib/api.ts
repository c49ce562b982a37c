// The one door to the engine. Pages import from here and never learn which
// transport runs:
//  - desktop (Tauri v2): `invoke('call' | 'start_job' | 'cancel_job' | 'pick_file')`;
//  - browser against `cohort serve`: HTTP + server-sent events, with the token
//    the server put in the page's address.
import type { Commands, EngineError, JobEvent, Jobs, ProgressEvent } from './types';

export type Transport = 'tauri' | 'http';

export const transport: Transport =
  typeof window !== 'undefined' && '__TAURI_INTERNALS__' in window ? 'tauri' : 'http';

/** A failure with a stable machine code and a message written for people. */
export class ApiError extends Error implements EngineError {
  readonly code: string;
  readonly status: number | null;
  constructor(code: string, message: string, status: number | null = null) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
    this.status = status;
  }
}

/** Turns anything thrown into an ApiError with a readable message. */
export function toApiError(e: unknown): ApiError {
  if (e instanceof ApiError) return e;
  if (e && typeof e === 'object' && 'message' in e && typeof (e as { message: unknown }).message === 'string') {
    const code = 'code' in e && typeof (e as { code: unknown }).code === 'string' ? (e as { code: string }).code : 'error';
    return new ApiError(code, (e as { message: string }).message);
  }
  if (typeof e === 'string') return new ApiError('error', e);
  return new ApiError('error', 'Something went wrong.');
}

// ---- Token (browser only) -------------------------------------------------

const TOKEN_KEY = 'cohort.token';

function readToken(): string | null {
  if (transport !== 'http' || typeof window === 'undefined') return null;
  const url = new URL(window.location.href);
  const fromUrl = url.searchParams.get('token');
  if (fromUrl) {
    try {
      sessionStorage.setItem(TOKEN_KEY, fromUrl);
    } catch {
      // Storage can be disabled; the token then lives only in memory.
    }
    url.searchParams.delete('token');
    history.replaceState(history.state, '', url.pathname + url.search + url.hash);
    return fromUrl;
  }
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

const token: string | null = readToken();

function authHeaders(extra: Record<string, string> = {}): Record<string, string> {
  return token ? { ...extra, Authorization: `Bearer ${token}` } : extra;
}

async function httpError(res: Response): Promise<ApiError> {
  let body: unknown = null;
  try {
    body = await res.json();
  } catch {
    // Not JSON: fall through to a generic message.
  }
  if (body && typeof body === 'object' && 'message' in body) {
    const b = body as Partial<EngineError>;
    return new ApiError(b.code ?? `http_${res.status}`, String(b.message), res.status);
  }
  if (res.status === 401) {
    return new ApiError(
      'unauthorized',
      'This page is not signed in to Cohort. Open the address that `cohort serve` printed (it ends in ?token=…).',
      401,
    );
  }
  return new ApiError(`http_${res.status}`, `Cohort answered ${res.status} ${res.statusText}.`, res.status);
}

async function post(url: string, body: BodyInit, contentType: string): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(url, { method: 'POST', headers: authHeaders({ 'Content-Type': contentType }), body });
  } catch {
    throw new ApiError('offline', 'Cohort is not reachable. Is `cohort serve` still running?');
  }
  if (!res.ok) throw await httpError(res);
  return res.json();
}

// ---- Tauri ----------------------------------------------------------------

type TauriCore = typeof import('@tauri-apps/api/core');
let tauriCore: Promise<TauriCore> | null = null;
function tauri(): Promise<TauriCore> {
  tauriCore ??= import('@tauri-apps/api/core');
  return tauriCore;
}

/**
 * Follows the desktop app's menu (`new_workspace`, `open_workspace`,
 * `import_csv`, `about`); a browser has none. Returns a function that stops.
 */
export async function onMenu(handler: (id: string) => void): Promise<() => void> {
  if (transport !== 'tauri') return () => {};
  const { listen } = await import('@tauri-apps/api/event');
  return listen<string>('menu', (e) => handler(e.payload));
}

// ---- Commands -------------------------------------------------------------

/** Runs a short command and returns its JSON result. */
export async function call<C extends keyof Commands>(
  command: C,
  payload: Commands[C]['payload'],
): Promise<Commands[C]['result']> {
  if (transport === 'tauri') {
    const { invoke } = await tauri();
    try {
      return await invoke<Commands[C]['result']>('call', { command, payload });
    } catch (e) {
      throw toApiError(e);
    }
  }
  return (await post(`api/call/${encodeURIComponent(command)}`, JSON.stringify(payload), 'application/json')) as Commands[C]['result'];
}

/**
 * Runs a long job, reporting progress, and resolves with its result.
 * Aborting `signal` asks the engine to cancel; the promise then settles with
 * whatever the engine reports last (normally a `cancelled` error, or the
 * result if the job had already finished).
 */
export async function runJob<J extends keyof Jobs>(
  command: J,
  payload: Jobs[J]['payload'],
  onProgress: (p: ProgressEvent) => void,
  signal?: AbortSignal,
): Promise<Jobs[J]['result']> {
  type R = Jobs[J]['result'];
  if (transport === 'tauri') {
    const { invoke, Channel } = await tauri();
    return new Promise<R>((resolve, reject) => {
      let settled = false;
      const onEvent = new Channel<JobEvent>();
      onEvent.onmessage = (ev) => {
        if (settled) return;
        if (ev.type === 'progress') onProgress(ev);
        else if (ev.type === 'done') {
          settled = true;
          resolve(ev.result as R);
        } else if (ev.type === 'error') {
          settled = true;
          reject(new ApiError(ev.code, ev.message));
        }
      };
      invoke<string | { job_id: string }>('start_job', { command, payload, onEvent }).then(
        (started) => {
          const jobId = typeof started === 'string' ? started : started?.job_id;
          if (!signal || jobId == null) return;
          const cancel = () => void invoke('cancel_job', { jobId }).catch(() => undefined);
          if (signal.aborted) cancel();
          else signal.addEventListener('abort', cancel, { once: true });
        },
        (e) => {
          if (!settled) {
            settled = true;
            reject(toApiError(e));
          }
        },
      );
    });
  }

  const started = (await post(`api/jobs/${encodeURIComponent(command)}`, JSON.stringify(payload), 'application/json')) as {
    job_id: string;
  };
  const jobId = started.job_id;
  return new Promise<R>((resolve, reject) => {
    const es = new EventSource(
      `api/jobs/${encodeURIComponent(jobId)}/events?token=${encodeURIComponent(token ?? '')}`,
    );
    let settled = false;
    let failures = 0;
    const finish = () => {
      settled = true;
      es.close();
      signal?.removeEventListener('abort', cancel);
    };
    const cancel = () => {
      void fetch(`api/jobs/${encodeURIComponent(jobId)}/cancel`, { method: 'POST', headers: authHeaders() }).catch(
        () => undefined,
      );
    };
    if (signal) {
      if (signal.aborted) cancel();
      else signal.addEventListener('abort', cancel, { once: true });
    }
    es.onmessage = (msg) => {
      if (settled) return;
      failures = 0;
      let ev: JobEvent;
      try {
        ev = JSON.parse(msg.data as string) as JobEvent;
      } catch {
        return;
      }
      if (ev.type === 'progress') onProgress(ev);
      else if (ev.type === 'done') {
        finish();
        resolve(ev.result as R);
      } else if (ev.type === 'error') {
        finish();
        reject(new ApiError(ev.code, ev.message));
      }
    };
    es.onerror = () => {
      if (settled) return;
      failures += 1;
      // EventSource retries by itself; give up when the server closed the
      // stream for good or keeps failing.
      if (es.readyState === EventSource.CLOSED || failures > 3) {
        finish();
        reject(new ApiError('disconnected', 'Lost the connection to Cohort while the job was running.'));
      }
    };
  });
}

// ---- Files ----------------------------------------------------------------

export interface PickedFile {
  /** Where the engine can read the file. */
  path: string;
  /** The name to show. */
  name: string;
}

export interface UploadProgress {
  (loaded: number, total: number): void;
}

let fileInput: HTMLInputElement | null = null;
let pendingPick: ((f: File | null) => void) | null = null;

function browserFileInput(): HTMLInputElement {
  if (fileInput) return fileInput;
  const input = document.createElement('input');
  input.type = 'file';
  input.accept = '.csv,.tsv,.txt,text/csv,text/tab-separated-values,text/plain';
  input.dataset.testid = 'file-input';
  input.setAttribute('aria-label', 'CSV file to import');
  // Reached only through the app's own "Choose a CSV file…" button.
  input.setAttribute('aria-hidden', 'true');
  input.tabIndex = -1;
  input.style.position = 'fixed';
  input.style.left = '-10000px';
  input.style.width = '1px';
  input.style.height = '1px';
  input.style.opacity = '0';
  input.addEventListener('change', () => {
    const f = input.files?.[0] ?? null;
    input.value = '';
    pendingPick?.(f);
    pendingPick = null;
  });
  input.addEventListener('cancel', () => {
    pendingPick?.(null);
    pendingPick = null;
  });
  document.body.appendChild(input);
  fileInput = input;
  return input;
}

function upload(file: File, onUpload?: UploadProgress): Promise<PickedFile> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', `api/upload?name=${encodeURIComponent(file.name)}`);
    xhr.setRequestHeader('Content-Type', 'application/octet-stream');
    if (token) xhr.setRequestHeader('Authorization', `Bearer ${token}`);
    if (onUpload) xhr.upload.onprogress = (e) => onUpload(e.loaded, e.lengthComputable ? e.total : file.size);
    xhr.onload = () => {
      let body: unknown = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        // handled below
      }
      if (xhr.status >= 200 && xhr.status < 300 && body && typeof body === 'object' && 'path' in body) {
        resolve({ path: String((body as { path: unknown }).path), name: file.name });
      } else if (body && typeof body === 'object' && 'message' in body) {
        const b = body as Partial<EngineError>;
        reject(new ApiError(b.code ?? `http_${xhr.status}`, String(b.message), xhr.status));
      } else {
        reject(new ApiError(`http_${xhr.status}`, `Uploading ${file.name} failed (${xhr.status} ${xhr.statusText}).`, xhr.status));
      }
    };
    xhr.onerror = () => reject(new ApiError('offline', 'Cohort is not reachable. Is `cohort serve` still running?'));
    xhr.send(file);
  });
}

function baseName(path: string): string {
  const parts = path.split(/[\\/]/);
  return parts[parts.length - 1] || path;
}

/**
 * Asks the person for a CSV file. Desktop: the native file dialog. Browser:
 * the file picker, then the file is uploaded to the server, which returns
 * the path the engine reads. Resolves null when the person cancels.
 * `onUpload` reports upload progress (browser only).
 */
export async function pickCsv(onUpload?: UploadProgress): Promise<PickedFile | null> {
  if (transport === 'tauri') {
    const { invoke } = await tauri();
    let path: string | null;
    try {
      path = await invoke<string | null>('pick_file');
    } catch (e) {
      throw toApiError(e);
    }
    return path ? { path, name: baseName(path) } : null;
  }
  const input = browserFileInput();
  pendingPick?.(null);
  const file = await new Promise<File | null>((resolve) => {
    pendingPick = resolve;
    input.click();
  });
  if (!file) return null;
  return upload(file, onUpload);
}

/** True where a native dialog can choose a workspace file (the desktop app). */
export const canPickWorkspace: boolean = transport === 'tauri';

/**
 * Desktop: the native dialog for an existing workspace (`save: false`) or
 * where to create one (`save: true`). Null when cancelled, or where there is
 * no native dialog (the browser: type the path instead).
 */
export async function pickWorkspace(save: boolean): Promise<string | null> {
  if (transport !== 'tauri') return null;
  const { invoke } = await tauri();
  try {
    return await invoke<string | null>('pick_workspace', { save });
  } catch (e) {
    throw toApiError(e);
  }
}

/** Saves text as a file the person downloads. */
export async function saveText(fileName: string, text: string, mime = 'text/csv;charset=utf-8'): Promise<void> {
  // A desktop window has no downloads: the app asks where to save.
  if (transport === 'tauri') {
    await (await tauri()).invoke('save_text', { fileName, text });
    return;
  }
  const blob = new Blob([text], { type: mime });
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = fileName;
  a.style.display = 'none';
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

// State shared by the shell and the pages: the open workspace, its counts,
// the import history and the field catalogue. One instance, `app`.
import { call, toApiError, type ApiError } from './api';
import type { AppInfo, Catalog, ImportSummary, Jobs, Stats, WorkspaceInfo } from './types';

/** What each long job is doing, for "… is running" notices. */
const JOB_LABELS: Record<keyof Jobs, string> = {
  import: 'An import is running',
  demo: 'The demo business is loading',
  resolve: 'Identity resolution is running',
  traits_compute: 'Traits are being computed',
  cluster_run: 'A clustering is running',
  survivorship_set: 'Profiles are being rebuilt',
  campaign_export: 'A campaign is being exported',
  recommend_train: 'Recommendations are being trained',
  erase: 'A person is being erased',
  retention_run: 'Old data is being removed',
  backup_create: 'A backup is being taken',
  backup_restore: 'A backup is being restored',
};

/** "Identity resolution is running", for the job in the app's slot. */
export function jobLabel(job: keyof Jobs | null): string {
  return (job && JOB_LABELS[job]) || 'Another job is running';
}

class AppState {
  info = $state<AppInfo | null>(null);
  stats = $state<Stats | null>(null);
  imports = $state<ImportSummary[]>([]);
  catalog = $state<Catalog | null>(null);
  /** True until app_info answered (or failed) the first time. */
  loading = $state(true);
  /** The long job running now, if any: the UI starts no other meanwhile. */
  job = $state<keyof Jobs | null>(null);
  /** Bumped to ask the Sources page to open the import wizard (desktop menu). */
  importRequests = $state(0);
  /** A failure to talk to the engine at all. */
  fatal = $state<ApiError | null>(null);
  /**
   * An encrypted workspace waiting for its passphrase: the one app_info
   * reports as locked, or one workspace_open refused (`locked`,
   * `wrong_passphrase`). The shell shows the passphrase prompt while set.
   */
  unlockPath = $state<string | null>(null);

  workspace = $derived<WorkspaceInfo | null>(this.info?.workspace ?? null);
  /** No workspace, or one nothing was imported into yet. */
  isFirstStart = $derived(!this.workspace || (this.stats?.imports ?? this.workspace.stats.imports) === 0);

  async load(): Promise<void> {
    try {
      this.info = await call('app_info', {});
      this.stats = this.info.workspace?.stats ?? null;
      this.fatal = null;
      this.unlockPath = this.info.locked ?? null;
      if (this.info.workspace) await Promise.all([this.loadImports(), this.loadCatalog()]);
    } catch (e) {
      this.fatal = toApiError(e);
    } finally {
      this.loading = false;
    }
  }

  async loadCatalog(): Promise<Catalog> {
    if (!this.catalog) this.catalog = await call('catalog', {});
    return this.catalog;
  }

  async loadImports(): Promise<void> {
    this.imports = await call('imports', {});
  }

  /** Re-reads counts and history after something changed the workspace. */
  async refresh(): Promise<void> {
    if (!this.workspace) return;
    const [stats, imports] = await Promise.all([call('workspace_stats', {}), call('imports', {})]);
    this.stats = stats;
    this.imports = imports;
  }

  async open(path: string, create: boolean): Promise<void> {
    let ws: WorkspaceInfo;
    try {
      ws = await call('workspace_open', { path, create });
    } catch (e) {
      const err = toApiError(e);
      // Encrypted, and no passphrase in this session: ask for it.
      if (err.code === 'locked' || err.code === 'wrong_passphrase') {
        this.unlockPath = path;
        return;
      }
      throw err;
    }
    const info = await call('app_info', {});
    // app_info is the source of truth for recents; fall back to what we know.
    this.info = { ...info, workspace: info.workspace ?? ws };
    this.stats = this.info.workspace?.stats ?? ws.stats;
    await Promise.all([this.loadImports(), this.loadCatalog()]);
  }

  /**
   * Gives the engine the passphrase of the encrypted workspace at `path`
   * (kept in the OS keychain when `remember`), then reloads everything as
   * at start. Throws `wrong_passphrase` and the like for the prompt to show.
   */
  async unlock(path: string, passphrase: string, remember: boolean): Promise<void> {
    await call('workspace_unlock', { path, passphrase, remember });
    this.unlockPath = null;
    this.catalog = null;
    await this.load();
  }

  importById(id: number): ImportSummary | undefined {
    return this.imports.find((i) => i.id === id);
  }
}

export const app = new AppState();

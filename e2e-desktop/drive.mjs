// Drives the real Cohort desktop window over W3C WebDriver (tauri-driver →
// WebKitWebDriver), with plain HTTP and no dependencies. Started by
// e2e-desktop/run.sh, which owns Xvfb and tauri-driver and sets
// COHORT_DATA_DIR (a fresh folder) and COHORT_E2E_PICK (the CSV that the
// app's `pick_file` returns instead of opening the native dialog, which
// WebDriver cannot drive) in tauri-driver's environment; the app inherits it.
//
//   node e2e-desktop/drive.mjs --app /abs/target/debug/cohort-desktop \
//     --driver http://127.0.0.1:4444 --data /tmp/x/data \
//     --artifacts e2e-desktop/artifacts [--launches 3]
//
// Last line: `desktop-e2e: N passed, M failed`; exit code 1 on any failure.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), []),
);
const APP = args.app;
const DRIVER = args.driver ?? 'http://127.0.0.1:4444';
const DATA = args.data;
const ARTIFACTS = args.artifacts ?? 'e2e-desktop/artifacts';
const WARM_LAUNCHES = Number(args.launches ?? 3);
for (const k of ['app', 'data']) if (!args[k]) throw new Error(`missing --${k}`);

const ELEMENT = 'element-6066-11e4-a52e-4f735466cecf';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---- WebDriver over HTTP ----------------------------------------------------

async function wd(method, path, body) {
  const res = await fetch(DRIVER + path, {
    method,
    headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await res.json().catch(() => ({}));
  if (!res.ok) {
    const v = json.value ?? {};
    const e = new Error(`${method} ${path}: ${v.error ?? res.status} ${v.message ?? ''}`.trim());
    e.wdError = v.error;
    throw e;
  }
  return json.value;
}

class Session {
  static async start() {
    const value = await wd('POST', '/session', {
      capabilities: { alwaysMatch: { browserName: 'wry', 'tauri:options': { application: APP } } },
    });
    const s = new Session();
    s.id = value.sessionId;
    return s;
  }
  p(path) {
    return `/session/${this.id}${path}`;
  }
  async find(css) {
    try {
      return (await wd('POST', this.p('/element'), { using: 'css selector', value: css }))[ELEMENT];
    } catch (e) {
      if (e.wdError === 'no such element') return null;
      throw e;
    }
  }
  async findAll(css) {
    return (await wd('POST', this.p('/elements'), { using: 'css selector', value: css })).map((e) => e[ELEMENT]);
  }
  /** Polls until `css` matches (and `ok(el)` holds, if given). */
  async waitFor(css, { timeout = 15_000, interval = 20, ok = null } = {}) {
    const end = Date.now() + timeout;
    for (;;) {
      const el = await this.find(css).catch((e) => {
        // The page may still be loading into a fresh webview.
        if (Date.now() > end) throw e;
        return null;
      });
      if (el && (!ok || (await ok(el)))) return el;
      if (Date.now() > end) throw new Error(`timed out after ${timeout} ms waiting for ${css}`);
      await sleep(interval);
    }
  }
  async click(el) {
    await wd('POST', this.p(`/element/${el}/click`), {});
  }
  async text(el) {
    return wd('GET', this.p(`/element/${el}/text`));
  }
  async attr(el, name) {
    return wd('GET', this.p(`/element/${el}/attribute/${name}`));
  }
  async textOf(css) {
    return this.text(await this.waitFor(css));
  }
  /** The open workspace as the header shows it (full path in its title; the text may be cut). */
  async workspacePath() {
    return this.attr(await this.waitFor('[data-testid="workspace-path-label"]'), 'title');
  }
  /** Runs `body` in the page as an async function; `done(value)` resolves. */
  async run(body, ...a) {
    return wd('POST', this.p('/execute/async'), {
      script: `const done = arguments[arguments.length - 1]; (async () => { ${body} })().then(done, (e) => done({ thrown: e }));`,
      args: a,
    });
  }
  async screenshot(file) {
    const png = Buffer.from(await wd('GET', this.p('/screenshot')), 'base64');
    writeFileSync(file, png);
    return png.length;
  }
  async close() {
    await wd('DELETE', this.p('')).catch(() => undefined);
  }
}

// ---- The app's process (for launch timing and a clean finish) ---------------

const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

/** PIDs of the app binary started with our COHORT_DATA_DIR (ours, nobody else's). */
function appPids() {
  const pids = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readlinkSync(`/proc/${d}/exe`) !== APP) continue;
      const env = readFileSync(`/proc/${d}/environ`).toString().split('\0');
      if (env.includes(`COHORT_DATA_DIR=${DATA}`)) pids.push(Number(d));
    } catch {
      // Gone, or not ours to read.
    }
  }
  return pids;
}

/** Seconds since boot when `pid` started, from /proc/<pid>/stat. */
function startedAt(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`).toString();
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[19]) / CLK_TCK; // field 22 of stat, counted after the name
}

const uptime = () => Number(readFileSync('/proc/uptime').toString().split(' ')[0]);

/**
 * Starts the app in a new session and waits for the Sources page. Returns the
 * session and the time from the process starting to the page being there.
 */
async function launch() {
  const before = new Set(appPids());
  const session = await Session.start();
  await session.waitFor('[data-testid="page-sources"]', { interval: 10 });
  const seen = uptime();
  const pid = appPids().find((p) => !before.has(p));
  const launchMs = pid ? Math.round((seen - startedAt(pid)) * 1000) : NaN;
  return { session, launchMs, pid };
}

async function stop(session) {
  const pids = appPids();
  await session.close();
  // The app takes a moment to exit; wait for it so the next launch starts clean.
  const end = Date.now() + 10_000;
  while (pids.some((p) => appPids().includes(p)) && Date.now() < end) await sleep(50);
}

// ---- The test -----------------------------------------------------------------

let passed = 0;
let failed = 0;
function check(name, ok, detail = '') {
  if (ok) passed += 1;
  else failed += 1;
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}${detail ? ` (${detail})` : ''}`);
}
async function step(name, fn) {
  try {
    await fn();
  } catch (e) {
    check(name, false, e.message);
  }
}

mkdirSync(ARTIFACTS, { recursive: true });
const launches = [];
let session = null;

try {
  // 1. First start on a fresh data folder: demo.cohort is created and opened.
  const first = await launch();
  session = first.session;
  launches.push({ kind: 'first start', ms: first.launchMs });
  check('first start shows the Sources page', true, `${first.launchMs} ms after launch`);
  // The very first start loads the demo business into demo.cohort by itself, with a progress bar.
  let demoImports = 0;
  let demoContacts = 0;
  await step('first start loads the demo business into demo.cohort', async () => {
    const path = await session.workspacePath();
    await session.waitFor('[data-testid="start-import"]', { timeout: 120_000 });
    await session.waitFor('[data-testid="history-row"]', { timeout: 120_000 });
    demoImports = (await session.findAll('[data-testid="history-row"]')).length;
    demoContacts = Number((await session.textOf('[data-testid="count-contacts"]')).replace(/\D/g, ''));
    check(
      'first start loads the demo business into demo.cohort',
      path === join(DATA, 'demo.cohort') && demoImports >= 7 && demoContacts > 1000,
      `${path}, ${demoImports} imports, ${demoContacts} contacts`,
    );
  });

  // 1b. The README's desktop screenshot: the demo's profiles with personal data masked.
  await step('the demo profiles in the desktop window, masked', async () => {
    await session.run(`location.hash = '#/profiles'; return true;`);
    await session.waitFor('[data-testid="profile-row"]', { timeout: 120_000 });
    await session.click(await session.waitFor('[data-testid="mask-toggle"]'));
    const r = await session.run(`
      await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
      const t = document.querySelector('[data-testid="profiles-table"]').innerText;
      return { dots: (t.match(/•/g) ?? []).length, emails: (t.match(/[a-z0-9]{2,}@/gi) ?? []).length };`);
    const bytes = await session.screenshot(join(ARTIFACTS, 'desktop-profiles.png'));
    await session.click(await session.waitFor('[data-testid="mask-toggle"]'));
    await session.run(`location.hash = '#/sources'; return true;`);
    check('the demo profiles in the desktop window, masked', r.dots > 0 && r.emails === 0 && bytes > 10_000, `${JSON.stringify(r)}, ${bytes} bytes`);
  });

  // 2. The IPC adapters answer with the engine's error codes.
  await step('IPC commands keep the engine error codes', async () => {
    const r = await session.run(`
      const invoke = window.__TAURI_INTERNALS__.invoke;
      const code = (p) => p.then(() => 'ok', (e) => e.code ?? String(e));
      const info = await invoke('call', { command: 'app_info', payload: {} });
      return {
        workspace: info.workspace?.path,
        unknown: await code(invoke('call', { command: 'launch_rockets', payload: {} })),
        notJob: await code(invoke('start_job', { command: 'preview', payload: {}, onEvent: '__CHANNEL__:0' })),
        noSuchJob: await code(invoke('cancel_job', { jobId: 'nope' })),
        badRequest: await code(invoke('call', { command: 'rejects', payload: { import_id: 'seven' } })),
      };`);
    check(
      'IPC commands keep the engine error codes',
      r.workspace === join(DATA, 'demo.cohort') &&
        r.unknown === 'unknown_command' &&
        r.notJob === 'unknown_command' &&
        r.noSuchJob === 'not_found' &&
        r.badRequest === 'bad_request',
      JSON.stringify(r),
    );
  });

  // 3. Import a CSV with two bad rows through the wizard.
  await step('import wizard reports the rejected rows', async () => {
    await session.click(await session.waitFor('[data-testid="start-import"]'));
    await session.click(await session.waitFor('[data-testid="pick-file"]'));
    await session.waitFor('[data-testid="import-wizard"][data-step="preview"]');
    const preset = await session.textOf('[data-testid="detected-preset"]');
    check('preview recognises the file', /contacts/i.test(preset), preset);
    await session.click(await session.waitFor('[data-testid="to-mapping"]'));
    await session.waitFor('[data-testid="import-wizard"][data-step="mapping"]');
    await session.click(await session.waitFor('[data-testid="import-button"]'));
    await session.waitFor('[data-testid="import-wizard"][data-step="report"]', { timeout: 30_000 });
    const read = (await session.textOf('[data-testid="rows-read"]')).trim();
    const stored = (await session.textOf('[data-testid="rows-stored"]')).trim();
    const rejected = (await session.textOf('[data-testid="rejected-count"]')).trim();
    const report = await session.textOf('[data-testid="import-report"]');
    writeFileSync(join(ARTIFACTS, 'import-report.txt'), report + '\n');
    check('import wizard reports the rejected rows', read === '6' && stored === '4' && rejected === '2', `read ${read}, stored ${stored}, rejected ${rejected}`);
    const bytes = await session.screenshot(join(ARTIFACTS, 'desktop-import-report.png'));
    check('screenshot of the report', bytes > 10_000, `${bytes} bytes`);
    // Rejected rows download as CSV through the app's save command (no browser downloads here).
    await session.click(await session.waitFor('[data-testid="rejects-table-download"]'));
    const dir = process.env.COHORT_E2E_SAVE_DIR;
    let csv = '';
    for (let i = 0; i < 100 && !csv; i++) {
      const f = readdirSync(dir).find((n) => n.endsWith('-rejected-rows.csv'));
      csv = f ? readFileSync(join(dir, f), 'utf8') : '';
      if (!csv) await new Promise((r) => setTimeout(r, 50));
    }
    check('rejected rows save as CSV from the desktop window', /^row,column,value,code,reason/.test(csv) && csv.trim().split('\n').length === 3, csv.split('\n')[0]);
    await session.click(await session.waitFor('[data-testid="wizard-done"]'));
    const rows = await session.findAll('[data-testid="history-row"]');
    const contacts = Number((await session.textOf('[data-testid="count-contacts"]')).replace(/\D/g, ''));
    check(
      'history and header counts after the import',
      rows.length === demoImports + 1 && contacts === demoContacts + 4,
      `${rows.length} row(s), ${contacts} contacts`,
    );
  });

  // 4. A job streams throttled progress over its channel and can be cancelled.
  await step('jobs stream progress and cancel', async () => {
    const r = await session.run(`
      const T = window.__TAURI_INTERNALS__;
      const events = [];
      let resolveEnd;
      const end = new Promise((r) => (resolveEnd = r));
      let resolveFirst;
      const first = new Promise((r) => (resolveFirst = r));
      const id = T.transformCallback((raw) => {
        const ev = raw && typeof raw === 'object' && 'message' in raw ? raw.message : raw;
        if (!ev || typeof ev !== 'object' || !ev.type) return;
        events.push({ ...ev, at: performance.now() });
        if (ev.type === 'progress') resolveFirst();
        else resolveEnd(ev);
      });
      const t0 = performance.now();
      const started = await T.invoke('start_job', { command: 'demo', payload: { customers: 200000 }, onEvent: '__CHANNEL__:' + id });
      await Promise.race([first, new Promise((r) => setTimeout(r, 20000))]);
      // Let progress flow for a second to see the throttle, then cancel.
      await new Promise((r) => setTimeout(r, 1000));
      await T.invoke('cancel_job', { jobId: started.job_id });
      const last = await Promise.race([end, new Promise((r) => setTimeout(() => r({ type: 'timeout' }), 30000))]);
      const progress = events.filter((e) => e.type === 'progress');
      const span = progress.length > 1 ? (progress[progress.length - 1].at - progress[0].at) / 1000 : 0;
      return { jobId: started.job_id, progress: progress.length, span, last: last.type, code: last.code, ms: performance.now() - t0 };
    `);
    const throttled = r.progress <= Math.ceil(r.span * 10) + 2;
    check('a job returns its id and streams progress', typeof r.jobId === 'string' && r.progress > 0, `job ${r.jobId}, ${r.progress} progress events over ${r.span?.toFixed?.(2)} s`);
    check('progress is throttled to ≤10 a second', throttled, `${r.progress} events in ${r.span?.toFixed?.(2)} s`);
    check('cancel_job stops the job with `cancelled`', r.last === 'error' && r.code === 'cancelled', `${r.last} ${r.code ?? ''}`);
    const contacts = await session.run(`return (await window.__TAURI_INTERNALS__.invoke('call', { command: 'workspace_stats', payload: {} })).contacts;`);
    check('a cancelled job leaves the workspace as it was', contacts === demoContacts + 4, `${contacts} contacts`);
  });

  // 5. The menu: File → Import CSV… (Ctrl+I) reaches the UI as event `menu`.
  await step('menu items reach the UI as `menu` events', async () => {
    await session.run(`
      const T = window.__TAURI_INTERNALS__;
      window.__menu = [];
      const handler = T.transformCallback((e) => window.__menu.push(e.payload));
      await T.invoke('plugin:event|listen', { event: 'menu', target: { kind: 'Any' }, handler });
      return true;`);
    // xdotool types the accelerator into the app's window (DISPLAY comes from run.sh).
    const win = execFileSync('xdotool', ['search', '--onlyvisible', '--name', 'Cohort']).toString().trim().split('\n')[0];
    if (!win) throw new Error('no window named Cohort on the display');
    execFileSync('xdotool', ['windowfocus', '--sync', win]);
    execFileSync('xdotool', ['key', '--clearmodifiers', 'ctrl+i']);
    let got = [];
    for (let i = 0; i < 50 && got.length === 0; i++) {
      await sleep(100);
      got = await session.run('return window.__menu;');
    }
    check('menu items reach the UI as `menu` events', got.includes('import_csv'), JSON.stringify(got));
  });

  // 6. pick_workspace shows a native dialog off the main thread; Escape cancels it.
  await step('pick_workspace opens a native dialog and a cancel gives null', async () => {
    await session.run(`
      window.__picked = 'pending';
      window.__TAURI_INTERNALS__.invoke('pick_workspace', { save: false }).then(
        (p) => (window.__picked = p),
        (e) => (window.__picked = 'error: ' + (e.code ?? e)),
      );
      return true;`);
    let dialog = '';
    for (let i = 0; i < 50 && !dialog; i++) {
      await sleep(100);
      try {
        dialog = execFileSync('xdotool', ['search', '--onlyvisible', '--name', 'Open a workspace']).toString().trim().split('\n')[0];
      } catch {
        // Not shown yet.
      }
    }
    if (!dialog) throw new Error('no dialog titled "Open a workspace" appeared');
    execFileSync('xdotool', ['windowfocus', '--sync', dialog]);
    execFileSync('xdotool', ['key', 'Escape']);
    let picked = 'pending';
    for (let i = 0; i < 50 && picked === 'pending'; i++) {
      await sleep(100);
      picked = await session.run('return window.__picked;');
    }
    check('pick_workspace opens a native dialog and a cancel gives null', picked === null, JSON.stringify(picked));
  });

  await stop(session);
  session = null;

  // 7. Warm launches reopen the most recent workspace.
  for (let i = 0; i < WARM_LAUNCHES; i++) {
    const again = await launch();
    session = again.session;
    launches.push({ kind: 'warm', ms: again.launchMs });
    if (i === 0) {
      await step('a relaunch reopens the most recent workspace', async () => {
        const path = await session.workspacePath();
        const rows = await session.findAll('[data-testid="history-row"]');
        check('a relaunch reopens the most recent workspace', path === join(DATA, 'demo.cohort') && rows.length === demoImports + 1, `${path}, ${rows.length} import(s)`);
      });
    }
    await stop(session);
    session = null;
  }
} catch (e) {
  check('desktop session', false, e.stack ?? String(e));
} finally {
  if (session) await stop(session);
  // Anything of ours still running (a session that failed to close) is stopped by PID.
  for (const pid of appPids()) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // Already gone.
    }
  }
}

const warm = launches.filter((l) => l.kind === 'warm').map((l) => l.ms).sort((a, b) => a - b);
const median = warm.length ? warm[Math.floor((warm.length - 1) / 2)] : NaN;
const summary = { launches, warm_median_ms: median, target_ms: 1500 };
writeFileSync(join(ARTIFACTS, 'launch-times.json'), JSON.stringify(summary, null, 2) + '\n');
console.log(
  `launch → Sources page: first start ${launches[0]?.ms ?? '?'} ms; warm ${warm.join(', ')} ms (median ${median} ms, target 1500 ms)`,
);
console.log(`desktop-e2e: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);

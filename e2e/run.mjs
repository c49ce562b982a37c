// End-to-end test of the web UI against the real `cohort serve`, in Debian's
// Chromium driven by playwright-core. Plain node, no test framework.
//
//   npm run build && npm run test:e2e
//
// Env: COHORT_BIN (default target/debug/cohort), CHROMIUM (default
// /usr/bin/chromium), E2E_KEEP=1 keeps the temp folder.
// Screenshots go to e2e/artifacts/.
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BIN = path.resolve(ROOT, process.env.COHORT_BIN ?? 'target/debug/cohort');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const DIST = path.join(ROOT, 'ui', 'dist');
const ARTIFACTS = path.join(ROOT, 'e2e', 'artifacts');
const TIMEOUT = 15_000;

// ---- a tiny runner ----------------------------------------------------------

let passed = 0;
let failed = 0;
let aborted = null;

/** Runs a check; after a failure the following checks are counted as failed, not run. */
async function check(name, fn) {
  if (aborted) {
    failed++;
    console.log(`  SKIP ${name} (after: ${aborted})`);
    return;
  }
  const t0 = Date.now();
  try {
    await fn();
    passed++;
    console.log(`  ok   ${name} (${Date.now() - t0} ms)`);
  } catch (e) {
    failed++;
    aborted = name;
    console.log(`  FAIL ${name}\n       ${String(e?.stack ?? e).split("\n").slice(0, 40).join('\n       ')}`);
    if (page) {
      try {
        console.log(`       screenshot: ${await shot('failure')}`);
      } catch {
        // no page to photograph
      }
    }
  }
}

function assert(cond, message) {
  if (!cond) throw new Error(message);
}
function assertEq(actual, expected, what) {
  if (JSON.stringify(actual) !== JSON.stringify(expected)) {
    throw new Error(`${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
  }
}

// ---- fixtures ---------------------------------------------------------------

const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'cohort-e2e-'));
const WORKSPACE = path.join(TMP, 'ws.cohort');
fs.mkdirSync(ARTIFACTS, { recursive: true });

// Contacts keyed by email (generic contacts preset). Rows as a spreadsheet
// numbers them (the header is row 1):
//   4: no email → missing_key;  5: one field too many → field_count;
//   7: invalid email, the file's key → email_syntax;  8: stored, country flagged (value kept raw).
const CONTACTS_CSV = path.join(TMP, 'contacts.csv');
fs.writeFileSync(
  CONTACTS_CSV,
  [
    'Email,First Name,Last Name,Country,Signup Date,Favourite Colour',
    'ada@example.com,Ada,Lovelace,GB,15/01/2024,green',
    'grace@example.com,Grace,Hopper,US,01/02/2024,blue',
    ',Nobody,Noemail,FR,01/03/2024,red',
    'alan@example.com,Alan,Turing,GB,05/03/2024,teal,extra',
    'katherine@example.com,Katherine,Johnson,US,10/04/2024,gold',
    'bad-email,Bad,Email,DE,01/05/2024,grey',
    'mary@example.com,Mary,Jackson,=Narnia,01/06/2024,pink',
    '',
  ].join('\n'),
);
const EXPECTED_REJECTS = [
  { row: 4, code: 'missing_key' },
  { row: 5, code: 'field_count' },
  { row: 7, code: 'email_syntax' },
];
// Big enough that the import runs for seconds: progress and cancel.
const BIG_CSV = path.join(TMP, 'big_contacts.csv');
{
  const lines = ['Email,First Name,Last Name,Country,Signup Date'];
  for (let i = 0; i < 1_000_000; i++) lines.push(`person${i}@example.com,First${i},Last${i},GB,2024-01-${String((i % 28) + 1).padStart(2, '0')}`);
  fs.writeFileSync(BIG_CSV, lines.join('\n') + '\n');
}
const EMPTY_CSV = path.join(TMP, 'empty.csv');
fs.writeFileSync(EMPTY_CSV, '');

// ---- server -----------------------------------------------------------------

let server = null;
let base = '';
let token = '';
let pageUrl = '';

/** Starts `cohort serve` on `workspace`; resolves with the process and its URL and token once it prints them. */
function spawnServe(workspace, env = process.env) {
  return new Promise((resolve, reject) => {
    if (!fs.existsSync(BIN)) {
      reject(new Error(`${BIN} does not exist: run \`cargo build --bin cohort\` or set COHORT_BIN`));
      return;
    }
    const proc = spawn(BIN, ['--workspace', workspace, 'serve', '--port', '0', '--ui', DIST], {
      cwd: ROOT,
      env: { ...env, COHORT_DATA_DIR: path.join(TMP, 'data'), NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    let done = false;
    const timer = setTimeout(() => reject(new Error(`the server printed no URL in 30 s; stderr: ${err}`)), 30_000);
    proc.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/Cohort is running at (http:\/\/127\.0\.0\.1:\d+)\/\?token=([A-Za-z0-9_-]+)/);
      if (m && !done) {
        done = true;
        clearTimeout(timer);
        resolve({ proc, base: m[1], token: m[2], url: `${m[1]}/?token=${m[2]}` });
      }
    });
    proc.stderr.on('data', (d) => (err += d));
    proc.on('exit', (code) => {
      clearTimeout(timer);
      if (!done) reject(new Error(`the server exited with ${code}: ${err}`));
    });
  });
}

async function startServer() {
  const s = await spawnServe(WORKSPACE);
  server = s.proc;
  base = s.base;
  token = s.token;
  pageUrl = s.url;
}

function stopServer() {
  if (server && server.exitCode === null) {
    server.kill('SIGTERM');
    const t = setTimeout(() => server.exitCode === null && server.kill('SIGKILL'), 3000);
    t.unref();
  }
}

async function api(command, payload = {}) {
  const res = await fetch(`${base}/api/call/${command}`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(payload),
  });
  const body = await res.json();
  if (!res.ok) throw new Error(`${command} → ${res.status} ${JSON.stringify(body)}`);
  return body;
}

/** A raw request with a chosen Host header (fetch may not set it). */
function rawRequest(method, urlPath, headers, body) {
  return new Promise((resolve, reject) => {
    const u = new URL(base);
    const req = http.request({ host: u.hostname, port: u.port, method, path: urlPath, headers }, (res) => {
      let data = '';
      res.on('data', (d) => (data += d));
      res.on('end', () => resolve({ status: res.statusCode, body: data }));
    });
    req.on('error', reject);
    if (body) req.write(body);
    req.end();
  });
}

// ---- browser helpers --------------------------------------------------------

let context = null;
let page = null;
const consoleErrors = [];

const $ = (testid) => page.locator(`[data-testid="${testid}"]`);

async function shot(name, fullPage = true) {
  const file = path.join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage });
  return file;
}

/** Sets the header's "Mask personal data" switch without moving the focus; false when there is no header. */
async function setMasking(on) {
  const changed = await page.evaluate((want) => {
    const el = document.querySelector('[data-testid="mask-toggle"]');
    if (!el) return null;
    if (el.checked !== want) el.click();
    return el.checked === want;
  }, on);
  // Two frames: Svelte has re-rendered the masked values.
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  return changed;
}

/** A screenshot with personal data masked (the README's screenshots), masking switched back off after. */
async function maskedShot(name, fullPage = true) {
  const had = await setMasking(true);
  try {
    return await shot(name, fullPage);
  } finally {
    if (had !== null) await setMasking(false);
  }
}

/** Clicks "Choose a CSV file…" and answers the file chooser it opens (the app's file input). */
async function pickFile(file) {
  const [chooser] = await Promise.all([page.waitForEvent('filechooser'), $('pick-file').click()]);
  assertEq(await chooser.element().getAttribute('data-testid'), 'file-input', 'the chooser belongs to the file input');
  await chooser.element().setInputFiles(file);
}

const AXE = fs.readFileSync(path.join(ROOT, 'node_modules', 'axe-core', 'axe.min.js'), 'utf8');
const axeFindings = [];

/** Runs axe-core on the page as it is; serious and critical violations fail the last check. */
async function axe(state) {
  if (!(await page.evaluate(() => 'axe' in window))) await page.addScriptTag({ content: AXE });
  const violations = await page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(' ')).slice(0, 3) }));
  });
  for (const v of violations) {
    if (v.impact === 'serious' || v.impact === 'critical') axeFindings.push({ state, ...v });
    else console.log(`       note (axe, ${state}): ${v.id} (${v.impact}) ${v.help} at ${v.nodes.join(', ')}`);
  }
}

async function texts(locator) {
  return (await locator.allInnerTexts()).map((t) => t.trim());
}

/** The number in a text such as "1,738". */
function num(text) {
  return Number(String(text).replace(/[^\d]/g, ''));
}

/** The total of a range such as "1–25 of 1,738 profiles". */
function rangeTotal(text) {
  const m = String(text).match(/of ([\d,.\s\u202f]+) profiles/);
  assert(m, `a range: ${text}`);
  return num(m[1]);
}

/** Lower case without accents, as the search compares. */
function fold(s) {
  return s.normalize('NFD').replace(/[\u0300-\u036f]/g, '').toLowerCase();
}

/** JSON with object keys sorted, to compare values regardless of key order. */
function canon(v) {
  if (Array.isArray(v)) return v.map(canon);
  if (v && typeof v === 'object') return Object.fromEntries(Object.keys(v).sort().map((k) => [k, canon(v[k])]));
  return v;
}

/** RFC 4180 rows (quoted cells, doubled quotes, CRLF or LF). */
function parseCsv(text) {
  const rows = [];
  let row = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cell += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      row.push(cell);
      cell = '';
    } else if (ch === '\n') {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
    } else if (ch === '\r' && text[i + 1] === '\n') {
      // the LF ends the row
    } else cell += ch;
  }
  if (cell !== '' || row.length > 0) {
    row.push(cell);
    rows.push(row);
  }
  return rows;
}

// ---- the tests --------------------------------------------------------------

async function main() {
  console.log(`e2e: temp folder ${TMP}`);
  if (!fs.existsSync(path.join(DIST, 'index.html'))) {
    console.log('e2e: ui/dist is missing, building the UI');
    const r = spawnSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });
    if (r.status !== 0) throw new Error('npm run build failed');
  }

  await check('server starts and prints its URL', async () => {
    await startServer();
    assert(/^[A-Za-z0-9_-]{16,}$/.test(token), `token looks wrong: ${token}`);
  });

  // -- security, from node --
  await check('no token → 401', async () => {
    const r = await fetch(`${base}/api/call/app_info`, { method: 'POST', body: '{}' });
    assertEq(r.status, 401, 'status');
    assert((await r.json()).message, 'a message for people');
  });
  await check('wrong token → 401', async () => {
    const r = await fetch(`${base}/api/call/app_info`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${'0'.repeat(token.length)}` },
      body: '{}',
    });
    assertEq(r.status, 401, 'status');
  });
  await check('right token, foreign Origin → 403', async () => {
    const r = await fetch(`${base}/api/call/app_info`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, Origin: 'http://evil.example' },
      body: '{}',
    });
    assertEq(r.status, 403, 'status');
  });
  await check('right token, foreign Host (DNS rebinding) → 403', async () => {
    const r = await rawRequest('POST', '/api/call/app_info', {
      Host: `evil.example:${new URL(base).port}`,
      Authorization: `Bearer ${token}`,
      'Content-Type': 'application/json',
      'Content-Length': 2,
    }, '{}');
    assertEq(r.status, 403, 'status');
  });
  await check('malformed JSON → 400 with a message', async () => {
    const r = await fetch(`${base}/api/call/app_info`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      body: '{"unclosed": ',
    });
    assertEq(r.status, 400, 'status');
    const body = await r.json();
    assert(typeof body.code === 'string' && typeof body.message === 'string', `error shape: ${JSON.stringify(body)}`);
  });
  await check('job events need the token too', async () => {
    const r = await fetch(`${base}/api/jobs/nonexistent/events`);
    assertEq(r.status, 401, 'status');
  });
  await check('the page itself needs the token', async () => {
    const r = await fetch(`${base}/`);
    assertEq(r.status, 401, 'status of / without token');
  });

  // -- the browser --
  await check('Chromium starts', async () => {
    const profile = path.join(TMP, 'chromium-profile');
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      acceptDownloads: true,
      viewport: { width: 1360, height: 900 },
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    });
    context.setDefaultTimeout(TIMEOUT);
    page = context.pages()[0] ?? (await context.newPage());
    page.on('console', (m) => {
      // Failed requests the UI handles (4xx answers) are logged by Chromium itself.
      if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) consoleErrors.push(m.text());
    });
    page.on('pageerror', (e) => consoleErrors.push(String(e)));
  });

  await check('the app opens, keeps the token and hides it from the address bar', async () => {
    await page.goto(pageUrl);
    await $('workspace-header').waitFor();
    await page.waitForFunction(() => !location.search.includes('token='));
    const stored = await page.evaluate(() => sessionStorage.getItem('cohort.token'));
    assertEq(stored, token, 'token in sessionStorage');
    await $('workspace-path-label').waitFor();
    assertEq((await $('workspace-path-label').innerText()).trim(), WORKSPACE, 'workspace path in the header');
    assertEq((await $('count-contacts').innerText()).trim(), '0', 'contacts in the header');
  });

  await check('first start shows the welcome panel', async () => {
    await $('welcome').waitFor();
    assert(await $('load-demo').isVisible(), 'demo button');
    assert(await $('welcome-import').isVisible(), 'import button');
    await shot('welcome');
    await axe('welcome');
  });

  await check('other sections show an honest empty state', async () => {
    await $('nav-recommendations').click();
    await $('recommend-no-data').waitFor();
    assert(/Sources/.test(await $('recommend-no-data').innerText()), 'recommendations point to Sources');
    await axe('recommendations, no data');
    await $('nav-templates').click();
    await $('templates-no-data').waitFor();
    const text = await $('templates-no-data').innerText();
    assert(/Sources/.test(text), `templates point to Sources: ${text}`);
    await axe('templates, no data');
    await $('nav-segments').click();
    await $('segments-no-data').waitFor();
    assert(/Sources/.test(await $('segments-no-data').innerText()), 'segments point to Sources');
    await $('nav-campaigns').click();
    await $('campaigns-no-data').waitFor();
    await axe('campaigns, no data');
    await $('nav-sources').click();
    await $('page-sources').waitFor();
  });

  await check('profiles and identity review before any import point to Sources', async () => {
    await $('nav-profiles').click();
    await $('profiles-no-data').waitFor();
    assert(await page.evaluate(() => document.activeElement?.id === 'main'), 'the focus moved to the new page');
    assert(/Sources/.test(await $('profiles-no-data').innerText()), 'points to Sources');
    await axe('profiles, no data');
    await $('nav-review').click();
    await $('review-no-data').waitFor();
    await $('nav-sources').click();
    await $('page-sources').waitFor();
  });

  await check('dialogs: Escape closes the workspace dialog', async () => {
    await $('open-workspace').click();
    await $('workspace-dialog-open').waitFor({ state: 'visible' });
    assert(await page.evaluate(() => document.activeElement?.getAttribute('data-testid') === 'workspace-path'), 'path field has focus');
    await axe('open workspace dialog');
    await page.keyboard.press('Escape');
    await $('workspace-dialog-open').waitFor({ state: 'hidden' });
  });

  await check('keyboard: Enter on "Import a CSV" opens the wizard', async () => {
    await $('start-import').focus();
    await page.keyboard.press('Enter');
    await $('import-wizard').waitFor();
    assertEq(await $('import-wizard').getAttribute('data-step'), 'file', 'wizard step');
  });

  await check('an engine error is shown in the alert region (empty file)', async () => {
    await pickFile(EMPTY_CSV);
    await $('error-alert').waitFor();
    assertEq(await $('error-alert').getAttribute('data-code'), 'empty_file', 'error code');
    const msg = await $('error-message').innerText();
    assert(/empty/i.test(msg), `message: ${msg}`);
    assertEq(await $('error-alert').locator('xpath=..').getAttribute('role'), 'alert', 'alert role');
    await axe('error alert');
  });

  await check('preview: detected format, preset, dates and the first rows', async () => {
    await pickFile(CONTACTS_CSV);
    await $('preview-table').waitFor();
    assertEq(await $('error-alert').count(), 0, 'the earlier error is gone');
    assertEq((await $('detected-encoding').innerText()).trim(), 'UTF-8', 'encoding');
    assert(/comma/i.test(await $('detected-delimiter').innerText()), 'delimiter');
    assert(/LF/.test(await $('detected-line-ending').innerText()), 'line endings');
    assert(/Contacts/.test(await $('detected-preset').innerText()), 'preset');
    assert(/day above 12/i.test(await $('date-explanations').innerText()), 'date explanation');
    assertEq(await $('preview-column').count(), 6, 'columns');
    const fields = await texts($('preview-field'));
    assertEq(fields[0], '→ Email', 'Email column mapped');
    assertEq(fields[5], 'attribute', 'Favourite Colour kept as attribute');
    assertEq(await $('preview-table').locator('tbody tr').count(), 7, 'preview rows');
    await maskedShot('preview');
    await axe('preview');
  });

  await check('mapping: every column has a field select; a change re-runs the preview', async () => {
    await $('to-mapping').click();
    await $('mapping-table').waitFor();
    assertEq(await $('mapping-select').count(), 6, 'selects');
    const email = page.locator('[data-testid="mapping-row"][data-column="Email"] select');
    assertEq(await email.inputValue(), 'email', 'Email maps to email');
    const colour = page.locator('[data-testid="mapping-row"][data-column="Favourite Colour"] select');
    assertEq(await colour.inputValue(), 'attribute', 'Favourite Colour is an attribute');
    const options = await colour.locator('option').allInnerTexts();
    assert(options[0] === 'Keep as attribute' && options.some((o) => o.startsWith('Email')), `options: ${options}`);
    // Map "Last Name" to an attribute and back; the engine's plan follows.
    const last = page.locator('[data-testid="mapping-row"][data-column="Last Name"] select');
    await last.selectOption('attribute');
    await page.waitForFunction(() => !document.querySelector('[data-testid="import-button"]')?.hasAttribute('disabled'));
    assertEq(await last.inputValue(), 'attribute', 'Last Name unmapped');
    await last.selectOption('last_name');
    await page.waitForFunction(() => !document.querySelector('[data-testid="import-button"]')?.hasAttribute('disabled'));
    assertEq(await last.inputValue(), 'last_name', 'Last Name mapped again');
    await shot('mapping');
    await axe('mapping');
  });

  await check('import: report counts, reasons and the rejected rows', async () => {
    await $('import-button').click();
    await $('import-report').waitFor();
    assertEq((await $('rows-read').innerText()).trim(), '7', 'rows read');
    assertEq((await $('rejected-count').innerText()).trim(), '3', 'rows rejected');
    assertEq((await $('flagged-count').innerText()).trim(), '1', 'values flagged');
    const contacts = page.locator('[data-testid="table-count-row"][data-table="contacts"]');
    assertEq((await contacts.locator('[data-testid="inserted"]').innerText()).trim(), '4', 'contacts inserted');
    const reasons = await page.locator('[data-testid="rejected-reasons"] li').evaluateAll((els) => els.map((e) => e.dataset.code));
    assertEq(reasons.sort(), ['email_syntax', 'field_count', 'missing_key'], 'reasons');
    await $('rejects-table').waitFor();
    const rows = await page
      .locator('[data-testid="rejects-table-row"]')
      .evaluateAll((els) => els.map((e) => ({ row: Number(e.dataset.row), code: e.dataset.code, text: e.innerText })));
    assertEq(rows.map(({ row, code }) => ({ row, code })), EXPECTED_REJECTS, 'rejected rows');
    assert(/email.*empty/i.test(rows[0].text), `reason of row 4: ${rows[0].text}`);
    assert(/7 fields but the header has 6/.test(rows[1].text), `reason of row 5: ${rows[1].text}`);
    await maskedShot('report');
    await axe('report');
  });

  await check('the rows landed in the workspace (workspace_stats from node)', async () => {
    const stats = await api('workspace_stats');
    assertEq(stats.contacts, 4, 'contacts');
    assertEq(stats.imports, 1, 'imports');
    assertEq(stats.rejected_rows, 3, 'rejected rows');
    assertEq((await $('count-contacts').innerText()).trim(), '4', 'header count');
  });

  await check('download rejected rows as CSV', async () => {
    const [download] = await Promise.all([page.waitForEvent('download'), $('rejects-table-download').click()]);
    const file = path.join(TMP, 'rejected.csv');
    await download.saveAs(file);
    const lines = fs.readFileSync(file, 'utf8').trim().split(/\r\n/);
    assertEq(lines[0], 'row,column,value,code,reason', 'header');
    assertEq(lines.length, 4, 'lines');
    assertEq(lines.slice(1).map((l) => l.split(',')[0]), ['4', '5', '7'], 'row numbers');
  });

  await check('flagged values: listed, and the CSV guards formula cells', async () => {
    await page.getByRole('button', { name: /Flagged values/ }).click();
    await $('warnings-table').waitFor();
    const row = page.locator('[data-testid="warnings-table-row"]');
    assertEq(await row.count(), 1, 'flagged rows');
    assertEq(await row.getAttribute('data-row'), '8', 'row');
    assertEq(await row.getAttribute('data-code'), 'country_unknown', 'code');
    const [download] = await Promise.all([page.waitForEvent('download'), $('warnings-table-download').click()]);
    const file = path.join(TMP, 'flagged.csv');
    await download.saveAs(file);
    const text = fs.readFileSync(file, 'utf8');
    assert(text.includes(",'=Narnia,"), `the value is guarded: ${text}`);
    assert(!/,=Narnia/.test(text), 'no bare formula');
  });

  await check('the history lists the import', async () => {
    await $('wizard-done').click();
    await $('history-table').waitFor();
    assertEq(await $('history-row').count(), 1, 'history rows');
    assertEq(await $('history-row').first().getAttribute('data-import-id'), '1', 'import id');
  });

  await check('the same file again: "already imported", nothing changed', async () => {
    await $('start-import').click();
    await pickFile(CONTACTS_CSV);
    await $('to-mapping').click();
    await $('import-button').click();
    await $('duplicate-notice').waitFor();
    const text = await $('duplicate-notice').innerText();
    assert(/This exact file was already imported as import #1 on .+\. Nothing was changed\./.test(text), `notice: ${text}`);
    const stats = await api('workspace_stats');
    assertEq([stats.imports, stats.contacts], [1, 4], 'imports and contacts unchanged');
    await shot('duplicate');
  });

  await check('"Import again anyway" imports with force: all unchanged', async () => {
    await $('import-anyway').click();
    await $('import-report').waitFor();
    const contacts = page.locator('[data-testid="table-count-row"][data-table="contacts"]');
    assertEq((await contacts.locator('[data-testid="inserted"]').innerText()).trim(), '0', 'inserted');
    assertEq((await contacts.locator('[data-testid="unchanged"]').innerText()).trim(), '4', 'unchanged');
    assertEq((await api('workspace_stats')).imports, 2, 'imports');
  });

  await check('history: "Show problems" opens the rejected rows of an import', async () => {
    await $('wizard-done').click();
    assertEq(await $('history-row').count(), 2, 'history rows');
    await page.locator('[data-testid="history-row"][data-import-id="1"] [data-testid="show-problems"]').click();
    await $('problems-panel').waitFor();
    const rows = await $('problems-panel')
      .locator('[data-testid="rejects-table-row"]')
      .evaluateAll((els) => els.map((e) => Number(e.dataset.row)));
    assertEq(rows, [4, 5, 7], 'rows');
  });

  await check('history: "Re-import" runs the import again with force', async () => {
    await page.locator('[data-testid="history-row"][data-import-id="1"] [data-testid="reimport"]').click();
    await $('import-report').waitFor();
    assertEq((await $('rejected-count').innerText()).trim(), '3', 'rejected');
    await $('wizard-done').click();
    assertEq(await $('history-row').count(), 3, 'history rows');
  });

  await check('a 1,000,000-row import shows progress, keeps the page responsive and can be cancelled: nothing changes', async () => {
    const before = await api('workspace_stats');
    await $('start-import').click();
    await pickFile(BIG_CSV);
    await $('to-mapping').click();
    await $('import-button').click();
    await $('progress-bar').waitFor();
    await page.waitForFunction(
      () => Number(document.querySelector('[data-testid="progress-bar"]')?.getAttribute('data-percent') || 0) > 0,
    );
    const numbers = await $('progress-numbers').innerText();
    assert(/rows\/s/.test(numbers) && /of \d+(\.\d)? MB/.test(numbers), `progress numbers: ${numbers}`);
    // The page stays responsive while the 1,000,000-row import runs: the
    // longest gap between animation frames over two seconds, and the focus
    // still moves with the keyboard.
    const worstFrameMs = await page.evaluate(
      () =>
        new Promise((resolve) => {
          let last = performance.now();
          let worst = 0;
          const end = last + 2000;
          const frame = (t) => {
            worst = Math.max(worst, t - last);
            last = t;
            if (t < end) requestAnimationFrame(frame);
            else resolve(Math.round(worst));
          };
          requestAnimationFrame(frame);
        }),
    );
    const focusBefore = await page.evaluate(() => document.activeElement?.outerHTML ?? '');
    await page.keyboard.press('Tab');
    const focusAfter = await page.evaluate(() => document.activeElement?.outerHTML ?? '');
    const stillRunning = Number(await $('progress-bar').getAttribute('data-percent')) < 100;
    console.log(`  responsiveness during a 1,000,000-row import: longest frame gap ${worstFrameMs} ms over 2 s`);
    assert(stillRunning, 'the import was still running while responsiveness was measured');
    assert(worstFrameMs < 250, `longest frame gap ${worstFrameMs} ms`);
    assert(focusBefore !== focusAfter, 'Tab moves the focus during the import');
    await shot('importing');
    await axe('importing');
    await $('cancel-import').click();
    await $('wizard-notice').waitFor({ timeout: 60_000 });
    assert(/cancelled.*nothing was changed/i.test(await $('wizard-notice').innerText()), 'cancel notice');
    const after = await api('workspace_stats');
    assertEq([after.imports, after.contacts], [before.imports, before.contacts], 'imports and contacts');
    await $('close-wizard').click();
  });

  await check('profiles: not resolved yet → "Resolve identities" runs and shows its report', async () => {
    await $('nav-profiles').click();
    await $('not-resolved').waitFor();
    assertEq(await $('profiles-table').count(), 0, 'no list before resolution');
    const summaryBefore = await api('identity_summary');
    assert(!summaryBefore.resolved, `not resolved: ${JSON.stringify(summaryBefore)}`);
    await axe('profiles, not resolved');
    await $('resolve-button').click();
    await $('resolve-report').waitFor({ timeout: 60_000 });
    assertEq(num(await $('report-records').innerText()), 4, 'records in the report');
    assertEq(num(await $('report-profiles').innerText()), 4, 'profiles in the report (four different people)');
    await page.waitForFunction(() => document.activeElement?.closest('.done') != null);
    await $('profiles-table').waitFor();
    assertEq(num(await $('summary-profiles').innerText()), 4, 'profiles in the summary');
    assertEq(num(await $('summary-unresolved').innerText()), 0, 'nothing left unresolved');
    assertEq(await $('profile-row').count(), 4, 'profile rows');
    const names = (await texts($('profile-name'))).sort();
    assertEq(names, ['Ada Lovelace', 'Grace Hopper', 'Katherine Johnson', 'Mary Jackson'], 'names');
    await shot('resolved');
    await axe('resolve report');
    await $('nav-sources').click();
    await $('page-sources').waitFor();
  });

  await check('a new workspace, then the demo business with a progress bar', async () => {
    await $('new-workspace').click();
    await $('workspace-dialog-new').waitFor({ state: 'visible' });
    const demoWs = path.join(TMP, 'demo.cohort');
    await $('workspace-path').fill(demoWs);
    await page.keyboard.press('Enter');
    await $('workspace-dialog-new').waitFor({ state: 'hidden' });
    assertEq((await $('workspace-path-label').innerText()).trim(), demoWs, 'header shows the new workspace');
    await $('welcome').waitFor();
    await $('load-demo').click();
    await $('progress-bar').waitFor();
    await $('demo-done').waitFor({ timeout: 120_000 });
    const stats = await api('workspace_stats');
    assert(stats.path === demoWs && stats.contacts > 0 && stats.orders > 0 && stats.events > 0, `stats: ${JSON.stringify(stats)}`);
    assertEq(await $('history-row').count(), stats.imports, 'history rows');
    await maskedShot('demo');
    await axe('history');
  });

  // -- profiles and identity review on the demo business (resolved at the end of the demo job) --
  let searched = null;
  await check('profiles: a count, a search that narrows the list, and a profile with records, identities and a timeline', async () => {
    await $('nav-profiles').click();
    await $('identity-summary').waitFor();
    await $('profiles-table').waitFor();
    const profiles = num(await $('summary-profiles').innerText());
    assert(profiles > 0, `profiles in the summary: ${profiles}`);
    assert(/ms/.test(await $('profiles-took').innerText()), 'search time shown');
    const all = rangeTotal(await $('profiles-range').innerText());
    assertEq(all, profiles, 'the unfiltered list holds every profile');
    await axe('profiles list');

    const names = await texts($('profile-name'));
    const first = names.find((n) => n !== 'Unnamed');
    assert(first, `a named profile on the first page: ${names}`);
    const surname = first.split(/\s+/).pop();
    await $('profile-search').fill(surname);
    await page.waitForFunction((s) => document.querySelector('[data-testid="profiles-range"]')?.textContent?.includes(s), surname);
    const matching = rangeTotal(await $('profiles-range').innerText());
    assert(matching > 0 && matching < all, `searching "${surname}" narrows ${all} profiles to ${matching}`);
    const rows = await $('profile-row').evaluateAll((els) => els.map((e) => e.innerText));
    assert(rows.length > 0, 'rows');
    for (const r of rows) assert(fold(r).includes(fold(surname)), `row without "${surname}": ${r}`);
    console.log(`       "${surname}": ${matching} of ${all} profiles`);

    // Open the first result with more than one record, with the keyboard.
    const row = page.locator('[data-testid="profile-row"]').filter({ has: page.locator('[data-testid="profile-records"]', { hasNotText: /^1$/ }) }).first();
    const id = await row.getAttribute('data-profile-id');
    const records = Number(await row.getAttribute('data-records'));
    await row.locator('[data-testid="profile-name"]').focus();
    await page.keyboard.press('Enter');
    await page.locator(`[data-testid="profile-detail"][data-profile-id="${id}"] [data-testid="profile-title"]`).waitFor();
    assertEq(await page.evaluate(() => location.hash), `#/profiles/${id}`, 'the address names the profile');
    assert(await page.evaluate(() => document.activeElement?.getAttribute('data-testid') === 'profile-title'), 'the focus is on the profile name');
    assertEq(await $('record-row').count(), records, 'source records');
    assert((await $('identity-row').count()) > 0, 'identities');
    assert((await $('value-row').count()) > 0, 'chosen values');
    assert((await $('timeline-entry').count()) > 0, 'timeline entries');
    await $('profile-traits').waitFor();
    // Expand where the first value comes from.
    await page.locator('[data-testid="value-row"] details summary').first().click();
    assert(await page.locator('[data-testid="value-row"] details[open] [data-testid="record-fields"]').first().isVisible(), 'origin record shown');
    await shot('profile');
    await axe('profile detail');

    // Back: the list as it was.
    await page.goBack();
    await $('profiles-table').waitFor();
    assertEq(await $('profile-search').inputValue(), surname, 'the search survives');
    assert(await page.evaluate(() => document.activeElement?.tagName === 'H1'), 'the focus is on the list heading');
    searched = Number(id);

    // A link to a profile that does not exist says so.
    await page.evaluate(() => (location.hash = '#/profiles/99999999'));
    await $('profile-missing').waitFor();
    assert(/99999999/.test(await $('profile-missing').innerText()), 'names the missing profile');
    await $('back-to-profiles').click();
    await $('profiles-table').waitFor();
  });

  await check('masking: the header switch masks the emails, phones and names of a profile, and unmasks them', async () => {
    // A demo person with a name, an email and a phone.
    let person = null;
    for (let offset = 0; !person; offset += 500) {
      const list = await api('profiles_search', { query: '', limit: 500, offset });
      person = list.profiles.find((p) => p.name && p.email && p.phone && /^\+\d{8,}$/.test(p.phone)) ?? null;
      if (list.profiles.length < 500) break;
    }
    assert(person, 'a demo profile with a name, an email and a phone');
    await page.evaluate((i) => (location.hash = `#/profiles/${i}`), person.id);
    await page.locator(`[data-testid="profile-detail"][data-profile-id="${person.id}"] [data-testid="profile-title"]`).waitFor();
    const main = page.locator('main');
    const before = await main.innerText();
    assert(before.includes(person.email), 'unmasked, the email shows');

    const toggle = page.getByRole('switch', { name: 'Mask personal data' });
    assert(!(await toggle.isChecked()), 'masking is off by default');
    await toggle.check();
    const maskedEmail = `${person.email[0]}•••${person.email.slice(person.email.lastIndexOf('@'))}`;
    await page.waitForFunction((m) => document.querySelector('main')?.innerText.includes(m), maskedEmail);
    // Every record's values shown too.
    for (const d of await page.locator('[data-testid="record-row"] details').all()) await d.locator('summary').click();
    const text = await main.innerText();
    const digits = person.phone.replace(/\D/g, '');
    assert(!text.toLowerCase().includes(person.email.toLowerCase()), `the email ${person.email} is masked`);
    assert(!text.includes(person.phone) && !text.replace(/[\s().-]/g, '').includes(digits), `the phone ${person.phone} is masked`);
    assert(text.includes(maskedEmail), `shows ${maskedEmail}`);
    assert(text.includes(`••${digits.slice(-4)}`), `shows the phone's last four digits: ${digits.slice(-4)}`);
    const initials = person.name.split(/\s+/).map((w) => `${w[0].toUpperCase()}.`).join(' ');
    assertEq(await $('profile-title').innerText(), initials, 'the name as initials');
    for (const part of person.name.split(/\s+/).filter((w) => w.length > 2)) {
      assert(!(await $('profile-values').innerText()).includes(part), `the name part ${part} is masked in the details`);
    }
    // Kept across a reload (localStorage).
    await page.reload();
    await page.locator(`[data-testid="profile-detail"][data-profile-id="${person.id}"] [data-testid="profile-title"]`).waitFor();
    assert(await toggle.isChecked(), 'the switch is kept');
    assertEq(await $('profile-title').innerText(), initials, 'still masked after a reload');
    await shot('masked-profile');

    await toggle.uncheck();
    await page.waitForFunction((e) => document.querySelector('main')?.innerText.includes(e), person.email);
    assertEq(await $('profile-title').innerText(), person.name, 'unmasked again');
    await $('back-to-profiles').click();
    await $('profiles-table').waitFor();
  });

  /** A profile of the demo with `n` records (from node), other than those in `not`. */
  async function profileWith(pred, not = []) {
    for (let offset = 0; ; offset += 500) {
      const list = await api('profiles_search', { query: '', limit: 500, offset });
      const p = list.profiles.find((x) => pred(x.records) && !not.includes(x.id));
      if (p) return p;
      if (list.profiles.length < 500) throw new Error('no profile of that size in the demo');
    }
  }

  async function openProfile(id) {
    await page.evaluate((i) => (location.hash = `#/profiles/${i}`), id);
    await page.locator(`[data-testid="profile-detail"][data-profile-id="${id}"] [data-testid="profile-title"]`).waitFor();
  }

  async function recordIds() {
    return $('record-row').evaluateAll((els) => els.map((e) => Number(e.dataset.recordId)));
  }

  let split = null;
  await check('split off a record: the profile has one record fewer and the record has a profile of its own', async () => {
    const p = await profileWith((n) => n === 2, [searched]);
    await openProfile(p.id);
    const before = await recordIds();
    assertEq(before.length, 2, 'records before');
    const target = before[1];
    await page.locator(`[data-testid="record-row"][data-record-id="${target}"] [data-testid="split-record"]`).click();
    await $('split-dialog').waitFor({ state: 'visible' });
    await axe('split dialog');
    await $('confirm-split').click();
    await $('split-done').waitFor();
    await page.waitForFunction(() => document.querySelector('[data-testid="profile-record-count"]')?.getAttribute('data-count') === '1');
    assertEq(await recordIds(), [before[0]], 'the record that stays');
    const newId = Number(await $('split-new-profile').getAttribute('data-profile-id'));
    assert(newId > 0 && newId !== p.id, `new profile id ${newId}`);
    await $('split-new-profile').click();
    await page.locator(`[data-testid="profile-detail"][data-profile-id="${newId}"] [data-testid="profile-title"]`).waitFor();
    assertEq(await recordIds(), [target], 'the new profile holds the split-off record');
    split = { from: p.id, to: newId };
    await shot('split');
  });

  await check('unmerge a profile: each of its records ends up in a profile of its own', async () => {
    const p = await profileWith((n) => n >= 3 && n <= 6, [searched, split?.from, split?.to]);
    await openProfile(p.id);
    const before = await recordIds();
    assertEq(before.length, p.records, 'records before');
    await $('unmerge-profile').click();
    await $('unmerge-dialog').waitFor({ state: 'visible' });
    assert(/own/.test(await $('unmerge-dialog').innerText()), 'the dialog says what happens');
    await axe('unmerge dialog');
    await $('confirm-unmerge').click();
    await $('unmerge-done').waitFor();
    const ids = await $('unmerge-profile-link').evaluateAll((els) => els.map((e) => Number(e.dataset.profileId)));
    assertEq(ids.length, before.length, 'one profile per record');
    assertEq(ids[0], p.id, 'the first keeps the id');
    const seen = [];
    for (const id of ids) {
      await openProfile(id);
      const recs = await recordIds();
      assertEq(recs.length, 1, `records of profile ${id}`);
      seen.push(recs[0]);
    }
    assertEq([...seen].sort((a, b) => a - b), [...before].sort((a, b) => a - b), 'every former record, once');
  });

  await check('identity review: pairs with comparisons; "Different people" and "Same person"; the audit log', async () => {
    await $('nav-review').click();
    await $('page-review').waitFor();
    await page.locator('[data-testid="review-pair"], [data-testid="review-empty"]').first().waitFor();
    const waiting = Number(await $('review-count').getAttribute('data-count'));
    if (waiting < 2 || (await $('review-empty').count()) > 0) {
      throw new Error(`the demo's review queue holds ${waiting} pairs (identity_summary: ${JSON.stringify(await api('identity_summary'))}); this test needs at least 2: adjust the review thresholds`);
    }
    const pair = $('review-pair').first();
    assert((await pair.locator('[data-testid="comparison-row"]').count()) > 0, 'comparisons');
    assert(/\d+(\.\d)?%/.test(await pair.locator('[data-testid="pair-probability"]').innerText()), 'probability');
    await shot('review');
    await axe('review queue');

    const firstId = await pair.getAttribute('data-pair-id');
    await pair.locator('[data-testid="decide-different"]').click();
    await page.locator('[data-testid="review-announce"][data-decision="different"]').waitFor();
    await page.waitForFunction((n) => document.querySelector('[data-testid="review-count"]')?.getAttribute('data-count') === String(n), waiting - 1);
    assertEq(await page.locator(`[data-testid="review-pair"][data-pair-id="${firstId}"]`).count(), 0, 'the decided pair left the queue');
    await page.waitForFunction(() => document.activeElement?.getAttribute('data-testid') === 'decide-same'); // the focus moved to the next pair

    const next = $('review-pair').first();
    const nextId = await next.getAttribute('data-pair-id');
    assert(nextId !== firstId, 'another pair');
    const a = Number(await next.locator('[data-testid="pair-record-a"]').getAttribute('data-record-id'));
    const b = Number(await next.locator('[data-testid="pair-record-b"]').getAttribute('data-record-id'));
    await next.locator('[data-testid="decide-same"]').click();
    await page.locator('[data-testid="review-announce"][data-decision="same"]').waitFor();
    assertEq(await page.locator(`[data-testid="review-pair"][data-pair-id="${nextId}"]`).count(), 0, 'the pair left the queue');
    const left = Number(await $('review-count').getAttribute('data-count'));
    assert(left <= waiting - 2, `count after two decisions: ${left} of ${waiting}`);
    const merged = Number(await $('merged-profile-link').getAttribute('data-profile-id'));
    assert(merged > 0, 'merged profile id');
    await $('merged-profile-link').click();
    await page.locator(`[data-testid="profile-detail"][data-profile-id="${merged}"] [data-testid="profile-title"]`).waitFor();
    const recs = await recordIds();
    assert(recs.includes(a) && recs.includes(b), `profile ${merged} holds records ${a} and ${b}: ${recs}`);
    assert((await page.locator('[data-testid="link-row"][data-reason="accepted"]').count()) > 0, 'the decision explains the link');

    await page.goBack();
    await $('page-review').waitFor();
    await $('tab-log').click();
    await $('log-table').waitFor();
    assertEq(await page.evaluate(() => location.hash), '#/review/log', 'the tab is in the address');
    const actions = await $('log-row').evaluateAll((els) => els.map((e) => e.dataset.action));
    assert(actions.includes('accept') && actions.includes('reject'), `both decisions in the log: ${actions}`);
    assertEq(actions.indexOf('accept') < actions.indexOf('reject'), true, 'newest first');
    await axe('audit log');
    await $('tab-log').focus();
    await page.keyboard.press('ArrowLeft');
    await page.locator('[data-testid="refused-table"], [data-testid="refused-empty"]').first().waitFor();
    assertEq(await page.evaluate(() => location.hash), '#/review/refused', 'arrow keys move between tabs');
    await shot('refused');
    await axe('refused merges');
  });

  await check('identity review: decide in bulk from a probability; a backup is taken first', async () => {
    await $('tab-queue').click();
    const queue = await api('review_queue', { limit: 500, offset: 0 });
    if (queue.total < 1) throw new Error('the demo review queue is empty after two decisions: adjust the review thresholds');
    const strongest = Math.max(...queue.pairs.map((p) => p.probability));
    const atLeast = queue.pairs.filter((p) => p.probability >= Math.floor(strongest * 1000) / 1000).length;
    await $('bulk-decide').locator('summary').click();
    await $('bulk-same-from').fill(String(Math.floor(strongest * 1000) / 10));
    await axe('bulk review');
    await $('bulk-submit').click();
    await $('bulk-announce').waitFor();
    const merged = Number(await $('bulk-announce').getAttribute('data-merged'));
    assert(merged >= 1 && merged <= atLeast, `merged ${merged} of ${atLeast} pairs at or above ${strongest}`);
    assertEq(Number(await $('bulk-announce').getAttribute('data-kept-apart')), 0, 'none kept apart');
    const name = await $('bulk-backup').getAttribute('data-name');
    const backup = (await api('backups')).backups.find((b) => b.name === name);
    assert(backup && /bulk/.test(backup.reason), `the backup ${name} is listed: ${JSON.stringify(backup)}`);
    assert((await api('review_queue', { limit: 1, offset: 0 })).total <= queue.total - merged, 'the queue shrank');
  });

  await check('identity review: undo a "Same person" from the queue (split the record off again); the split is remembered', async () => {
    await $('tab-queue').click();
    await page.locator('[data-testid="review-pair"], [data-testid="review-empty"]').first().waitFor();
    if ((await $('review-empty').count()) > 0) throw new Error('the demo review queue is empty after the bulk decision: adjust the review thresholds');
    const pair = $('review-pair').first();
    const a = Number(await pair.locator('[data-testid="pair-record-a"]').getAttribute('data-record-id'));
    const b = Number(await pair.locator('[data-testid="pair-record-b"]').getAttribute('data-record-id'));
    await pair.locator('[data-testid="decide-same"]').click();
    await page.locator('[data-testid="review-announce"][data-decision="same"]').waitFor();
    const merged = Number(await $('merged-profile-link').getAttribute('data-profile-id'));
    const together = (await api('profile', { id: merged })).records.map((r) => r.record_id);
    assert(together.includes(a) && together.includes(b), `merged profile ${merged} holds ${a} and ${b}: ${together}`);
    await $('undo-split').click();
    await $('undo-announce').waitFor();
    assertEq(await $('undo-announce').getAttribute('data-kind'), 'split', 'split off');
    // Taking b out can leave other records of the profile unconnected too:
    // every profile they are in afterwards is listed, the original first.
    const profiles = (await $('undo-announce').getAttribute('data-profiles')).split(',').map(Number);
    assert(profiles.length >= 2 && profiles[0] === merged, `the original profile first, then the new ones: ${profiles}`);
    const records = {};
    for (const p of profiles) records[p] = (await api('profile', { id: p })).records.map((r) => r.record_id);
    const ofB = profiles.find((p) => records[p].includes(b));
    const ofA = profiles.find((p) => records[p].includes(a));
    assert(ofA != null && ofB != null, `records ${a} and ${b} are in the listed profiles: ${JSON.stringify(records)}`);
    assertEq(records[ofB], [b], `record ${b} has a profile of its own`);
    assert(ofA !== ofB, `records ${a} and ${b} are apart`);
    assertEq(await $('undo-split').count(), 0, 'no second undo offered');
    await $('tab-log').click();
    await $('log-table').waitFor();
    const actions = await $('log-row').evaluateAll((els) => els.map((e) => e.dataset.action));
    assertEq(actions[0], 'split', `the split is the newest entry of the log: ${actions.slice(0, 3)}`);
    await $('tab-queue').click();
  });

  // -- insights, clustering, traits on a profile, survivorship (on the demo business) --
  await check('insights: traits overview with the RFM chart, 11 RFM segments, the model and its notes; a chart saves as PNG', async () => {
    await $('nav-insights').click();
    await $('page-insights').waitFor();
    await page.locator('[data-testid="insights-overview"], [data-testid="traits-not-computed"]').first().waitFor();
    // The demo computes traits; compute (or recompute) through the page all the same, it takes a moment.
    if ((await $('traits-not-computed').count()) > 0) await $('traits-compute').click();
    else await $('traits-recompute').click();
    await $('traits-done').waitFor({ timeout: 60_000 });
    await $('insights-overview').waitFor();
    assert(/As of/.test(await $('traits-as-of').innerText()), 'the as-of line');
    const overview = await api('insights_overview');
    assert(overview.computed && overview.buyers > 0, `computed with buyers: ${overview.computed}, ${overview.buyers}`);
    await page.locator('[data-testid="chart"][data-chart="rfm_grid"] figure svg').waitFor();
    const charts = await $('chart').evaluateAll((els) => els.map((e) => e.dataset.chart));
    assertEq(charts, ['rfm_grid', 'revenue_by_segment', 'clv_distribution', 'churn_risk'], 'overview charts');
    assertEq(await $('segment-row').count(), 11, 'RFM segments');
    assertEq(num(await $('figure-buyers').innerText()), overview.buyers, 'buyers');
    assert(/\d/.test(await $('figure-revenue').innerText()), 'revenue shown');
    assert(/\d/.test(await $('figure-clv').innerText()), 'average CLV shown');
    await $('model-notes').locator('summary').click();
    assert(/BG\/NBD/.test(await $('model-notes').innerText()), 'the notes explain BG/NBD');
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.locator('[data-testid="chart"][data-chart="rfm_grid"] [data-testid="save-png"]').click(),
    ]);
    assertEq(download.suggestedFilename(), 'rfm_grid.png', 'saved chart file');
    const saved = await download.path();
    assertEq([...fs.readFileSync(saved).subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47], 'PNG signature');
    await shot('insights');
    // The first screen, as the README shows it.
    await page.evaluate(() => window.scrollTo(0, 0));
    await maskedShot('insights-view', false);
    await axe('insights overview');
  });

  let clusterRun = null;
  await check('insights: k-means with k = 4 on the default traits → 4 described clusters and a silhouette', async () => {
    await $('insights-tab-overview').focus();
    await page.keyboard.press('ArrowRight');
    await $('cluster-form').waitFor();
    assert(await page.evaluate(() => document.activeElement?.getAttribute('data-testid') === 'insights-tab-clusters'), 'arrow keys move between the tabs');
    assertEq(await page.evaluate(() => location.hash), '#/insights/clusters', 'the tab is in the address');
    const defaults = (await api('cluster_features')).filter((f) => f.default).map((f) => f.name).sort();
    const picked = (await page.locator('[data-testid="cluster-feature"]:checked').evaluateAll((els) => els.map((e) => e.value))).sort();
    assertEq(picked, defaults, 'the suggested traits are picked');
    await $('cluster-algorithm').selectOption('kmeans');
    if (await $('cluster-k-auto').isChecked()) await $('cluster-k-auto').uncheck();
    await $('cluster-k').fill('4');
    const before = (await api('cluster_latest'))?.run_id ?? 0;
    await $('cluster-run').click();
    await page.waitForFunction((b) => Number(document.querySelector('[data-testid="cluster-results"]')?.dataset.runId ?? 0) > b, before, { timeout: 60_000 });
    assertEq(await $('cluster-card').count(), 4, 'cluster cards');
    const descriptions = await texts($('cluster-description'));
    assert(descriptions.every((d) => d.length > 10), `descriptions: ${JSON.stringify(descriptions)}`);
    assert(/^-?\d+([.,]\d+)?$/.test((await $('cluster-silhouette').innerText()).trim()), `silhouette: ${await $('cluster-silhouette').innerText()}`);
    await page.locator('[data-testid="cluster-results"] [data-testid="chart"][data-chart="cluster_scatter"] svg').waitFor();
    clusterRun = await api('cluster_latest');
    assertEq(clusterRun.k, 4, 'k of the saved run');
    await shot('clusters');
    await $('cluster-results').scrollIntoViewIfNeeded();
    await page.evaluate(() => window.scrollBy(0, -80));
    await maskedShot('clusters-view', false);
    await axe('clusters');
  });

  await check('insights: rename a cluster, save it as a segment, and the segment has its members', async () => {
    const biggest = [...clusterRun.clusters].sort((a, b) => b.size - a.size)[0];
    const card = page.locator(`[data-testid="cluster-card"][data-cluster-id="${biggest.id}"]`);
    await card.locator('[data-testid="cluster-rename"]').click();
    const input = card.locator('[data-testid="cluster-name-input"]');
    assert(await input.evaluate((e) => e === document.activeElement), 'the name field has the focus');
    await input.fill('E2E big spenders');
    await input.press('Enter');
    await page.waitForFunction((id) => document.querySelector(`[data-testid="cluster-card"][data-cluster-id="${id}"] [data-testid="cluster-name"]`)?.textContent === 'E2E big spenders', biggest.id);
    const renamed = (await api('cluster_latest')).clusters.find((c) => c.id === biggest.id);
    assertEq(renamed?.name, 'E2E big spenders', 'the new name is kept');
    await card.locator('[data-testid="cluster-save-segment"]').click();
    assertEq(await card.locator('[data-testid="segment-name-input"]').inputValue(), 'E2E big spenders', 'the segment is named after the cluster');
    await card.locator('[data-testid="segment-save"]').click();
    await card.locator('[data-testid="segment-saved"]').waitFor();
    const confirmation = await card.locator('[data-testid="segment-saved"]').innerText();
    assert(/E2E big spenders/.test(confirmation) && /member/.test(confirmation), `confirmation: ${confirmation}`);
    assertEq(Number(await card.locator('[data-testid="segment-saved"]').getAttribute('data-members')), biggest.size, 'members in the confirmation');
    const segment = (await api('segments')).find((s) => s.name === 'E2E big spenders');
    assert(segment && segment.members > 0, `segment: ${JSON.stringify(segment)}`);
    assertEq(segment.members, biggest.size, 'members = the cluster size');
    await $('saved-segments').waitFor();
    assert(/E2E big spenders/.test(await $('saved-segments').innerText()), 'listed under saved segments');
  });

  // -- recommendations (the demo trains them as it loads) --
  /** The NDCG@k a row of the evaluation table shows, as a number. */
  const shownNdcg = async (model) =>
    Number(
      (await page.locator(`[data-testid="recommend-eval-row"][data-model="${model}"] [data-testid="recommend-eval-ndcg"]`).innerText())
        .trim()
        .replace(',', '.'),
    );
  await check('recommendations: the demo\'s run, 5 models evaluated (item-item beats popularity), the test period and the charts', async () => {
    await $('nav-recommendations').click();
    await $('page-recommendations').waitFor();
    assertEq(await page.evaluate(() => location.hash), '#/recommendations', 'the page is in the address');
    const status = await api('recommend_status');
    assert(status.run && status.run.evaluation, `the demo trained a run with an evaluation: ${JSON.stringify(status.run?.id)}`);
    const ev = status.run.evaluation;
    await page.locator(`[data-testid="recommend-run"][data-run-id="${status.run.id}"]`).waitFor();
    assertEq((await $('recommend-run-model').innerText()).trim(), status.run.label, 'the model in use');
    assertEq(num(await $('recommend-run-profiles').innerText()), status.run.profiles, 'profiles of the run');
    assertEq(num(await $('recommend-run-interactions').innerText()), status.run.interactions, 'interactions of the run');
    await $('recommend-eval-table').waitFor();
    const rows = await $('recommend-eval-row').evaluateAll((els) => els.map((e) => e.dataset.model));
    assertEq(rows, ['popularity', 'item_knn', 'als', 'content', 'hybrid'], 'a row per model');
    for (const m of ev.models) {
      const shown = await shownNdcg(m.model);
      assert(Math.abs(shown - m.test.ndcg) < 0.0006, `${m.model}: NDCG ${shown} on the page, ${m.test.ndcg} from the engine`);
    }
    const [knn, pop] = [await shownNdcg('item_knn'), await shownNdcg('popularity')];
    assert(knn > pop, `item-item (${knn}) predicts better than popularity (${pop})`);
    assertEq(
      await page.locator('[data-testid="recommend-eval-row"][data-stored="true"]').evaluateAll((els) => els.map((e) => e.dataset.model)),
      [status.run.model],
      'the model in use is marked',
    );
    assertEq(
      await page.locator('[data-testid="recommend-eval-row"][data-best="true"]').evaluateAll((els) => els.map((e) => e.dataset.model)),
      [ev.best],
      'the best on validation is marked',
    );
    const period = await $('recommend-test-period').innerText();
    const tested = Math.max(...ev.models.map((m) => m.test.profiles));
    const m = period.match(/tested on ([\d,.\s\u202f]+) profile/);
    assert(tested > 0 && m && num(m[1]) === tested, `the test period: ${period} (${tested} profiles)`);
    assert(period.includes(new Date(`${ev.test_from}T00:00:00`).getFullYear()), `the test period names its date: ${period}`);
    if (ev.grid.length > 0) {
      await $('recommend-grid-points').locator('summary').click();
      assertEq(await $('recommend-grid-row').count(), ev.grid.length, 'grid search points');
    }
    await page.locator('[data-testid="chart"][data-chart="recommend_ndcg"] figure svg').waitFor();
    assertEq(await $('chart').evaluateAll((els) => els.filter((e) => e.offsetParent).map((e) => e.dataset.chart)), ['recommend_ndcg', 'recommend_recall'], 'evaluation charts');
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.locator('[data-testid="chart"][data-chart="recommend_ndcg"] [data-testid="save-png"]').click(),
    ]);
    assertEq(download.suggestedFilename(), 'recommend_ndcg.png', 'saved chart file');
    assertEq([...fs.readFileSync(await download.path()).subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47], 'PNG signature');
    await shot('recommendations');
    await page.evaluate(() => window.scrollTo(0, 0));
    await maskedShot('recommendations-view', false);
    await axe('recommendations');
  });

  await check('recommendations: train "Bought together (item-item)" without grid search from the page: progress, a new run in use', async () => {
    const before = (await api('recommend_status')).run.id;
    if (!(await $('recommend-train-form').isVisible())) await $('recommend-train-open').click();
    await $('recommend-train-form').waitFor();
    await $('recommend-model').selectOption({ label: 'Bought together (item-item)' });
    if (await $('recommend-grid').isChecked()) await $('recommend-grid').uncheck();
    await $('recommend-advanced').locator('summary').click();
    await axe('recommendations, training settings');
    await $('recommend-train').click();
    await $('recommend-progress').waitFor();
    await $('recommend-progress').locator('[data-testid="progress-bar"]').waitFor();
    assert(await $('recommend-train').isDisabled(), 'no second run while one is running');
    await page.waitForFunction(
      (b) => Number(document.querySelector('[data-testid="recommend-run"]')?.dataset.runId ?? 0) > b,
      before,
      { timeout: 120_000 },
    );
    await $('recommend-done').waitFor();
    await page.waitForFunction(() => document.activeElement?.getAttribute('data-testid') === 'recommend-done');
    assertEq(await $('recommend-progress').count(), 0, 'the progress bar is gone');
    const after = await api('recommend_status');
    assert(after.run.id > before, `a new run: ${after.run.id} after ${before}`);
    assertEq(Number(await $('recommend-run').getAttribute('data-run-id')), after.run.id, 'the page shows the new run');
    assertEq([after.run.model, after.run.settings.model, after.run.settings.grid_search], ['item_knn', 'item_knn', false], 'the run as asked');
    assertEq(after.run.evaluation?.grid.length ?? 0, 0, 'no grid search');
    assertEq((await $('recommend-run-model').innerText()).trim(), 'Bought together (item-item)', 'the header names the model');
    assert(/Bought together \(item-item\)/.test(await $('recommend-done').innerText()), 'the confirmation names the model');
    assertEq(
      await page.locator('[data-testid="recommend-eval-row"][data-stored="true"]').evaluateAll((els) => els.map((e) => e.dataset.model)),
      ['item_knn'],
      'item-item is marked as in use',
    );
    await axe('recommendations, trained');
  });

  await check('recommendations: look up a person with purchases; their list in the engine\'s order, each with why', async () => {
    let person = null;
    let expected = null;
    const list = await api('profiles_search', { query: '', limit: 100, offset: 0 });
    for (const p of list.profiles) {
      const recs = await api('recommend_profile', { profile_id: p.id });
      if (p.email && recs.length > 0 && recs.some((r) => r.because)) {
        person = p;
        expected = recs;
        break;
      }
    }
    assert(person, 'a profile with recommendations from its history among the first 100');
    await $('recommend-tab-profile').click();
    await $('recommend-profile-search').fill(person.email);
    // The list narrows to the search (not just the first profiles, which the box lists when empty).
    await page.waitForFunction((q) => document.querySelector('[data-testid="recommend-profile-range"]')?.textContent?.includes(q), person.email);
    const result = page.locator(`[data-testid="recommend-profile-result"][data-profile-id="${person.id}"]`);
    await result.waitFor();
    await result.focus();
    await page.keyboard.press('Enter');
    await page.locator(`[data-testid="recommend-profile-recs"][data-profile-id="${person.id}"] [data-testid="recommend-item"]`).first().waitFor();
    assertEq(await page.evaluate(() => location.hash), `#/recommendations/profile/${person.id}`, 'the person is in the address');
    await page.waitForFunction(() => document.activeElement?.id === 'recommend-profile-title');
    const items = $('recommend-item');
    const skus = await items.evaluateAll((els) => els.map((e) => e.dataset.sku));
    assert(skus.length >= 1, 'at least one recommendation');
    assertEq(skus, expected.map((r) => r.sku), 'the list in the engine\'s order');
    const reasons = await texts($('recommend-profile-recs').locator('[data-testid="recommend-reason"]'));
    assert(reasons.every((r) => r.length > 0), `every recommendation says why: ${JSON.stringify(reasons)}`);
    assertEq(reasons, expected.map((r) => r.reason), 'the explanations');
    const withBecause = expected.find((r) => r.because && r.because_title);
    if (withBecause) assert(reasons.some((r) => r.includes(withBecause.because_title)), `an explanation names ${withBecause.because_title}`);
    const first = expected[0];
    if (first.price != null) assert(/\d/.test(await items.first().locator('[data-testid="recommend-item-price"]').innerText()), 'a price');
    assertEq((await items.first().locator('[data-testid="recommend-item-title"]').innerText()).trim(), first.title ?? first.sku, 'the title');
    await shot('recommendations-profile');
    await axe('recommendations, a person');
  });

  await check('recommendations: similar products of a catalogue product, never the product itself', async () => {
    let product = null;
    let expected = null;
    for (const p of await api('product_search', { query: '', limit: 50 })) {
      const similar = await api('recommend_similar', { sku: p.sku });
      if (similar.length > 0) {
        product = p;
        expected = similar;
        break;
      }
    }
    assert(product, 'a product with similar products among the first 50');
    await $('recommend-tab-similar').click();
    await $('recommend-product-search').fill(product.sku);
    await page.waitForFunction((q) => document.querySelector('[data-testid="recommend-product-range"]')?.textContent?.includes(q), product.sku);
    const result = page.locator(`[data-testid="recommend-product-result"][data-sku="${product.sku}"]`);
    await result.waitFor();
    await result.click();
    await page.locator(`[data-testid="recommend-similar"][data-sku="${product.sku}"] [data-testid="recommend-similar-item"]`).first().waitFor();
    assertEq(await page.evaluate(() => decodeURIComponent(location.hash)), `#/recommendations/similar/${product.sku}`, 'the product is in the address');
    const skus = await $('recommend-similar-item').evaluateAll((els) => els.map((e) => e.dataset.sku));
    assert(skus.length >= 1, 'at least one similar product');
    assert(!skus.includes(product.sku), `the product itself is not among its similar products: ${product.sku} in ${skus}`);
    assertEq(skus, expected.map((s) => s.sku), 'the engine\'s order');
    const reasons = await texts($('recommend-similar').locator('[data-testid="recommend-reason"]'));
    assert(reasons.every((r) => r.length > 0), 'every similar product says why');
    // The person looked up before is still there on their tab.
    await $('recommend-tab-profile').click();
    assert(/^#\/recommendations\/profile\/\d+$/.test(await page.evaluate(() => location.hash)), 'back to the person looked up');
    assert((await $('recommend-item').count()) > 0, 'their list is still shown');
    await $('recommend-tab-similar').click();
    await shot('recommendations-similar');
    await axe('recommendations, similar products');
  });

  await check('a profile with orders shows its traits and RFM segment', async () => {
    let found = null;
    const list = await api('profiles_search', { query: '', limit: 100, offset: 0 });
    for (const p of list.profiles) {
      const t = await api('profile_traits', { id: p.id });
      if (t && t.orders > 0 && t.rfm_segment) {
        found = t;
        break;
      }
    }
    assert(found, 'a profile with orders and an RFM segment among the first 100');
    await openProfile(found.profile_id);
    await $('traits-rfm-segment').waitFor();
    assertEq((await $('traits-rfm-segment').innerText()).trim(), found.rfm_segment, 'RFM segment');
    assertEq(num(await $('traits-order-count').innerText()), found.orders, 'orders');
    assert(/\d/.test(await $('traits-clv').innerText()), 'predicted CLV shown');
    await $('profile-traits').scrollIntoViewIfNeeded();
    await shot('profile-traits');
    await axe('profile traits');
  });

  await check('survivorship: default rule → most frequent rebuilds every profile; then back', async () => {
    const before = await api('survivorship');
    await $('nav-profiles').click();
    await $('profiles-table').waitFor();
    await $('open-survivorship').click();
    await $('survivorship-dialog').waitFor({ state: 'visible' });
    await $('survivorship-default').waitFor();
    assertEq(await $('survivorship-default').inputValue(), before.rules.default, 'the current default');
    assertEq(await $('source-item').count(), before.sources.length, 'sources in the priority list');
    await $('survivorship-default').selectOption('most_frequent');
    await axe('survivorship dialog');
    await $('survivorship-save').click();
    await $('survivorship-done').waitFor({ timeout: 60_000 });
    const rebuilt = Number(await $('survivorship-done').getAttribute('data-profiles'));
    const profiles = (await api('identity_summary')).profiles;
    assertEq(rebuilt, profiles, 'every profile rebuilt');
    assert(/rebuilt/.test(await $('survivorship-done').innerText()), 'says what happened');
    const after = await api('survivorship');
    assertEq(after.rules, { ...before.rules, default: 'most_frequent' }, 'the saved rules');
    // Back to the rules the other checks ran with.
    await $('survivorship-default').selectOption(before.rules.default);
    await $('survivorship-save').click();
    for (let t0 = Date.now(); (await api('survivorship')).rules.default !== before.rules.default; ) {
      assert(Date.now() - t0 < 60_000, 'the rules went back within a minute');
      await new Promise((r) => setTimeout(r, 100));
    }
    await $('survivorship-done').waitFor();
    assertEq((await api('survivorship')).rules, before.rules, 'the rules as before');
    await page.keyboard.press('Escape');
    await $('survivorship-dialog').waitFor({ state: 'hidden' });
  });

  // -- segments and campaigns (on the demo business) --
  let segment = null;
  let liveCount = null;
  let ruleDefinition = null;
  await check('segments: a two-condition rule is counted live, and the count equals the CLI\'s', async () => {
    const catalog = await api('segment_catalog');
    const country = catalog.fields.find((f) => f.name === 'country');
    assert(country && country.choices.length > 0, `country choices in the catalogue: ${JSON.stringify(country)}`);
    const top = country.choices[0];
    assert(catalog.events.some((e) => e.name === 'view_item'), `view_item among the events: ${catalog.events.map((e) => e.name)}`);

    await $('nav-segments').click();
    await $('page-segments').waitFor();
    await $('segment-new').click();
    await $('segment-editor').waitFor();
    assertEq(await page.evaluate(() => location.hash), '#/segments/new', 'the editor is in the address');
    await page.locator('[data-testid="live-count"][data-state="ready"]').waitFor();
    assertEq(Number(await $('segment-count').getAttribute('data-count')), catalog.profiles, 'no condition: everyone');
    await axe('segment editor, empty');

    // 1: country is the most common country.
    await $('add-field').click();
    const c1 = page.locator('[data-testid="condition"][data-path="1"]');
    await c1.locator('[data-testid="field-pick"]').selectOption('country');
    const ops = await c1.locator('[data-testid="op-pick"] option').evaluateAll((els) => els.map((e) => e.value));
    assertEq(ops, country.ops, 'the operators of a choice field');
    await c1.locator('[data-testid="op-pick"]').selectOption('eq');
    await c1.locator('[data-testid="condition-value"]').selectOption(top);
    // 2: viewed an item at least once in the last 365 days.
    await $('add-event').click();
    const c2 = page.locator('[data-testid="condition"][data-path="2"]');
    await c2.locator('[data-testid="event-did"]').selectOption('did');
    await c2.locator('[data-testid="event-pick"]').selectOption('view_item');
    await c2.locator('[data-testid="event-count-op"]').selectOption('at_least');
    await c2.locator('[data-testid="event-count"]').fill('1');
    await c2.locator('[data-testid="event-window-kind"]').selectOption('last');
    await c2.locator('[data-testid="event-window-days"]').fill('365');

    // The count shown is the answer for exactly this definition.
    await page.waitForFunction(() => {
      const b = document.querySelector('[data-testid="rule-builder"]');
      const l = document.querySelector('[data-testid="live-count"]');
      return !!b && !!l && l.getAttribute('data-state') === 'ready' && l.getAttribute('data-for') === b.getAttribute('data-definition');
    });
    ruleDefinition = JSON.parse(await $('rule-builder').getAttribute('data-definition'));
    assertEq(canon(ruleDefinition), canon({
      version: 1,
      root: {
        match: 'all',
        negate: false,
        conditions: [
          { type: 'field', field: 'country', op: 'eq', value: top },
          { type: 'event', did: true, event: 'view_item', filters: [], count: { op: 'at_least', value: 1 }, within_days: 365 },
        ],
      },
    }), 'the definition the builder made');
    liveCount = Number(await $('segment-count').getAttribute('data-count'));
    assert(liveCount > 0 && liveCount < catalog.profiles, `a live count between 0 and everyone: ${liveCount} of ${catalog.profiles}`);
    assert((await $('segment-description').innerText()).trim().length > 10, 'a description in words');
    assert(/\d ms/.test(await $('segment-engine').innerText()), `engine and time: ${await $('segment-engine').innerText()}`);
    assert((await $('segment-sample-row').count()) > 0, 'sample members');
    await maskedShot('segment-builder');
    await axe('segment builder');

    // The CLI on the same workspace counts the same definition.
    const ws = (await api('workspace_stats')).path;
    const ruleFile = path.join(TMP, 'rule.json');
    fs.writeFileSync(ruleFile, JSON.stringify(ruleDefinition, null, 2));
    const r = spawnSync(BIN, ['--workspace', ws, 'segment', 'count', ruleFile, '--json'], {
      cwd: ROOT,
      encoding: 'utf8',
      env: { ...process.env, COHORT_DATA_DIR: path.join(TMP, 'data'), NO_COLOR: '1' },
      timeout: 60_000,
    });
    assertEq(r.status, 0, `cohort segment count exit status (stderr: ${r.stderr})`);
    const cli = JSON.parse(r.stdout);
    assertEq(cli.count, liveCount, 'the CLI count = the live count');
    console.log(`       live count ${liveCount} of ${catalog.profiles} = the CLI's (${top}, view_item in 365 days)`);
  });

  await check('segments: a problem is shown at the offending condition', async () => {
    // A list operator with an empty list cannot be counted.
    const c1 = page.locator('[data-testid="condition"][data-path="1"]');
    await c1.locator('[data-testid="op-pick"]').selectOption('in');
    await c1.locator('[data-testid="condition-value"]').fill('');
    await page.locator('[data-testid="live-count"][data-state="problem"]').waitFor();
    const problem = page.locator('[data-testid="condition-problem"][data-path="1"]');
    await problem.waitFor();
    assert((await problem.innerText()).trim().length > 5, 'a message at condition 1');
    await axe('segment builder, problem');
    // Back to "country is TOP".
    const top = (ruleDefinition.root.conditions[0].value);
    await c1.locator('[data-testid="op-pick"]').selectOption('eq');
    await c1.locator('[data-testid="condition-value"]').selectOption(top);
    await page.waitForFunction(() => {
      const b = document.querySelector('[data-testid="rule-builder"]');
      const l = document.querySelector('[data-testid="live-count"]');
      return !!b && !!l && l.getAttribute('data-state') === 'ready' && l.getAttribute('data-for') === b.getAttribute('data-definition');
    });
    assertEq(canon(JSON.parse(await $('rule-builder').getAttribute('data-definition'))), canon(ruleDefinition), 'the same rule again');
    assertEq(Number(await $('segment-count').getAttribute('data-count')), liveCount, 'the same count again');
  });

  await check('segments: save as dynamic; the detail shows its description, a version and members', async () => {
    await $('segment-name').fill('E2E top-country viewers');
    await $('segment-kind-dynamic').check();
    await $('segment-save').click();
    await $('segment-detail').waitFor();
    segment = (await api('segments')).find((s) => s.name === 'E2E top-country viewers');
    assert(segment, 'the segment is saved');
    assertEq(segment.kind, 'dynamic', 'kind');
    assertEq(await $('segment-detail').getAttribute('data-segment-id'), String(segment.id), 'the detail of the new segment');
    assertEq(await page.evaluate(() => location.hash), `#/segments/${segment.id}`, 'the detail is in the address');
    assertEq((await $('segment-detail-kind').innerText()).trim(), 'dynamic', 'kind shown');
    assertEq(Number(await $('segment-detail-members').getAttribute('data-members')), liveCount, 'members = the live count');
    assert((await $('segment-version-row').count()) >= 1, 'a version');
    const detail = await api('segment_detail', { id: segment.id });
    assertEq(canon(detail.definition), canon(ruleDefinition), 'the saved definition');
    await shot('segment-detail');
    await axe('segment detail');
    // The list, and the overlap with the cluster saved from Insights.
    await $('nav-segments').click();
    await page.locator(`[data-testid="segment-row"][data-segment-id="${segment.id}"]`).waitFor();
    const other = (await api('segments')).find((s) => s.id !== segment.id);
    assert(other, 'another segment to compare with');
    await page.locator(`[data-testid="segment-row"][data-segment-id="${segment.id}"] [data-testid="segment-compare"]`).check();
    await page.locator(`[data-testid="segment-row"][data-segment-id="${other.id}"] [data-testid="segment-compare"]`).check();
    await $('segment-overlap').click();
    await $('overlap-matrix').waitFor();
    const diag = page.locator(`[data-testid="overlap-cell"][data-row="${segment.id}"][data-col="${segment.id}"]`);
    assertEq(Number(await diag.getAttribute('data-count')), liveCount, 'the diagonal is the size');
    const both = Number(await page.locator(`[data-testid="overlap-cell"][data-row="${segment.id}"][data-col="${other.id}"]`).getAttribute('data-count'));
    const back = Number(await page.locator(`[data-testid="overlap-cell"][data-row="${other.id}"][data-col="${segment.id}"]`).getAttribute('data-count'));
    assert(both === back && both <= Math.min(liveCount, other.members), `overlap ${both}/${back} of ${liveCount} and ${other.members}`);
    await axe('segment list and overlap');
  });

  let exported = null;
  await check('campaigns: create one on the segment with a 10% holdout; the audience adds up', async () => {
    await $('nav-campaigns').click();
    await $('page-campaigns').waitFor();
    await $('campaign-form').waitFor();
    await $('campaign-name').fill('E2E campaign');
    await $('campaign-segment').selectOption(String(segment.id));
    await $('campaign-channel').selectOption('email');
    assertEq(await $('campaign-holdout').inputValue(), '10', 'the default holdout');
    await $('campaign-create').click();
    await $('campaign-panel').waitFor();
    await $('campaign-audience').waitFor();
    const campaign = (await api('campaigns')).find((c) => c.name === 'E2E campaign');
    assert(campaign && campaign.segment_id === segment.id && campaign.holdout_percent === 10, `campaign: ${JSON.stringify(campaign)}`);
    const audience = await api('campaign_audience', { id: campaign.id });
    assertEq(num(await $('audience-members').innerText()), audience.members, 'members shown');
    assertEq(audience.members, liveCount, 'the audience is the segment');
    assertEq(Number(await $('audience-included').getAttribute('data-count')), audience.included, 'included shown');
    assertEq(audience.members, audience.held_out + audience.suppressed + audience.included, 'members = held out + suppressed + included');
    assertEq(audience.suppressed_by_reason.reduce((n, [, k]) => n + k, 0), audience.suppressed, 'reasons add up');
    // The holdout is drawn by a salted hash from the members who could be
    // sent to (suppression is classified first), and the salt is new for
    // every campaign: so the count is binomial over the eligible members,
    // checked within 4 standard deviations (a false alarm about 1 in 15,000).
    const eligible = audience.members - audience.suppressed;
    const sd = Math.sqrt(eligible * 0.1 * 0.9);
    assert(Math.abs(audience.held_out - 0.1 * eligible) <= 4 * sd + 1,
      `about 10% held out: ${audience.held_out} of ${eligible} eligible (${audience.members} members, ${audience.suppressed} suppressed)`);
    await shot('campaign');
    await axe('campaign');
  });

  await check('campaigns: export as generic CSV; the file is what the page says, and safe for Excel', async () => {
    const formats = await api('campaign_formats');
    const generic = formats.find((f) => /^(generic|generic_csv|csv)$/i.test(f.name) || /generic/i.test(f.label));
    assert(generic, `a generic CSV format: ${formats.map((f) => f.name)}`);
    const emailFormats = await $('export-format').locator('option').evaluateAll((els) => els.map((e) => e.value));
    assertEq(emailFormats.sort(), formats.filter((f) => f.channels.includes('email')).map((f) => f.name).sort(), 'formats for email');
    await $('export-format').selectOption(generic.name);
    await $('export-columns').waitFor();
    const columns = ['email', 'first_name', 'last_name', 'phone', 'country'];
    for (const c of await page.locator('[data-testid="export-column"]:checked').evaluateAll((els) => els.map((e) => e.value))) {
      if (!columns.includes(c)) await page.locator(`[data-testid="export-column"][data-column="${c}"]`).uncheck();
    }
    for (const c of columns) await page.locator(`[data-testid="export-column"][data-column="${c}"]`).check();
    await axe('export form');
    const included = Number(await $('audience-included').getAttribute('data-count'));
    await $('export-run').click();
    await $('export-done').waitFor({ timeout: 60_000 });
    exported = {
      id: Number(await $('export-done').getAttribute('data-export-id')),
      count: Number(await $('export-done').getAttribute('data-exported')),
      file: await $('export-done').getAttribute('data-path'),
      sha: (await $('export-sha256').innerText()).trim(),
    };
    assertEq(exported.count, included, 'exported = included shown before');
    assertEq((await $('export-path').innerText()).trim(), exported.file, 'the path shown');
    assert(fs.existsSync(exported.file), `the file exists: ${exported.file}`);

    const bytes = fs.readFileSync(exported.file);
    assertEq(crypto.createHash('sha256').update(bytes).digest('hex'), exported.sha.toLowerCase(), 'SHA-256 shown = the file\'s');
    let text = bytes.toString('utf8');
    assert(!text.startsWith('\ufeff'), 'no BOM unless asked');
    const rows = parseCsv(text);
    const header = rows[0].map((h) => h.trim().toLowerCase());
    const fields = (await api('segment_catalog')).fields;
    const at = {};
    for (const c of columns) {
      const label = fields.find((f) => f.name === c)?.label.toLowerCase();
      const i = header.findIndex((h) => h === c || h === label);
      assert(i >= 0, `column ${c} in the header: ${rows[0]}`);
      at[c] = i;
    }
    const body = rows.slice(1).filter((r) => !(r.length === 1 && r[0] === ''));
    assertEq(body.length, included, 'data rows = included');
    assert(body.every((r) => r.length === rows[0].length), 'every row has every column');
    for (const r of body) {
      r.forEach((cell, i) => {
        if (!/^[=+\-@\t\r]/.test(cell)) return;
        assert(i === at.phone && /^\+[1-9]\d{6,14}$/.test(cell), `a cell that starts like a formula: ${JSON.stringify(cell)} in column ${rows[0][i]}`);
      });
    }
    const log = await api('campaign_exports', { campaign_id: null });
    const entry = log.find((x) => x.id === exported.id);
    assert(entry && entry.exported === included && entry.path === exported.file, `the export is logged: ${JSON.stringify(entry)}`);
    const logRow = page.locator(`[data-testid="export-log-row"][data-export-id="${exported.id}"]`);
    await logRow.waitFor();
    // The log row shows the segment and its version, every suppression
    // reason (not in a tooltip) and the start of the SHA-256.
    const logSegment = logRow.locator('[data-testid="export-log-segment"]');
    assertEq(await logSegment.getAttribute('data-version'), String(entry.segment_version ?? ''), 'the segment version in the log');
    assert((await logSegment.innerText()).includes(entry.segment_name), `the segment in the log: ${await logSegment.innerText()}`);
    const shownReasons = await logRow.locator('[data-testid="export-log-reasons"] li').evaluateAll((els) => els.map((e) => [e.dataset.reason, Number(e.dataset.count)]));
    assertEq(JSON.stringify(shownReasons), JSON.stringify(entry.suppressed_by_reason.filter(([, n]) => n > 0)), 'every suppression reason is on screen');
    if (entry.suppressed > 0) assert(await logRow.locator('[data-testid="export-log-reasons"] li').first().isVisible(), 'the reasons are visible');
    assert((await logRow.locator('[data-testid="export-log-sha"]').innerText()).includes(entry.sha256.slice(0, 12)), 'the SHA-256 in the log');

    // "Save file" downloads the same bytes.
    const [download] = await Promise.all([page.waitForEvent('download'), $('export-save').click()]);
    const saved = fs.readFileSync(await download.path());
    assert(saved.equals(bytes), 'the downloaded file = the file on disk');
    console.log(`       exported ${body.length} rows of ${liveCount} members; ${Object.keys(at).length} columns`);
    await shot('campaign-export');
    await axe('campaign export');
  });

  await check('segments: "Edit" loads the rule into the builder; saving makes version 2', async () => {
    await page.goto(`${base}/#/segments/${segment.id}`);
    await $('segment-detail').waitFor();
    await $('segment-edit').click();
    await $('segment-editor').waitFor();
    assertEq(await page.evaluate(() => location.hash), `#/segments/${segment.id}/edit`, 'the edit is in the address');
    assertEq(canon(JSON.parse(await $('rule-builder').getAttribute('data-definition'))), canon(ruleDefinition), 'the saved rule in the builder');
    assertEq(await $('segment-name').inputValue(), segment.name, 'the name');
    await page.locator('[data-testid="condition"][data-path="2"] [data-testid="event-window-kind"]').selectOption('ever');
    await page.waitForFunction(() => {
      const b = document.querySelector('[data-testid="rule-builder"]');
      const l = document.querySelector('[data-testid="live-count"]');
      return !!b && !!l && l.getAttribute('data-state') === 'ready' && l.getAttribute('data-for') === b.getAttribute('data-definition');
    });
    const ever = Number(await $('segment-count').getAttribute('data-count'));
    assert(ever >= liveCount, `ever (${ever}) counts at least the last 365 days (${liveCount})`);
    await $('segment-save').click();
    await page.locator(`[data-testid="segment-detail"][data-segment-id="${segment.id}"] [data-testid="segment-version-row"][data-version="2"]`).waitFor();
    assertEq(await $('segment-version-row').count(), 2, 'two versions');
    assertEq(Number(await $('segment-detail-members').getAttribute('data-members')), ever, 'members of the new version');
    const detail = await api('segment_detail', { id: segment.id });
    assertEq(detail.definition.root.conditions[1].within_days, null, 'the new rule is saved');
    // The size history is drawn: an SVG of a real size, with a line per
    // recorded size (the table below it has one row per point).
    assert(detail.history.length >= 1 && detail.history_chart, `a size history: ${detail.history.length} points`);
    const chart = page.locator(`[data-testid="segment-detail"][data-segment-id="${segment.id}"] [data-testid="segment-history-chart"]`);
    await chart.waitFor();
    assertEq(await chart.locator('svg').count(), 1, 'the history chart is one SVG');
    const box = await chart.locator('svg').boundingBox();
    assert(box && box.width > 100 && box.height > 50, `the history chart has a size on screen: ${JSON.stringify(box)}`);
    assert((await chart.locator('svg path, svg polyline, svg line').count()) > 0, 'the history chart draws lines');
    await axe('segment detail, two versions');
  });

  // -- templates, and a campaign's results (on the demo business) --
  const CHAMPION_TEXT = 'Thanks, champion!';
  const OTHER_TEXT = 'We miss you';
  const RFM_TEXT = `{% if profile.rfm_segment == "Champions" %}${CHAMPION_TEXT}{% else %}${OTHER_TEXT}{% endif %}`;
  const TEMPLATE_NAME = 'E2E RFM thanks';
  let template = null;
  let people = null;

  /** Two named profiles, one in the RFM segment Champions and one in another, each found by searching its name. */
  async function championAndOther() {
    let champion = null;
    let other = null;
    for (let offset = 0; !(champion && other); offset += 200) {
      const list = await api('profiles_search', { query: '', limit: 200, offset });
      for (const p of list.profiles) {
        if (champion && other) break;
        if (!p.name) continue;
        const want = !champion ? 'champion' : !other ? 'other' : null;
        const t = await api('profile_traits', { id: p.id });
        if (!t?.rfm_segment) continue;
        const isChampion = t.rfm_segment === 'Champions';
        if ((isChampion && champion) || (!isChampion && other) || !want) continue;
        // The preview's search lists 6 people: the name must find this one.
        const found = await api('profiles_search', { query: p.name, limit: 6, offset: 0 });
        if (!found.profiles.some((f) => f.id === p.id)) continue;
        if (isChampion) champion = { ...p, rfm: t.rfm_segment };
        else other = { ...p, rfm: t.rfm_segment };
      }
      if (list.profiles.length < 200) break;
    }
    assert(champion && other, `a Champion and someone else with names (found ${champion?.id}, ${other?.id})`);
    return { champion, other };
  }

  /** Waits for the preview to show exactly the request the page has now, for `id`. */
  async function previewOf(id) {
    const recipient = page.locator(`[data-testid="preview-recipient"][data-profile-id="${id}"]`);
    await recipient.waitFor();
    await page.locator('[data-testid="template-preview"][data-state="ready"][data-for="current"]').waitFor();
    return recipient;
  }

  await check('templates: a conditional on the RFM segment, a save error at its line, saved; previewed as a Champion and as someone else in a sandboxed frame', async () => {
    const variables = await api('template_variables');
    assert(variables.some((v) => v.path === 'profile.rfm_segment'), `profile.rfm_segment among the variables: ${variables.map((v) => v.path)}`);
    assert(variables.some((v) => v.path === 'profile.first_name'), 'profile.first_name among the variables');
    people = await championAndOther();

    await $('nav-templates').click();
    await $('page-templates').waitFor();
    await $('template-new').click();
    await $('template-editor').waitFor();
    assertEq(await page.evaluate(() => location.hash), '#/templates/new', 'the new template is in the address');
    await $('template-name').fill(TEMPLATE_NAME);
    // The variable picker inserts at the cursor.
    await $('template-subject').fill('Hello ');
    await $('template-subject').press('End');
    await page.locator('[data-testid="variable-option"][data-path="profile.first_name"]').click();
    assertEq(await $('template-subject').inputValue(), 'Hello {{ profile.first_name | default("there") }}', 'the snippet is inserted at the cursor');
    await $('template-preheader').fill('A note from the E2E shop');
    // A tag left open: the save error points at the HTML body's line.
    await $('template-html').fill('<p>Hello {{ profile.first_name | default("there") }},</p>\n{% if profile.rfm_segment == "Champions" %}<p>Thanks!</p>\n');
    await $('template-text').fill(RFM_TEXT);
    assert((await page.locator('pre:has(+ [data-testid="template-text"]) .tk-stmt').count()) >= 3, 'the {% %} tags are highlighted');
    await $('template-save').click();
    const fieldError = page.locator('[data-testid="template-field-error"][data-part="html"]');
    await fieldError.waitFor();
    assert(/line \d/i.test(await fieldError.innerText()), `the error names the line: ${await fieldError.innerText()}`);
    assert(/variant A/i.test(await $('template-save-error').innerText()), 'the summary names the variant');
    assertEq(await $('template-html').getAttribute('aria-invalid'), 'true', 'the HTML body is marked invalid');
    assert(await page.evaluate(() => document.activeElement?.getAttribute('data-testid') === 'template-html'), 'the focus is on the HTML body');
    assertEq((await api('templates')).filter((t) => t.name === TEMPLATE_NAME).length, 0, 'nothing saved');
    await axe('template editor, save error');

    await $('template-html').fill(`<p>Hello {{ profile.first_name | default("there") }},</p>\n{% if profile.rfm_segment == "Champions" %}<p>${CHAMPION_TEXT}</p>{% else %}<p>${OTHER_TEXT}</p>{% endif %}\n`);
    // Variant B: a copy of A with a long subject and a first name without a default (lint finds both).
    await $('template-add-variant').click();
    await page.locator('[data-testid="template-variant-tab"][data-variant="B"][aria-selected="true"]').waitFor();
    await $('template-subject').fill('{{ profile.first_name }}, we kept a seat for you at our spring event: come and see everything that is new this season');
    await $('template-save').click();
    await page.waitForFunction(() => /^#\/templates\/\d+$/.test(location.hash));
    await page.locator('[data-testid="template-status"][data-dirty="false"]').waitFor();
    assertEq(await $('template-field-error').count(), 0, 'no field error left');
    template = (await api('templates')).find((t) => t.name === TEMPLATE_NAME);
    assert(template, 'the template is saved');
    assertEq(template.variants.map((v) => v.name), ['A', 'B'], 'variants');
    assertEq(template.variants[0].text, RFM_TEXT, 'the text body as typed');
    assertEq(await page.evaluate(() => location.hash), `#/templates/${template.id}`, 'the saved template is in the address');
    await page.locator(`[data-testid="template-row"][data-template-id="${template.id}"]`).waitFor();

    // Preview as the Champion, found by name.
    await $('template-tab-preview').click();
    for (const [who, expected, not] of [
      [people.champion, CHAMPION_TEXT, OTHER_TEXT],
      [people.other, OTHER_TEXT, CHAMPION_TEXT],
    ]) {
      await $('preview-profile-search').fill(who.name);
      const result = page.locator(`[data-testid="preview-profile-result"][data-profile-id="${who.id}"]`);
      await result.waitFor();
      await result.click();
      const recipient = await previewOf(who.id);
      const variants = recipient.locator('[data-testid="preview-variant"]');
      assertEq(await variants.evaluateAll((els) => els.map((e) => e.dataset.variant)), ['A', 'B'], 'the variants side by side');
      const textA = (await variants.first().locator('[data-testid="preview-text"]').innerText()).trim();
      assertEq(textA, expected, `the plain text for ${who.name} (${who.rfm})`);
      assert(!textA.includes(not), 'not the other branch');
      const subject = (await variants.first().locator('[data-testid="preview-subject"]').innerText()).trim();
      assert(subject.startsWith('Hello ') && !subject.includes('{{'), `a rendered subject: ${subject}`);
      const frame = variants.first().locator('[data-testid="preview-frame"]');
      const body = await page.frameLocator(`[data-testid="preview-recipient"][data-profile-id="${who.id}"] [data-testid="preview-variant"][data-variant="A"] [data-testid="preview-frame"]`).locator('body').innerText();
      assert(body.includes(expected) && !body.includes(not), `the HTML body in the frame: ${body}`);
      console.log(`       ${who.name} (${who.rfm}): “${textA}”`);
      if (who === people.champion) {
        assertEq(await frame.getAttribute('sandbox'), '', 'the frame is sandboxed with no permission');
        const srcdoc = await frame.getAttribute('srcdoc');
        assert(srcdoc.includes(`content="default-src 'none'; img-src data:; style-src 'unsafe-inline'"`), 'a strict CSP in the frame');
        assert(/^<!doctype html><html><head><meta http-equiv="Content-Security-Policy"/i.test(srcdoc), 'the CSP comes first');
      }
    }
    const sandboxes = await $('preview-frame').evaluateAll((els) => els.map((e) => e.getAttribute('sandbox')));
    assert(sandboxes.length >= 2 && sandboxes.every((s) => s === ''), `every frame sandboxed without allow-scripts: ${JSON.stringify(sandboxes)}`);
    // Mobile width.
    await $('preview-width-mobile').check();
    const box = await $('preview-frame').first().boundingBox();
    assert(Math.abs(box.width - 375) <= 2, `mobile frame width: ${box.width}`);
    await $('preview-width-desktop').check();
    assert(Math.abs((await $('preview-frame').first().boundingBox()).width - 600) <= 2, 'desktop frame width');
    await page.evaluate(() => window.scrollTo(0, 0));
    await shot('templates');
    // Chromium leaves sandboxed frames out of full-page screenshots: the preview as seen.
    await $('preview-recipient').first().evaluate((e) => e.scrollIntoView({ block: 'start' }));
    await page.evaluate(() => window.scrollBy(0, -90));
    await maskedShot('templates-preview', false);
    await axe('templates, editor and preview');
  });

  await check('templates: lint over a segment lists the issues by severity with their counts', async () => {
    const segmentInfo = (await api('segments')).find((s) => s.id === segment.id);
    const expected = await api('template_lint', { variants: template.variants, segment_id: segment.id });
    assert(expected.issues.length > 0, `the engine finds issues: ${JSON.stringify(expected)}`);
    await $('template-tab-lint').click();
    await $('lint-segment').selectOption(String(segment.id));
    await $('lint-run').click();
    await $('lint-summary').waitFor({ timeout: 60_000 });
    assertEq(Number(await $('lint-summary').getAttribute('data-recipients')), segmentInfo.members, 'checked every member of the segment');
    assertEq(Number(await $('lint-summary').getAttribute('data-warnings')), expected.warnings, 'warnings');
    assertEq(Number(await $('lint-summary').getAttribute('data-errors')), expected.errors, 'errors');
    const shown = await $('lint-issue').evaluateAll((els) => els.map((e) => ({ severity: e.dataset.severity, code: e.dataset.code, count: Number(e.dataset.count), text: e.innerText })));
    assertEq(shown.map(({ severity, code, count }) => ({ severity, code, count })), expected.issues.map(({ severity, code, count }) => ({ severity, code, count })), 'the issues, in the engine\'s order');
    assert(shown.some((i) => i.code === 'subject_too_long' && i.severity === 'warning' && i.count > 0), `the long subject of B: ${JSON.stringify(shown)}`);
    for (const i of shown) assert(i.text.length > 10, `a message: ${i.text}`);
    const empty = shown.find((i) => i.code === 'empty_value');
    console.log(`       ${shown.length} issues over ${segmentInfo.members} members${empty ? `; ${empty.count} would get an empty first name in B` : ''}`);
    // "Show in the editor" goes to the variant and part.
    await page.locator('[data-testid="lint-issue"][data-code="subject_too_long"] [data-testid="lint-goto"]').first().click();
    await page.locator('[data-testid="template-variant-tab"][data-variant="B"][aria-selected="true"]').waitFor();
    assert(await page.evaluate(() => document.activeElement?.getAttribute('data-testid') === 'template-subject'), 'the subject of B has the focus');
    await shot('template-lint');
    await axe('templates, lint');
  });

  await check('templates: Mailchimp merge tags, with the condition reported as untranslatable', async () => {
    await $('template-tab-translate').click();
    await $('translate-tool').selectOption('mailchimp');
    await $('translate-run').click();
    await $('translate-result').waitFor();
    assertEq(await $('translate-result').getAttribute('data-complete'), 'false', 'not everything translates');
    const rows = await $('translate-untranslatable-row').allInnerTexts();
    assert(rows.some((r) => r.includes('{% if profile.rfm_segment')), `the condition is listed: ${rows}`);
    await page.locator('[data-testid="translate-variant"][data-variant="A"] summary').click();
    assert((await page.locator('[data-testid="translate-variant"][data-variant="A"] [data-testid="translate-subject"]').innerText()).includes('*|'), 'Mailchimp merge tags in the subject');
    await axe('templates, merge tags');
  });

  await check('templates: a content block by segment, inserted into the draft, shows in the preview', async () => {
    await $('content-block-new').click();
    await $('content-block-dialog').waitFor({ state: 'visible' });
    await $('content-block-name').fill('e2e-signoff');
    await $('content-block-body').fill('See you soon');
    await $('content-block-add-rule').click();
    await page.locator('[data-testid="content-block-rule-segment"]').selectOption(String(segment.id));
    await page.locator('[data-testid="content-block-rule-body"]').fill('See you soon, neighbour');
    await axe('content block dialog');
    await $('content-block-save').click();
    await $('content-block-dialog').waitFor({ state: 'hidden' });
    await page.locator('[data-testid="content-block-row"][data-name="e2e-signoff"]').waitFor();
    const block = (await api('content_blocks')).find((b) => b.name === 'e2e-signoff');
    assertEq(block?.rules.map((r) => r.segment_id), [segment.id], 'the rule is saved');
    // Insert at the end of A's plain text.
    await page.locator('[data-testid="template-variant-tab"][data-variant="A"]').click();
    await $('template-text').focus();
    await $('template-text').press('Control+End');
    await $('template-text').press('Enter');
    await page.locator('[data-testid="content-block-row"][data-name="e2e-signoff"] [data-testid="content-block-insert"]').click();
    assertEq(await $('template-text').inputValue(), `${RFM_TEXT}\n{{ block("e2e-signoff") }}`, 'the block is inserted at the cursor');
    await $('template-tab-preview').click();
    const probe = await api('template_preview', {
      variants: [{ name: 'A', subject: 'x', preheader: '', html: '', text: '' }],
      profile_id: people.other.id,
      segment_id: null,
      sample: null,
      seed: null,
      campaign_id: null,
    });
    const inSegment = probe.recipients[0].segments.includes(segment.name);
    const recipient = await previewOf(people.other.id);
    const text = (await recipient.locator('[data-testid="preview-variant"][data-variant="A"] [data-testid="preview-text"]').innerText()).trim();
    assert(text.startsWith(OTHER_TEXT) && /See you soon/.test(text), `the block in the preview: ${text}`);
    assertEq(/neighbour/.test(text), inSegment, `the rule follows the segment (${people.other.name} ${inSegment ? 'is' : 'is not'} in it)`);
    await $('template-save').click();
    await page.locator('[data-testid="template-status"][data-dirty="false"]').waitFor();
    template = (await api('templates')).find((t) => t.id === template.id);
  });

  let templateCampaign = null;
  await check('campaigns: a campaign with the template, exported with rendered columns', async () => {
    await $('nav-campaigns').click();
    await $('campaign-form').waitFor();
    await $('campaign-name').fill('E2E template campaign');
    await $('campaign-segment').selectOption(String(segment.id));
    await $('campaign-channel').selectOption('email');
    await $('campaign-template').selectOption(TEMPLATE_NAME);
    await $('campaign-create').click();
    await $('campaign-panel').waitFor();
    templateCampaign = (await api('campaigns')).find((c) => c.name === 'E2E template campaign');
    assert(templateCampaign && templateCampaign.template === TEMPLATE_NAME, `the campaign has the template: ${JSON.stringify(templateCampaign)}`);
    await page.locator(`[data-testid="campaign-panel"][data-campaign-id="${templateCampaign.id}"]`).waitFor();
    await $('export-format').selectOption('csv');
    await $('export-content').waitFor();
    const options = await $('export-content-option').evaluateAll((els) => els.map((e) => e.dataset.content));
    assert(options.includes('columns') && options.includes('eml') && options.includes('eml_zip'), `content choices: ${options}`);
    await page.locator('[data-testid="export-content-option"][data-content="columns"]').check();
    for (const c of await page.locator('[data-testid="export-column"]:checked').evaluateAll((els) => els.map((e) => e.value))) {
      if (c !== 'email') await page.locator(`[data-testid="export-column"][data-column="${c}"]`).uncheck();
    }
    await page.locator('[data-testid="export-column"][data-column="email"]').check();
    await axe('campaign export with content');
    await $('export-run').click();
    await $('export-done').waitFor({ timeout: 60_000 });
    const file = await $('export-done').getAttribute('data-path');
    const rows = parseCsv(fs.readFileSync(file, 'utf8'));
    const header = rows[0];
    for (const c of ['subject', 'preheader', 'html', 'text', 'variant']) assert(header.includes(c), `column ${c} in ${header}`);
    const at = Object.fromEntries(header.map((h, i) => [h, i]));
    const body = rows.slice(1).filter((r) => !(r.length === 1 && r[0] === ''));
    assertEq(body.length, Number(await $('export-done').getAttribute('data-exported')), 'a row per person exported');
    const variants = new Set(body.map((r) => r[at.variant]));
    assert([...variants].every((v) => v === 'A' || v === 'B') && variants.size === 2, `both variants: ${[...variants]}`);
    for (const r of body) {
      const t = r[at.text];
      assert(t.startsWith(CHAMPION_TEXT) || t.startsWith(OTHER_TEXT), `a rendered text: ${JSON.stringify(t)}`);
      assert(!/\{\{|\{%/.test(r[at.subject] + r[at.html] + t), 'nothing left unrendered');
    }
    // The two people previewed, if the campaign reached them, got what the preview showed.
    for (const [who, expected] of [[people.champion, CHAMPION_TEXT], [people.other, OTHER_TEXT]]) {
      const row = who.email ? body.find((r) => r[at.email] === who.email) : null;
      if (row) assert(row[at.text].startsWith(expected), `${who.name}'s row: ${JSON.stringify(row[at.text])}`);
    }
    console.log(`       ${body.length} rows: ${body.filter((r) => r[at.variant] === 'A').length} A, ${body.filter((r) => r[at.variant] === 'B').length} B; ${body.filter((r) => r[at.text].startsWith(CHAMPION_TEXT)).length} champions`);
    templateCampaign.file = file;
    templateCampaign.rows = body.map((r) => r[at.email]);
  });

  await check('campaign results: measured from orders in the page, the report shows every group with the holdout, a verdict and the chart', async () => {
    await $('campaign-tab-results').click();
    await $('campaign-results').waitFor();
    assertEq(await page.evaluate(() => location.hash), `#/campaigns/${templateCampaign.id}/results`, 'the results are in the address');
    await $('results-verdict').waitFor();
    assert(/No results yet/.test(await $('results-verdict').innerText()), 'no results before measuring');
    await $('results-window').fill('30');
    assert(/30 days/.test(await $('results-from-orders').innerText()), 'the button names the window');
    await $('results-from-orders').click();
    await $('results-attributed').waitFor({ timeout: 60_000 });
    await page.locator('[data-testid="results-report"][data-has-orders="true"]').waitFor();
    const report = await api('campaign_report', { campaign_id: templateCampaign.id, confidence: 0.95 });
    assertEq(report.window_days, 30, 'the window measured');
    const groups = await $('results-group').evaluateAll((els) => els.map((e) => ({ kind: e.dataset.kind, name: e.dataset.name, recipients: Number(e.dataset.recipients) })));
    assertEq(groups, report.groups.map((g) => ({ kind: g.kind, name: g.name, recipients: g.recipients })), 'the groups');
    assert(groups.some((g) => g.kind === 'holdout' && g.name === 'Holdout' && g.recipients > 0), `a holdout group: ${JSON.stringify(groups)}`);
    assertEq(groups.filter((g) => g.kind === 'variant').map((g) => g.name), ['A', 'B'], 'a group per variant');
    const verdict = (await $('results-verdict').innerText()).trim();
    assertEq(verdict, report.verdict, 'the verdict');
    assert(/holdout/i.test(verdict) && /\.$/.test(verdict), `a verdict sentence about the holdout: ${verdict}`);
    assertEq(await $('results-comparison').count(), report.comparisons.length, 'a row per comparison');
    assert(report.comparisons.some((c) => c.against === 'Holdout'), 'compared with the holdout');
    assertEq(await $('results-revenue-row').count(), report.revenue.length, 'a row per revenue comparison');
    await $('results-chart').locator('svg').waitFor();
    console.log(`       ${verdict}`);
    await shot('campaign-results');
    await axe('campaign results, from orders');
  });

  await check('campaign results: the email tool\'s results CSV uploaded from the page adds opens and clicks', async () => {
    const csv = path.join(TMP, 'email-results.csv');
    const lines = ['Email Address,Delivered,Opened,Clicked'];
    templateCampaign.rows.forEach((email, i) => lines.push(`${email},yes,${i % 3 === 0 ? 'yes' : 'no'},${i % 9 === 0 ? 'yes' : 'no'}`));
    fs.writeFileSync(csv, lines.join('\n') + '\n');
    const [chooser] = await Promise.all([page.waitForEvent('filechooser'), $('results-import').click()]);
    await chooser.setFiles(csv);
    await $('results-imported').waitFor({ timeout: 60_000 });
    assertEq(Number(await $('results-imported').getAttribute('data-matched')), templateCampaign.rows.length, 'every row matched a recipient');
    await page.locator('[data-testid="results-report"][data-has-email="true"]').waitFor();
    const report = await api('campaign_report', { campaign_id: templateCampaign.id, confidence: 0.95 });
    assert(report.email_tool && report.comparisons.some((c) => c.metric === 'open'), 'open rates compared');
    assertEq((await $('results-verdict').innerText()).trim(), report.verdict, 'the verdict follows');
    assert((await page.locator('[data-testid="results-comparison"][data-metric="click"]').count()) > 0, 'click rates compared in the page');
    await axe('campaign results, email tool');
  });

  // -- privacy (last: the erasure and retention change the demo data) --
  let privacyPerson = null;
  await check('privacy: the consent overview shows a row of numbers per channel, as the engine counts them', async () => {
    await $('nav-privacy').click();
    await $('page-privacy').waitFor();
    await $('consent-overview').waitFor();
    await $('consent-channel').first().waitFor();
    const overview = await api('consent_overview');
    assert(overview.profiles > 0, `profiles: ${overview.profiles}`);
    assertEq(Number(await $('consent-profiles').getAttribute('data-count')), overview.profiles, 'profiles in the page');
    assertEq(Number(await $('consent-entries').getAttribute('data-count')), overview.entries, 'ledger entries in the page');
    const rows = await $('consent-channel').evaluateAll((els) =>
      els.map((e) => ({
        channel: e.dataset.channel,
        granted: Number(e.dataset.granted),
        denied: Number(e.dataset.denied),
        no_evidence: Number(e.dataset.noEvidence),
        may_contact: Number(e.dataset.mayContact),
      })),
    );
    assertEq(rows, overview.channels.map((c) => ({ channel: c.channel, granted: c.granted, denied: c.denied, no_evidence: c.no_evidence, may_contact: c.may_contact })), 'a row per channel');
    for (const r of rows) assertEq(r.granted + r.denied + r.no_evidence, overview.profiles, `${r.channel} adds up to every profile`);
    assert(rows.some((r) => r.granted + r.denied > 0), `some evidence in the demo: ${JSON.stringify(rows)}`);
    assertEq(await page.evaluate(() => location.hash), '#/privacy', 'the address');
    console.log(`       ${rows.map((r) => `${r.channel}: ${r.granted} granted, ${r.denied} denied, ${r.no_evidence} unknown, ${r.may_contact} may contact`).join('; ')}`);
    await axe('privacy, consent overview');
  });

  await check('privacy: look up a demo person, set email consent to denied by hand with a note; the history gains the manual entry', async () => {
    // A demo person with an email that only they carry, and orders: their erasure has something to remove.
    for (let offset = 0; !privacyPerson; offset += 500) {
      const list = await api('profiles_search', { query: '', limit: 500, offset });
      for (const p of list.profiles) {
        if (!p.email || !p.name) continue;
        const found = await api('profiles_search', { query: p.email, limit: 5, offset: 0 });
        if (found.total !== 1) continue;
        const preview = await api('erase_preview', { email: p.email, keep_anonymous_activity: false });
        if ((preview.removed.orders ?? 0) > 0 && preview.profiles.length === 1) {
          privacyPerson = p;
          break;
        }
      }
      if (list.profiles.length < 500) break;
    }
    assert(privacyPerson, 'a demo person with their own email and orders');
    const email = privacyPerson.email;
    await $('consent-profile-search').fill(email);
    const result = page.locator(`[data-testid="consent-profile-result"][data-profile-id="${privacyPerson.id}"]`);
    await result.click();
    await page.locator(`[data-testid="consent-profile"][data-profile-id="${privacyPerson.id}"] [data-testid="consent-effective"]`).first().waitFor();
    const channels = await $('consent-effective').evaluateAll((els) => els.map((e) => e.dataset.channel));
    assertEq(channels, ['email', 'sms', 'ads'], 'consent per channel');
    const before = await $('consent-history-row').count();
    assertEq(before, (await api('consent_profile', { profile_id: privacyPerson.id })).history.length, 'the history as the engine has it');

    // The page's masking switch is the header's: the person's email and name disappear from the page.
    await $('privacy-mask-toggle').check();
    assert(await $('mask-toggle').isChecked(), 'the header switch follows');
    const masked = await page.locator('main').innerText();
    assert(!masked.toLowerCase().includes(email.toLowerCase()), 'the email is masked in the consent lookup');
    assert(masked.includes(`${email[0]}•••${email.slice(email.lastIndexOf('@'))}`), 'the masked email shows');
    await $('privacy-mask-toggle').uncheck();
    assert(!(await $('mask-toggle').isChecked()), 'and off again');

    await $('consent-set-channel').selectOption('email');
    await $('consent-set-status').selectOption('denied');
    await page.getByLabel('Note (optional)').fill('E2E: asked to stop by phone');
    await $('consent-set-submit').click();
    await page.waitForFunction((n) => document.querySelectorAll('[data-testid="consent-history-row"]').length === n, before + 1);
    const manual = page.locator('[data-testid="consent-history-row"][data-source="manual"][data-channel="email"][data-status="denied"]');
    assertEq(await manual.count(), 1, 'one manual entry');
    assertEq(await manual.getAttribute('data-effective'), 'true', 'the manual entry decides the channel now');
    assert((await manual.innerText()).includes('E2E: asked to stop by phone'), 'with its note');
    await page.locator('[data-testid="consent-effective"][data-channel="email"][data-status="denied"][data-may-contact="false"]').waitFor();
    const after = await api('consent_profile', { profile_id: privacyPerson.id });
    assertEq(after.effective.find((s) => s.channel === 'email').status, 'denied', 'the engine agrees');
    console.log(`       profile #${privacyPerson.id}: ${before} → ${before + 1} history entries`);
    await shot('privacy-consent');
    await axe('privacy, consent of a person');
  });

  await check('privacy: export a person by email lists the files written and downloads person.json', async () => {
    const email = privacyPerson.email;
    await $('privacy-tab-export').click();
    await $('export-person-panel').waitFor();
    assertEq(await page.evaluate(() => location.hash), '#/privacy/export', 'the tab is in the address');
    await page.getByRole('textbox', { name: 'Email address' }).fill(email);
    await $('export-person-run').click();
    await $('export-person-result').waitFor();
    const files = await texts($('export-person-file'));
    assert(files.includes('person.json') && files.some((f) => f.endsWith('.csv')), `files: ${files}`);
    const dir = (await $('export-person-dir').innerText()).trim();
    assert(fs.existsSync(path.join(dir, 'person.json')), `person.json in ${dir}`);
    assert(!dir.includes(email), 'the folder is not named after the person');
    const [download] = await Promise.all([page.waitForEvent('download'), $('export-person-download').click()]);
    assertEq(download.suggestedFilename(), 'person.json', 'the file name');
    const file = path.join(TMP, 'person.json');
    await download.saveAs(file);
    const json = fs.readFileSync(file, 'utf8');
    JSON.parse(json);
    assert(json.toLowerCase().includes(email.toLowerCase()), 'the downloaded file holds the person');
    assertEq(json, fs.readFileSync(path.join(dir, 'person.json'), 'utf8'), 'the download is the file written');
    console.log(`       ${files.length} files: ${files.join(', ')}`);
    await axe('privacy, export a person');
  });

  await check('privacy: erase preview by email shows counts; the confirmed erasure reports them; the profile search then finds nothing', async () => {
    const email = privacyPerson.email;
    await $('privacy-tab-erase').click();
    await $('erase-panel').waitFor();
    await page.getByRole('textbox', { name: 'Email address' }).fill(email);
    await $('erase-preview-run').click();
    await $('erase-preview').waitFor();
    const preview = await api('erase_preview', { email, keep_anonymous_activity: false });
    const total = Number(await $('erase-preview').getAttribute('data-total'));
    assert(total > 0, `rows to erase: ${total}`);
    assertEq(total, [...Object.values(preview.removed), ...Object.values(preview.anonymised)].reduce((a, b) => a + b, 0), 'the total the engine previews');
    const rows = await $('erase-preview-row').evaluateAll((els) => els.map((e) => ({ table: e.dataset.table, removed: Number(e.dataset.removed) })));
    for (const t of ['contacts', 'orders']) assert(rows.some((r) => r.table === t && r.removed > 0), `${t} in the preview: ${JSON.stringify(rows)}`);
    // The person export made just before sits in the scratch folder and names them: it goes too.
    const exportFolder = preview.files.find((f) => f.action === 'deleted' && f.path.includes('person-exports'));
    assert(exportFolder && fs.existsSync(exportFolder.path), `the earlier person export is listed: ${JSON.stringify(preview.files)}`);
    assertEq(await $('erase-preview-file').count(), preview.files.length, 'the files beside the workspace are listed');
    await axe('privacy, erase preview');
    await $('erase-open').click();
    await $('erase-confirm-dialog').waitFor({ state: 'visible' });
    await shot('privacy-erase-confirm');
    await $('erase-confirm').click();
    await $('erase-report').waitFor({ timeout: 60_000 });
    assertEq(Number(await $('erase-report').getAttribute('data-total')), total, 'the erasure removed what the preview said');
    assert(!fs.existsSync(exportFolder.path), 'the earlier person export is gone');
    assertEq(await $('erase-person-value').inputValue(), '', 'the email is not kept in the form');
    assert(!(await page.locator('main').innerText()).toLowerCase().includes(email.toLowerCase()), 'the email is gone from the page');
    assertEq((await api('profiles_search', { query: email, limit: 10, offset: 0 })).total, 0, 'the engine finds nobody');
    await axe('privacy, erase report');

    await $('nav-profiles').click();
    await $('profile-search').fill(email);
    await page.waitForFunction(() => /No profile matches/.test(document.querySelector('[data-testid="profiles-range"]')?.textContent ?? ''));
    console.log(`       ${total} rows erased: ${rows.map((r) => `${r.table} ${r.removed}`).join(', ')}`);
    await $('profile-search').fill('');
  });

  await check('privacy: retention keeps events 120 months: saved, previewed, run', async () => {
    await $('nav-privacy').click();
    await $('privacy-tab-retention').click();
    await $('retention-events').waitFor();
    await $('retention-events').fill('120');
    assert(await $('retention-preview-run').isDisabled(), 'the preview waits for the rules to be saved');
    await $('retention-save').click();
    await page.waitForFunction(() => document.querySelector('[data-testid="retention-preview-run"]')?.disabled === false);
    assertEq((await api('retention_rules')).events_months, 120, 'the rule is stored');
    await $('retention-preview-run').click();
    await $('retention-preview').waitFor();
    const preview = await api('retention_preview');
    assertEq(Number(await $('retention-preview').getAttribute('data-total')), Object.values(preview.removed).reduce((a, b) => a + b, 0), 'the rows the engine would remove');
    assert((await $('retention-preview-row').count()) > 0 || /Nothing is old enough/.test(await $('retention-preview').innerText()), 'a row per table, or nothing to remove');
    await axe('privacy, retention preview');
    await $('retention-run').click();
    await $('retention-confirm-dialog').waitFor({ state: 'visible' });
    await $('retention-confirm').click();
    await $('retention-report').waitFor({ timeout: 60_000 });
    const removed = Number(await $('retention-report').getAttribute('data-total'));
    assertEq(removed, Object.values(preview.removed).reduce((a, b) => a + b, 0), 'the run removed what the preview said');
    console.log(`       events kept 120 months: ${removed} rows removed`);
  });

  await check('privacy: "Back up now" takes a backup that appears in the list', async () => {
    await $('privacy-tab-backups').click();
    await page.locator('[data-testid="backups-table"], [data-testid="backups-empty"]').first().waitFor();
    const before = (await api('backups')).backups.map((b) => b.name);
    await $('backup-create').click();
    await page.waitForFunction(() => /Backed up/.test(document.querySelector('[data-testid="backup-done"]')?.textContent ?? ''), null, { timeout: 60_000 });
    const view = await api('backups');
    const fresh = view.backups.filter((b) => !before.includes(b.name) && b.reason === 'manual');
    assertEq(fresh.length, 1, 'one new manual backup');
    await page.locator(`[data-testid="backup-row"][data-name="${fresh[0].name}"][data-reason="manual"]`).waitFor();
    assertEq(await $('backup-row').count(), view.backups.length, 'a row per backup');
    await axe('privacy, backups');
  });

  await check('privacy: the audit log lists the erasure and the consent change, newest first, filters by action, downloads as CSV, and never shows the erased email', async () => {
    const email = privacyPerson.email.toLowerCase();
    await $('privacy-tab-audit').click();
    await $('audit-table').waitFor();
    const entries = await $('audit-row').evaluateAll((els) => els.map((e) => ({ action: e.dataset.action, id: Number(e.dataset.id) })));
    const actions = entries.map((e) => e.action);
    for (const a of ['erase', 'consent_change', 'person_export', 'backup', 'retention']) assert(actions.includes(a), `${a} in the log: ${actions}`);
    assert(entries.every((e, i) => i === 0 || e.id < entries[i - 1].id), 'newest first');
    assert(actions.indexOf('erase') < actions.indexOf('consent_change'), 'the erasure after the consent change');
    assert(!(await page.locator('body').innerText()).toLowerCase().includes(email), 'the erased email is nowhere in the audit page');
    await $('audit-action').selectOption('erase');
    await page.waitForFunction(() => [...document.querySelectorAll('[data-testid="audit-row"]')].every((r) => r.dataset.action === 'erase'));
    assert((await $('audit-row').count()) >= 1, 'the erasure, filtered');
    await shot('privacy-audit');
    await axe('privacy, audit log');
    const [download] = await Promise.all([page.waitForEvent('download'), $('audit-download').click()]);
    const file = path.join(TMP, 'audit.csv');
    await download.saveAs(file);
    const csv = fs.readFileSync(file, 'utf8');
    assert(csv.startsWith('id,at,actor,action,subject,detail'), `the CSV header: ${csv.slice(0, 60)}`);
    assert(/,erase,/.test(csv) && /,consent_change,/.test(csv), 'the CSV has the erasure and the consent change');
    assert(!csv.toLowerCase().includes(email), 'the CSV does not name the erased person');
    await $('audit-action').selectOption('');
  });

  await check('an encrypted workspace asks for its passphrase: a wrong one is refused, the right one opens it', async () => {
    const ws = path.join(TMP, 'locked.cohort');
    const env = { ...process.env };
    delete env.COHORT_PASSPHRASE;
    const cli = (args, extra = {}) => {
      const r = spawnSync(BIN, ['--workspace', ws, ...args], { env: { ...env, ...extra }, encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`cohort ${args.join(' ')}: ${r.stderr}`);
    };
    cli(['init']);
    cli(['import', CONTACTS_CSV]);
    cli(['encrypt'], { COHORT_PASSPHRASE: 'a long enough passphrase' });
    const locked = await spawnServe(ws, env);
    const tab = await context.newPage();
    try {
      await tab.goto(locked.url);
      await tab.locator('[data-testid="unlock-dialog"]').waitFor({ state: 'visible' });
      assertEq(await tab.locator('[data-testid="unlock-path"]').innerText(), ws, 'the dialog names the workspace');
      await tab.locator('[data-testid="unlock-passphrase"]').fill('not the passphrase');
      await tab.locator('[data-testid="unlock-submit"]').click();
      await tab.locator('[data-testid="unlock-dialog"] [data-testid="error-alert"][data-code="wrong_passphrase"]').waitFor();
      await tab.locator('[data-testid="unlock-passphrase"]').fill('a long enough passphrase');
      await tab.locator('[data-testid="unlock-submit"]').click();
      await tab.locator('[data-testid="unlock-dialog"]').waitFor({ state: 'hidden' });
      await tab.locator('[data-testid="count-contacts"]').waitFor();
      assert(num(await tab.locator('[data-testid="count-contacts"]').innerText()) > 0, 'the workspace opened with its contacts');
    } catch (e) {
      await tab.screenshot({ path: path.join(ARTIFACTS, 'unlock-failure.png') }).catch(() => undefined);
      const info = await fetch(`${locked.base}/api/call/app_info`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${locked.token}`, 'Content-Type': 'application/json' },
        body: '{}',
      }).then((r) => r.text(), (x) => String(x));
      throw new Error(`${e.message}\n app_info: ${info}\n page: ${(await tab.locator('body').innerText().catch(() => '')).slice(0, 400)}`);
    } finally {
      await tab.close();
      locked.proc.kill('SIGTERM');
    }
  });

  await check('no errors in the browser console', async () => {
    assertEq(consoleErrors, [], 'console errors');
  });

  await check('accessibility: no serious or critical axe-core violations', async () => {
    assert(axeFindings.length === 0, `violations:\n${axeFindings.map((f) => `${f.state}: ${f.id} (${f.impact}) ${f.help} at ${f.nodes.join(', ')}`).join('\n')}`);
  });
}

async function cleanup() {
  try {
    await context?.close();
  } catch {
    // already gone
  }
  stopServer();
  if (!process.env.E2E_KEEP) fs.rmSync(TMP, { recursive: true, force: true });
}

process.on('SIGINT', () => {
  stopServer();
  process.exit(130);
});

try {
  await main();
} catch (e) {
  failed++;
  console.log(`  FAIL setup: ${e?.stack ?? e}`);
} finally {
  await cleanup();
}
console.log(`screenshots: ${ARTIFACTS}`);
console.log(`e2e: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);

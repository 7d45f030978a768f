// The dashboard in a real headless browser (Debian's chromium driven by playwright-core):
// the page loads with no script error, a CSV uploaded through the form starts a job whose
// loss curve grows while it trains (both lines drawn on the canvas), the model card shows,
// a prediction from the page equals the API's, a malformed CSV shows its line, the spam box
// shows the API's score. A screenshot is kept: build/dashboard.png (and docs/dashboard.png
// when DASHBOARD_DOCS_SHOT=1, for the README).
// Run with: node --test tests/browser/   (tests/browser/run.sh; BIN= the folder of neurond)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const BIN = process.env.BIN || 'bin';
const NEUROND = path.resolve(ROOT, BIN, 'neurond');
const BUILD = path.resolve(ROOT, process.env.BUILD || 'build');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const DIGITS = path.join(ROOT, 'tests', 'data', 'digits_train.csv');

let daemon, base, work, browser, page;
const consoleErrors = [];
const foreign = []; // requests to anywhere but the daemon (a CDN, a font): there must be none

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
    s.on('error', reject);
  });
}

async function api(p, opts) {
  const r = await fetch(base + p, opts);
  return { status: r.status, body: await r.json() };
}

before(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'neurond-browser-'));
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  const log = fs.openSync(path.join(work, 'daemon.log'), 'a');
  daemon = spawn(NEUROND, ['serve', '--port', String(port), '--db', path.join(work, 'n.db'),
    '--threads', '4', '--workers', '1'], { cwd: ROOT, stdio: ['ignore', log, log] });
  for (let i = 0; ; i++) {
    try { if ((await fetch(base + '/readyz')).status === 200) break; } catch { /* not yet */ }
    if (i > 300 || daemon.exitCode !== null) throw new Error('neurond did not start: ' + fs.readFileSync(path.join(work, 'daemon.log'), 'utf8'));
    await new Promise((r) => setTimeout(r, 50));
  }
  browser = await chromium.launchPersistentContext(path.join(work, 'profile'), {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 900 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  page = browser.pages()[0] || await browser.newPage();
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  page.on('request', (r) => { if (!r.url().startsWith(base + '/') && !r.url().startsWith('data:')) foreign.push(r.url()); });
  await page.goto(base + '/');
});

after(async () => {
  if (browser) await browser.close();
  if (daemon && daemon.exitCode === null) {
    const done = new Promise((r) => daemon.once('exit', (code) => r(code)));
    daemon.kill('SIGTERM');
    const code = await done;
    // a clean stop exits 0 (and the sanitizer build finds no leak)
    assert.equal(code, 0, fs.readFileSync(path.join(work, 'daemon.log'), 'utf8').slice(-3000));
  }
  fs.rmSync(work, { recursive: true, force: true });
});

test('the page loads from the daemon, with no script error', async () => {
  assert.equal(await page.title(), 'neurond dashboard');
  await page.waitForFunction(() => document.getElementById('ready').textContent === 'ready');
  assert.equal(await page.isVisible('#models-empty'), true);
  assert.equal(await page.isVisible('#jobs-empty'), true);
  assert.deepEqual(consoleErrors, []);
  assert.deepEqual(foreign, []);
});

test('a malformed CSV is refused with its line number', async () => {
  const bad = path.join(work, 'bad.csv');
  fs.writeFileSync(bad, 'a,b,label\n1,2,x\n3,"4,y\n');
  await page.setInputFiles('#train-file', bad);
  await page.fill('#train-model', 'broken');
  await page.click('#train-btn');
  await page.waitForSelector('#train-msg.err');
  const msg = await page.textContent('#train-msg');
  assert.match(msg, /line 3/);
  assert.equal((await api('/jobs')).body.jobs.length, 0);
});

test('upload a CSV, watch the loss curve grow while it trains', async () => {
  await page.setInputFiles('#train-file', DIGITS);
  await page.fill('#train-model', 'digits');
  await page.fill('#train-epochs', '100');
  await page.fill('#train-patience', '0');
  await page.fill('#train-hidden', '128,128');
  await page.click('#train-btn');
  await page.waitForFunction(() => /^Job [0-9a-f]{8} /.test(document.getElementById('train-msg').textContent));
  // live: while the job still runs, the canvas already holds some of its epochs
  const seen = [];
  for (let i = 0; i < 600; i++) {
    const s = await page.evaluate(() => ({
      points: +document.getElementById('loss-chart').dataset.points,
      info: document.getElementById('chart-info').textContent,
    }));
    if (/ running /.test(s.info) && s.points > 0) seen.push(s.points);
    if (/ succeeded /.test(s.info)) break;
    await page.waitForTimeout(25);
  }
  assert.ok(seen.length >= 2, 'saw the curve while running: ' + seen);
  assert.ok(seen[seen.length - 1] > seen[0], 'the curve grew: ' + seen);
  assert.ok(seen[0] < 100, 'the first drawing came before the end: ' + seen[0]);
  await page.waitForFunction(() => / succeeded /.test(document.getElementById('chart-info').textContent), null, { timeout: 60000 });
  const jobs = (await api('/jobs')).body.jobs;
  assert.equal(jobs.length, 1);
  const job = (await api('/jobs/' + jobs[0].id)).body;
  assert.equal(job.status, 'succeeded');
  const points = +(await page.getAttribute('#loss-chart', 'data-points'));
  assert.equal(points, job.history.length);
  assert.equal(points, 100);
  // both lines are on the canvas: count pixels of the train (blue) and validation (orange) colours
  const px = await page.evaluate(() => {
    const c = document.getElementById('loss-chart');
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let train = 0, val = 0;
    for (let i = 0; i < d.length; i += 4) {
      const [r, g, b] = [d[i], d[i + 1], d[i + 2]];
      if (Math.abs(r - 0x25) < 30 && Math.abs(g - 0x63) < 30 && Math.abs(b - 0xeb) < 30) train++;
      if (Math.abs(r - 0xea) < 30 && Math.abs(g - 0x58) < 30 && Math.abs(b - 0x0c) < 30) val++;
    }
    return { train, val };
  });
  assert.ok(px.train > 100 && px.val > 100, JSON.stringify(px));
  assert.match(await page.textContent('#train-msg'), /^Job [0-9a-f]{8} succeeded: digits v1 acc 0\.\d{3}$/);
  // the jobs table shows it succeeded
  await page.waitForSelector(`#jobs tr[data-job="${job.id}"] .status-succeeded`);
});

test('the model card shows the inputs, classes and metrics', async () => {
  await page.waitForSelector('#models tr[data-model="digits"]');
  await page.click('#models tr[data-model="digits"]');
  await page.waitForFunction(() => /digit: 0, 1, 2/.test(document.getElementById('model-card').textContent));
  const text = await page.textContent('#model-card');
  assert.match(text, /pixel_0_1 · numeric/); // pixel_0_0 is 0 in every image: ignored
  assert.match(text, /… and 49 more/);
  assert.match(text, /val_accuracy 0\.\d{4}/);
  assert.match(text, /61 → 128 → 128 → 10/);
});

test('a prediction from the page equals the API', async () => {
  await page.selectOption('#predict-model', 'digits');
  const header = fs.readFileSync(DIGITS, 'utf8').split('\n')[0].split(',');
  const row = fs.readFileSync(DIGITS, 'utf8').split('\n')[1].split(',').map(Number);
  const inst = Object.fromEntries(header.slice(0, 64).map((h, i) => [h, row[i]]));
  await page.fill('#predict-input', JSON.stringify(inst));
  await page.click('#predict-btn');
  await page.waitForSelector('#predict-label');
  const label = await page.textContent('#predict-label');
  const want = (await api('/models/digits/predict', {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ instances: [inst] }),
  })).body.predictions[0];
  assert.equal(label, want.label);
  assert.equal(await page.locator('#predict-out .prob').count(), 10);
  // a bad instance shows the API's error and its field
  await page.fill('#predict-input', JSON.stringify({ ...inst, pixel_0_1: 'dark' }));
  await page.click('#predict-btn');
  await page.waitForSelector('#predict-out .err');
  assert.match(await page.textContent('#predict-out .err'), /pixel_0_1/);
  // and the good one again, for the screenshot
  await page.fill('#predict-input', JSON.stringify(inst, null, 1));
  await page.click('#predict-btn');
  await page.waitForSelector('#predict-label');
});

test('the spam box scores a message as the API does; screenshot', async () => {
  // a tiny text model named "spam", trained through the API
  const spam = ['win a free prize now', 'cheap pills click here', 'claim your free money', 'you won the lottery click'];
  const ham = ['meeting moved to noon', 'see the attached report', 'lunch tomorrow with the team', 'notes from the review'];
  let csv = 'message,label\n';
  for (let i = 0; i < 30; i++) csv += `${spam[i % 4]} ${i},spam\n${ham[i % 4]} ${i},ham\n`;
  const fd = new FormData();
  fd.append('model', 'spam');
  fd.append('epochs', '30');
  fd.append('text_columns', 'message');
  fd.append('file', new Blob([csv], { type: 'text/csv' }), 'spam.csv');
  const job = await (await fetch(base + '/train', { method: 'POST', body: fd })).json();
  for (let i = 0; ; i++) {
    const j = (await api('/jobs/' + job.id)).body;
    if (j.status === 'succeeded') break;
    assert.ok(i < 600 && (j.status === 'queued' || j.status === 'running'), JSON.stringify(j));
    await new Promise((r) => setTimeout(r, 50));
  }
  const text = 'WIN a FREE prize now, click here';
  await page.fill('#spam-text', text);
  await page.click('#spam-btn');
  await page.waitForSelector('#spam-score');
  const r = await api('/spam-score', {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ text }),
  });
  assert.equal(r.status, 200);
  assert.equal(await page.textContent('#spam-score'), (r.body.score * 100).toFixed(1) + '%');
  assert.match(await page.textContent('#spam-out'), r.body.spam ? / spam \(/ : /not spam/);
  assert.equal(r.body.spam, true);
  fs.mkdirSync(BUILD, { recursive: true });
  await page.screenshot({ path: path.join(BUILD, 'dashboard.png'), fullPage: true });
  if (process.env.DASHBOARD_DOCS_SHOT === '1') fs.copyFileSync(path.join(BUILD, 'dashboard.png'), path.join(ROOT, 'docs', 'dashboard.png'));
  assert.ok(fs.statSync(path.join(BUILD, 'dashboard.png')).size > 20000);
  // the deliberate 400, 404 and 422 replies above are logged by the browser; nothing else may be
  assert.deepEqual(consoleErrors.filter((e) => !/Failed to load resource: the server responded with a status of (400|404|422)/.test(e)), []);
  assert.deepEqual(foreign, []);
});

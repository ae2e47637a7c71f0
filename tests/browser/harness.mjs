// Shared pieces of the browser tests: a real relay in demo mode on port 0, and headless
// Chromium driven by playwright-core, one persistent profile per person.
//
// Run through `cargo xtask test`, which sets:
//   CONFAB_RELAY_BIN    the relay binary (target/debug/confab-relay)
//   CONFAB_TOOLS        the folder where `cargo xtask setup --browser` put playwright-core
//   CONFAB_TEST_OUTPUT  where screenshots and relay logs go (test-output/)

import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repo = process.env.CONFAB_REPO
  ?? path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const tools = process.env.CONFAB_TOOLS ?? path.join(repo, '.tools');
const relayBin = process.env.CONFAB_RELAY_BIN ?? path.join(repo, 'target/debug/confab-relay');
export const outputDir = path.join(process.env.CONFAB_TEST_OUTPUT ?? path.join(repo, 'test-output'), 'browser');
fs.mkdirSync(outputDir, { recursive: true });

const { chromium } = createRequire(import.meta.url)(path.join(tools, 'node_modules/playwright-core'));

const CHROMIUM = '/usr/bin/chromium';
// Without the background-networking flags Chromium keeps dialling Google, which this
// machine's closed network refuses.
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

const RELAY_START_MS = 30_000;
/** Default for every wait on a page: generous for a 2-core CI machine, short enough to fail fast. */
export const STEP_MS = 15_000;

function tmpDir(prefix) {
  return fs.mkdtempSync(path.join(os.tmpdir(), `confab-${prefix}-`));
}

const running = new Set();
process.on('exit', () => { for (const child of running) child.kill('SIGKILL'); });

/**
 * Starts `confab-relay demo` on port 0 with a fresh data folder (its bot off unless `bot`), and resolves once it has printed
 * its URLs (relay, demo shop, the WhatsApp/Messenger phone page, dashboard and login).
 */
export async function startRelay(name, { bot = false } = {}) {
  const dataDir = tmpDir('data');
  const args = ['demo', '--listen', '127.0.0.1:0', '--demo-listen', '127.0.0.1:0', '--phone-listen', '127.0.0.1:0',
    '--data-dir', dataDir, '--demo-site-dir', path.join(repo, 'demo-site'),
    // The demo shop's bot answers first only in the tests about it (bot.test.mjs).
    '--demo-bot', String(bot)];
  if (!fs.existsSync(relayBin)) {
    throw new Error(`relay binary ${relayBin} not found: run \`cargo build -p confab-relay\``);
  }
  const child = spawn(relayBin, args, {
    cwd: repo,
    env: { ...process.env, NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  let log = `$ ${relayBin} ${args.join(' ')}\n`;
  child.stderr.on('data', (d) => { log += d; });

  const relay = {
    name,
    log: () => log,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(timer);
      }
      running.delete(child);
      fs.writeFileSync(path.join(outputDir, `${name}-relay.log`), log);
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };

  try {
    await new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`the relay did not print its three URLs within ${RELAY_START_MS / 1000}s`)),
        RELAY_START_MS);
      let pending = '';
      child.stdout.on('data', (chunk) => {
        log += chunk;
        pending += chunk;
        const lines = pending.split('\n');
        pending = lines.pop();
        for (const line of lines) {
          let m;
          if ((m = line.match(/relay listening on (https?:\/\/\S+)/))) relay.relayUrl = m[1];
          else if ((m = line.match(/demo shop on (https?:\/\/\S+)/))) relay.shopUrl = m[1];
          else if ((m = line.match(/phone on (https?:\/\/\S+)/))) relay.phoneUrl = m[1];
          else if ((m = line.match(/dashboard on (https?:\/\/\S+) \(login: (\S+) \/ (\S+)\)/))) {
            [, relay.dashboardUrl, relay.email, relay.password] = m;
          }
        }
        if (relay.relayUrl && relay.shopUrl && relay.dashboardUrl) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('error', (e) => { clearTimeout(timer); reject(e); });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`the relay exited (${code ?? signal}) before printing its URLs`));
      });
    });
  } catch (e) {
    await relay.stop();
    e.message += `\n--- relay output ---\n${log}`;
    throw e;
  }
  return relay;
}

/**
 * A person with their own Chromium profile. Every uncaught page error and console error is
 * recorded; `assertNoErrors` fails the test with them (minus those matching `allow`).
 */
export async function openBrowser(who, { viewport = { width: 1280, height: 800 }, mobile = false, locale, timezoneId } = {}) {
  const profile = tmpDir(`profile-${who}`);
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport,
    isMobile: mobile,
    hasTouch: mobile,
    // Optional: the browser's language (also its Accept-Language) and time zone.
    ...(locale ? { locale } : {}),
    ...(timezoneId ? { timezoneId } : {}),
    timeout: 30_000,
  });
  context.setDefaultTimeout(STEP_MS);
  context.setDefaultNavigationTimeout(STEP_MS);
  const errors = [];
  const watch = (page) => {
    page.on('pageerror', (e) => errors.push(`[${who}] page error on ${page.url()}: ${e.stack ?? e}`));
    page.on('console', (msg) => {
      if (msg.type() === 'error') {
        const loc = msg.location();
        errors.push(`[${who}] console error on ${page.url()}: ${msg.text()}${loc?.url ? ` (${loc.url}:${loc.lineNumber})` : ''}`);
      }
    });
  };
  context.pages().forEach(watch);
  context.on('page', watch);
  const page = context.pages()[0] ?? await context.newPage();

  return {
    who,
    context,
    page,
    errors,
    /** Fails with every recorded error except those matching one of `allow` (RegExps). */
    assertNoErrors(allow = []) {
      const unexpected = errors.filter((e) => !allow.some((re) => re.test(e)));
      if (unexpected.length) throw new Error(`errors in the ${who}'s browser:\n  ${unexpected.join('\n  ')}`);
    },
    async close() {
      await context.close().catch(() => {});
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}

export async function screenshot(page, name) {
  const file = path.join(outputDir, `${name}.png`);
  await page.screenshot({ path: file, timeout: STEP_MS });
  return file;
}

/**
 * Runs one test scene: a relay and the browsers opened through `scene.browser(...)`, all torn
 * down afterwards whatever happens. On failure every open page is saved as
 * `<name>-FAILED-<who>.png` and the relay's log tail is added to the error.
 */
export async function scene(name, body, { bot = false } = {}) {
  const relay = await startRelay(name, { bot });
  const browsers = [];
  const s = {
    relay,
    async browser(who, options) {
      const b = await openBrowser(who, options);
      browsers.push(b);
      return b;
    },
  };
  try {
    await body(s);
    for (const b of browsers) b.assertNoErrors(b.allow ?? []);
  } catch (e) {
    for (const b of browsers) {
      await screenshot(b.page, `${name}-FAILED-${b.who}`).catch(() => {});
      const errs = b.errors.filter((x) => !(b.allow ?? []).some((re) => re.test(x)));
      if (errs.length) e.message += `\n--- ${b.who}'s browser errors ---\n  ${errs.join('\n  ')}`;
    }
    e.message += `\n--- relay log (tail; all in ${path.join(outputDir, `${name}-relay.log`)}) ---\n`
      + relay.log().split('\n').slice(-40).join('\n');
    throw e;
  } finally {
    for (const b of browsers) await b.close();
    await relay.stop();
  }
}

/** Opens the dashboard on `page` and logs in as the demo advisor. */
export async function logIn(page, relay) {
  await page.goto(relay.dashboardUrl);
  await page.locator('form.login-form input[name=email]').fill(relay.email);
  await page.locator('form.login-form input[name=password]').fill(relay.password);
  await page.locator('form.login-form button[type=submit]').click();
}

/** Waits until `locator` has an element whose text contains `text`; names both when it fails. */
export async function waitForText(locator, text, what) {
  try {
    await locator.filter({ hasText: text }).first().waitFor({ state: 'visible' });
  } catch (e) {
    const seen = await locator.allInnerTexts().catch(() => []);
    throw new Error(`${what}: no ${locator} containing ${JSON.stringify(text)} within ${STEP_MS / 1000}s `
      + `(found ${seen.length}: ${JSON.stringify(seen.slice(-5))})`, { cause: e });
  }
}

/** Something unique per run, so a test can't pass on a message from an earlier run. */
export function unique(text) {
  return `${text} #${Math.random().toString(36).slice(2, 8)}`;
}

/**
 * Runs axe-core (WCAG 2.1 A and AA rules) on `page` — open shadow roots included — and fails with
 * every serious or critical violation, naming the rule, the element and axe's advice. Evaluated
 * through the DevTools protocol, so the page's Content-Security-Policy doesn't need to allow it.
 */
export async function assertAccessible(page, what) {
  const source = fs.readFileSync(path.join(tools, 'node_modules/axe-core/axe.min.js'), 'utf8');
  await page.evaluate(source);
  const violations = await page.evaluate(async () => {
    const result = await window.axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
    });
    return result.violations.map((v) => ({
      id: v.id, impact: v.impact, help: v.help,
      nodes: v.nodes.map((n) => `${n.target.join(' >>> ')}: ${n.failureSummary}`),
    }));
  });
  const bad = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  if (bad.length) {
    throw new Error(`${what}: ${bad.length} serious or critical accessibility violations:\n`
      + bad.map((v) => `  ${v.impact} ${v.id} (${v.help})\n    ${v.nodes.join('\n    ')}`).join('\n'));
  }
  return violations;
}

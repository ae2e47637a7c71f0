// A page on an origin the site doesn't allow embeds the widget: the relay refuses the
// visitor WebSocket before the upgrade, and the widget says so instead of spinning forever.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { scene, screenshot, STEP_MS } from './harness.mjs';

/** A one-page site on 127.0.0.1:<random port>: an origin the demo site doesn't list. */
async function foreignSite(relayUrl) {
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8">
<link rel="icon" href="data:,"><title>Not the shop</title></head>
<body><h1>A site that copied the demo's script tag</h1>
<script src="${relayUrl}/widget.js" data-site="demo" async></script></body></html>`;
  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(html);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${server.address().port}/`, close: () => server.close() };
}

/** Opens a raw WebSocket from the page: 'open', or 'closed:<code>' when refused. */
function probeSocket(page, url) {
  return page.evaluate(([url, ms]) => new Promise((resolve) => {
    const ws = new WebSocket(url);
    const timer = setTimeout(() => resolve('timeout'), ms);
    ws.onopen = () => { clearTimeout(timer); ws.close(); resolve('open'); };
    ws.onclose = (e) => { clearTimeout(timer); resolve(`closed:${e.code}`); };
  }), [url, STEP_MS / 2]);
}

/** A relay, a foreign site and a browser on it; Chromium's logs of refused requests allowed. */
async function onForeignSite(name, body) {
  await scene(name, async ({ relay, browser }) => {
    const foreign = await foreignSite(relay.relayUrl);
    try {
      const stranger = await browser('stranger');
      // Refused handshakes and refused requests are logged by Chromium as console errors.
      stranger.allow = [/403|forbidden|WebSocket|Failed to load resource|CORS/i];
      await body({ relay, foreign, page: stranger.page });
    } finally {
      foreign.close();
    }
  });
}

test('the relay refuses a visitor socket from a forbidden origin', { timeout: 90_000 }, async () => {
  await onForeignSite('forbidden-origin-socket', async ({ relay, foreign, page }) => {
    const wsUrl = relay.relayUrl.replace(/^http/, 'ws') + '/ws/visitor?site=demo';
    // The shop's own origin may connect (the control)…
    await page.goto(relay.shopUrl + '/');
    assert.equal(await probeSocket(page, wsUrl), 'open', 'the demo shop may open a visitor socket');
    // …the foreign origin may not.
    await page.goto(foreign.url);
    assert.match(await probeSocket(page, wsUrl), /^closed:/, 'a foreign origin gets no visitor socket');
  });
});

test('the widget on a forbidden origin says it is not allowed there', { timeout: 90_000 }, async () => {
  await onForeignSite('forbidden-origin-widget', async ({ foreign, page }) => {
    // The widget still loads (its assets are public), opens, and shows an error state.
    await page.goto(foreign.url);
    await page.locator('#confab-widget .confab-launcher').click();
    await page.locator('.confab-panel').waitFor({ state: 'visible' });
    const status = page.locator('.confab-status');
    await status.waitFor({ state: 'visible' });
    await page.waitForFunction(
      () => document.querySelector('#confab-widget')?.shadowRoot
        ?.querySelector('.confab-status')?.textContent.trim().length > 0,
      null,
      { timeout: STEP_MS });
    await screenshot(page, 'forbidden-origin');
    const text = (await status.innerText()).trim();
    // The relay's own reason reaches the page (the site API answers refusals with CORS headers),
    // naming the origin, so the developer who pasted the tag sees what to fix.
    assert.match(text, /may not embed site "demo"/,
      `the widget's status gives the relay's reason; it says: ${JSON.stringify(text)}`);
    assert.ok(text.includes(new URL(foreign.url).origin), `the reason names the page's origin: ${text}`);
    assert.ok(await page.locator('textarea.confab-composer').isDisabled(),
      'nothing can be typed where nothing could ever be sent');
  });
});

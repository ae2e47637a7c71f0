// The in-app webview pages on a phone-sized screen: demo-site/app.html (`data-mode="fullscreen"` on the
// shop's own page) and the relay's `/c/SITE_KEY`. The chat fills the screen and works, and the bridge
// posts its events to the native app (a stub `webkit.messageHandlers.confab` / `ConfabAndroid` records
// them): ready, the advisor's reply, and the unread count while the app shows another screen.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { scene, screenshot, unique, waitForText, logIn } from './harness.mjs';

/** A native app's side of the bridge: every post, parsed. `android` picks the Android interface. */
function nativeApp(android) {
  window.bridgePosts = [];
  const record = (json) => window.bridgePosts.push(JSON.parse(json));
  if (android) window.ConfabAndroid = { postMessage: record };
  else window.webkit = { messageHandlers: { confab: { postMessage: record } } };
}

async function posted(page, want, what) {
  const end = Date.now() + 15_000;
  for (;;) {
    const posts = await page.evaluate(() => window.bridgePosts);
    const found = posts.find(want);
    if (found) return found;
    if (Date.now() > end) throw new Error(`${what}: not posted to the app; posts: ${JSON.stringify(posts)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('the fullscreen widget fills a phone screen and sends a message', { timeout: 90_000 }, async () => {
  await scene('app', async ({ relay, browser }) => {
    const viewport = { width: 390, height: 844 };
    const phone = await browser('app-user', { viewport, mobile: true });
    const p = phone.page;
    await p.addInitScript(nativeApp, true);
    await p.goto(relay.shopUrl + '/app.html');

    // Fullscreen mode may open by itself; if it shows a launcher, one tap opens it.
    const panel = p.locator('.confab-panel');
    const launcher = p.locator('#confab-widget .confab-launcher');
    await Promise.race([
      panel.waitFor({ state: 'visible' }),
      launcher.waitFor({ state: 'visible' }),
    ]);
    if (!(await panel.isVisible())) await launcher.click();
    await panel.waitFor({ state: 'visible' });

    const box = await panel.boundingBox();
    assert.ok(box, 'the panel has a box');
    assert.ok(box.width >= viewport.width * 0.95 && box.height >= viewport.height * 0.9,
      `the fullscreen panel fills the screen (${viewport.width}×${viewport.height}); it is `
      + `${Math.round(box.width)}×${Math.round(box.height)} at ${Math.round(box.x)},${Math.round(box.y)}`);

    const text = unique('Where is my order LW-204519?');
    await p.locator('textarea.confab-composer').fill(text);
    await p.locator('button.confab-send').click();
    await waitForText(p.locator('.confab-msg[data-author="visitor"] .confab-msg-text'), text,
      'the message in the fullscreen widget');
    await screenshot(p, 'app-fullscreen');
    await posted(p, (e) => e.type === 'ready', "the Android bridge's ready event");
  });
});

test('/c/SITE_KEY on a phone: full screen, and the bridge tells the app of a reply and the unread count', { timeout: 120_000 }, async () => {
  await scene('app-webview', async ({ relay, browser }) => {
    const viewport = { width: 390, height: 844 };
    const phone = await browser('webview', { viewport, mobile: true });
    const p = phone.page;
    await p.addInitScript(nativeApp, false);
    const page = await p.goto(relay.relayUrl + '/c/demo');
    const csp = page.headers()['content-security-policy'];
    assert.match(csp, /script-src 'self' 'wasm-unsafe-eval';/);
    assert.match(await p.locator('meta[name=viewport]').getAttribute('content'), /viewport-fit=cover/);

    const panel = p.locator('#confab-widget .confab-panel');
    await panel.waitFor({ state: 'visible' });
    assert.equal(await p.locator('#confab-widget .confab-launcher').count(), 0, 'no launcher in the webview');
    const box = await panel.boundingBox();
    assert.ok(box.width >= viewport.width * 0.95 && box.height >= viewport.height * 0.9,
      `the page's chat fills the phone (${Math.round(box.width)}×${Math.round(box.height)})`);
    await posted(p, (e) => e.type === 'ready', 'ready');

    const question = unique('Do the Ridge boots come in half sizes?');
    await p.locator('textarea.confab-composer').fill(question);
    await p.locator('button.confab-send').click();
    await waitForText(p.locator('.confab-msg[data-author="visitor"] .confab-msg-text'), question, 'the message in the webview');
    await screenshot(p, 'app-webview');

    // The app shows another screen: the webview is hidden.
    await p.evaluate(() => {
      Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'hidden' });
      document.dispatchEvent(new Event('visibilitychange'));
    });

    const advisor = await browser('advisor');
    const a = advisor.page;
    await logIn(a, relay);
    await waitForText(a.locator('.conv-list .conv-item'), question, 'the conversation in the inbox');
    await a.locator('.conv-list .conv-item').filter({ hasText: question }).first().click();
    const answer = unique('Yes, from 7 to 12.');
    await a.locator('textarea.composer').fill(answer);
    await a.locator('button.send').click();

    const message = await posted(p, (e) => e.type === 'message' && e.text === answer, "the advisor's reply");
    assert.ok(message.author && message.author !== 'bot', `the advisor's name: ${message.author}`);
    await posted(p, (e) => e.type === 'unread' && e.count === 1, 'the unread count');

    // Back on the chat screen: read, and the count goes back to 0.
    await p.evaluate(() => {
      Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'visible' });
      document.dispatchEvent(new Event('visibilitychange'));
    });
    const posts = await p.evaluate(() => window.bridgePosts);
    const after = posts.findIndex((e) => e.type === 'unread' && e.count === 1);
    const end = Date.now() + 15_000;
    for (;;) {
      const now = await p.evaluate(() => window.bridgePosts);
      if (now.slice(after + 1).some((e) => e.type === 'unread' && e.count === 0)) break;
      if (Date.now() > end) throw new Error(`unread 0 not posted after coming back: ${JSON.stringify(now)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    await waitForText(p.locator('.confab-msg[data-author="advisor"] .confab-msg-text'), answer, 'the reply in the webview');
    await screenshot(p, 'app-webview-reply');
  });
});

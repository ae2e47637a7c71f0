// The in-app webview page (demo-site/app.html, `data-mode="fullscreen"`) on a phone-sized
// screen: the chat fills the screen and works.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { scene, screenshot, unique, waitForText } from './harness.mjs';

test('the fullscreen widget fills a phone screen and sends a message', { timeout: 90_000 }, async () => {
  await scene('app', async ({ relay, browser }) => {
    const viewport = { width: 390, height: 844 };
    const phone = await browser('app-user', { viewport, mobile: true });
    const p = phone.page;
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
  });
});

// Issue 5, the advisor's side of a conversation: the customer panel shows a real widget visitor's
// browser, language, local time and referrer; `j` / `k` move through the inbox, `?` lists the
// shortcuts; with desktop notifications on and the tab hidden, a visitor's message raises a
// notification (window.Notification replaced by a recording stub) that opens its conversation;
// `a` sends an assign frame for me, `e` resolves.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { scene, screenshot, unique, waitForText, logIn } from './harness.mjs';

const REFERRER = 'https://search.example/?q=tents';

/** A visitor on the shop, arrived from a search page, who writes `text`. */
async function visitorWrites(browser, who, relay, text, options) {
  const visitor = await browser(who, options);
  const v = visitor.page;
  await v.goto(relay.shopUrl + '/', { referer: REFERRER });
  await v.locator('#confab-widget .confab-launcher').click();
  await v.locator('textarea.confab-composer').fill(text);
  await v.locator('button.confab-send').click();
  await v.locator('.confab-msg[data-author="visitor"][data-state="sent"]').waitFor();
  return v;
}

/** Replaces Web Notifications with a stub that records each one (permission already granted),
 *  and lets the test hide the page (`window.__setHidden(true)`). */
function stubs() {
  window.__notifications = [];
  class RecordingNotification {
    constructor(title, options = {}) {
      this.title = title;
      this.body = options.body;
      this.tag = options.tag;
      this.onclick = null;
      this.closed = false;
      window.__notifications.push(this);
    }
    close() { this.closed = true; }
    static get permission() { return 'granted'; }
    static requestPermission() { return Promise.resolve('granted'); }
  }
  window.Notification = RecordingNotification;
  let hidden = false;
  Object.defineProperty(Document.prototype, 'visibilityState', { get: () => (hidden ? 'hidden' : 'visible') });
  Object.defineProperty(Document.prototype, 'hidden', { get: () => hidden });
  window.__setHidden = (h) => {
    hidden = h;
    document.dispatchEvent(new Event('visibilitychange', { bubbles: true }));
  };
}

test('the customer panel, keyboard shortcuts and a desktop notification', { timeout: 180_000 }, async () => {
  await scene('panel', async ({ relay, browser }) => {
    const first = unique('Is the 2-person tent waterproof?');
    const second = unique('Do you ship to Lausanne?');
    const later = unique('Also, which sleeping bag goes with it?');

    const v1 = await visitorWrites(browser, 'visitor', relay, first, { locale: 'de-CH', timezoneId: 'Asia/Tokyo' });
    const referrer = await v1.evaluate(() => document.referrer);
    assert.ok(referrer.startsWith('https://search.example/'), `the visitor page's referrer: ${referrer}`);
    await visitorWrites(browser, 'visitor2', relay, second);

    const advisor = await browser('advisor');
    const a = advisor.page;
    await a.addInitScript(stubs);
    // What the dashboard sends on its socket (passed through unchanged).
    const sent = [];
    await advisor.context.routeWebSocket((url) => new URL(url).pathname === '/ws/advisor', (ws) => {
      const server = ws.connectToServer();
      ws.onMessage((m) => {
        sent.push(JSON.parse(typeof m === 'string' ? m : m.toString()));
        server.send(m);
      });
    });
    await logIn(a, relay);
    const row1 = a.locator('.conv-list .conv-item').filter({ hasText: first });
    const row2 = a.locator('.conv-list .conv-item').filter({ hasText: second });
    await row1.waitFor();
    await row2.waitFor();
    const id1 = await row1.getAttribute('data-id');
    const id2 = await row2.getAttribute('data-id');
    await row1.click();

    // The panel: browser, language, local time in the visitor's zone, where they came from.
    const panel = a.locator('aside.customer');
    await waitForText(panel.locator('.customer-browser'), 'Chrome', 'the browser');
    await waitForText(panel.locator('.customer-browser'), 'Linux', 'the system');
    await waitForText(panel.locator('.customer-language'), 'de-CH', 'the language');
    await waitForText(panel.locator('.customer-local-time'), 'Asia/Tokyo', 'the time zone');
    const tokyo = (offsetMs) => new Intl.DateTimeFormat([], { timeZone: 'Asia/Tokyo', hour: '2-digit', minute: '2-digit' })
      .format(new Date(Date.now() + offsetMs));
    const shownTime = await panel.locator('.customer-local-time').innerText();
    assert.ok([tokyo(0), tokyo(-60_000)].some((t) => shownTime.includes(t)), `local time ${shownTime} is Tokyo's (${tokyo(0)})`);
    await waitForText(panel.locator('.customer-referrer'), referrer, 'the referrer');
    await screenshot(a, 'panel-customer');

    // The panel folds away and comes back, and remembers it.
    await panel.locator('button.customer-toggle').click();
    await a.locator('aside.customer[data-open="false"]').waitFor();
    assert.equal(await panel.locator('.customer-browser').count(), 0);
    assert.equal(await a.evaluate(() => localStorage.getItem('confab.panel')), 'closed');
    await screenshot(a, 'panel-collapsed');
    await panel.locator('button.customer-toggle').click();
    await waitForText(panel.locator('.customer-language'), 'de-CH', 'the panel open again');

    // Correct the name inline: the inbox row follows.
    await panel.locator('input.customer-name').fill('Heidi Muster');
    await panel.locator('input.customer-name').press('Enter');
    await waitForText(row1.locator('.conv-name'), 'Heidi Muster', 'the corrected name in the row');
    // Esc in a field undoes the typing instead of saving it.
    await panel.locator('input.customer-email').fill('half-typed');
    await panel.locator('input.customer-email').press('Escape');
    assert.equal(await panel.locator('input.customer-email').inputValue(), '');
    assert.equal(await a.evaluate(() => document.activeElement?.tagName), 'BODY', 'Esc left the field');

    // j / k: the inbox is newest first, so row2 (written later) is above row1.
    const selected = a.locator('.conv-list .conv-item[aria-current="true"]');
    await a.keyboard.press('Escape');
    await a.locator('body').focus();
    await a.keyboard.press('k');
    await a.locator(`.conv-item[data-id="${id2}"][aria-current="true"]`).waitFor();
    await a.keyboard.press('j');
    await a.locator(`.conv-item[data-id="${id1}"][aria-current="true"]`).waitFor();
    assert.equal(await selected.count(), 1);
    // Typed into the reply box, "k" is a letter, not a shortcut.
    await a.keyboard.press('r');
    await a.locator('textarea.composer:focus').waitFor();
    await a.keyboard.type('k');
    assert.equal(await a.locator('textarea.composer').inputValue(), 'k');
    await a.locator(`.conv-item[data-id="${id1}"][aria-current="true"]`).waitFor();
    await a.locator('textarea.composer').fill('');
    await a.keyboard.press('Escape');

    // ? lists the shortcuts; Esc closes the list.
    await a.keyboard.press('?');
    const help = a.locator('[role="dialog"][aria-label="Keyboard shortcuts"]');
    await help.waitFor();
    for (const key of ['j', 'k', 'r', 'e', 'a', '?', 'Esc']) {
      assert.equal(await help.locator('kbd', { hasText: new RegExp(`^${key.replace('?', '\\?')}$`) }).count(), 1, `${key} is listed`);
    }
    await screenshot(a, 'panel-shortcuts');
    await a.keyboard.press('Escape');
    await help.waitFor({ state: 'detached' });

    // Desktop notifications on, through the bell; then the tab is hidden and visitor 1 writes.
    await a.locator('button.bell').click();
    await a.locator('.bell-menu label', { hasText: 'Desktop notifications' }).locator('input').check();
    await screenshot(a, 'panel-bell');
    assert.equal(await a.evaluate(() => localStorage.getItem('confab.notify.desktop')), 'on');
    // Sound too: the chime is generated with WebAudio (any error in it fails the test).
    await a.locator('.bell-menu label', { hasText: 'Sound' }).locator('input').check();
    assert.equal(await a.evaluate(() => localStorage.getItem('confab.notify.sound')), 'on');
    await a.keyboard.press('Escape');
    await a.locator(`.conv-item[data-id="${id2}"]`).click();
    await a.evaluate(() => window.__setHidden(true));

    await v1.locator('textarea.confab-composer').fill(later);
    await v1.locator('button.confab-send').click();
    await a.waitForFunction((text) => window.__notifications.some((n) => n.body === text), later);
    const shown = await a.evaluate(() => window.__notifications.map((n) => ({ title: n.title, body: n.body, tag: n.tag })));
    assert.deepEqual(shown.filter((n) => n.body === later), [{ title: 'Heidi Muster', body: later, tag: `confab-${id1}` }]);
    await a.waitForFunction(() => /^\(\d+\) Inbox · Confab$/.test(document.title));

    // Clicking it opens that conversation.
    await a.evaluate(() => {
      const n = window.__notifications.at(-1);
      n.onclick();
    });
    await a.locator(`.conv-item[data-id="${id1}"][aria-current="true"]`).waitFor();
    assert.ok(await a.evaluate(() => window.__notifications.at(-1).closed), 'the notification closes once clicked');
    await a.evaluate(() => window.__setHidden(false));
    await waitForText(a.locator('.thread .msg'), later, 'the message in the opened thread');
    await screenshot(a, 'panel-after-notification');

    // a assigns the open conversation to me (the relay's side of it is routing's).
    await a.keyboard.press('Escape');
    await a.keyboard.press('a');
    const assign = await (async () => {
      for (let i = 0; i < 50; i++) {
        const found = sent.find((f) => f.type === 'assign');
        if (found) return found;
        await new Promise((r) => setTimeout(r, 100));
      }
      return undefined;
    })();
    assert.ok(assign, `an assign frame was sent: ${JSON.stringify(sent.map((f) => f.type))}`);
    assert.equal(String(assign.conversation), id1);
    assert.equal(typeof assign.advisor, 'number');
    assert.equal(assign.team, undefined);

    // e resolves the open conversation: it leaves the "Open" inbox.
    await a.keyboard.press('e');
    await a.locator(`.conv-item[data-id="${id1}"]`).waitFor({ state: 'detached' });
    await a.locator('.thread-actions button.reopen').waitFor();
  });
});

// For the developer embedding the widget: the JS API works before the loader has arrived (queued
// calls and handlers), identify with a valid user_hash gives a signed-in user the same thread in a
// second browser, an invalid one is refused visibly and through on('identify'), and an admin's
// appearance change (left corner, question-mark icon) reaches the launcher.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { scene, screenshot, unique, waitForText, logIn } from './harness.mjs';

/** What the site's server computes: hex HMAC-SHA256(identity secret, user_id). */
const userHash = (secret, userId) => crypto.createHmac('sha256', secret).update(userId).digest('hex');

/** The stub of the README, then calls and handlers made before the loader arrives. */
function earlyCalls(calls) {
  window.Confab = window.Confab || function () { (Confab.q = Confab.q || []).push(arguments); };
  window.confabEvents = [];
  for (const type of ['open', 'close', 'ready', 'unread', 'identify', 'message']) {
    Confab('on', type, (detail) => window.confabEvents.push([type, detail ?? null]));
  }
  for (const call of calls) Confab(...call);
}

async function events(page, type) {
  return (await page.evaluate(() => window.confabEvents)).filter(([t]) => t === type).map(([, d]) => d);
}

async function until(what, check) {
  const end = Date.now() + 15_000;
  for (;;) {
    const got = await check();
    if (got) return got;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('Confab() calls made before the loader arrives are replayed: queued open and on(open)', { timeout: 90_000 }, async () => {
  await scene('embed-queue', async ({ relay, browser }) => {
    const visitor = await browser('visitor');
    const v = visitor.page;
    await v.addInitScript(earlyCalls, [['open']]);
    await v.goto(relay.shopUrl + '/product.html');
    // Opened by the queued call, without a click.
    await v.locator('#confab-widget .confab-panel').waitFor({ state: 'visible' });
    await v.locator('textarea.confab-composer').waitFor();
    await until('the ready event', async () => (await events(v, 'ready')).length === 1);
    assert.equal((await events(v, 'open')).length, 1, 'on(open) was called once');

    // Now Confab() acts at once.
    await v.evaluate(() => Confab('close'));
    await v.locator('#confab-widget .confab-panel').waitFor({ state: 'hidden' });
    assert.equal((await events(v, 'close')).length, 1);
    await v.evaluate(() => Confab('toggle'));
    await v.locator('#confab-widget .confab-panel').waitFor({ state: 'visible' });
    await screenshot(v, 'embed-queued-open');

    // setLocale switches the loader's and the chat's words.
    await v.evaluate(() => Confab('setLocale', 'fr'));
    await v.locator('button.confab-send[aria-label="Envoyer"]').waitFor();
    await v.locator('textarea.confab-composer[placeholder="Écrivez un message…"]').waitFor();
    assert.equal(await v.locator('#confab-widget .confab-launcher').getAttribute('aria-label'), 'Ouvrir la discussion');
  });
});

test('identify: a valid user_hash gives the same thread in a second browser; an invalid one is refused', { timeout: 150_000 }, async () => {
  await scene('embed-identify', async ({ relay, browser }) => {
    const admin = await browser('admin');
    const a = admin.page;
    await logIn(a, relay);
    // Settings → Sites: generate the identity secret and require verified identities.
    await a.locator('.me-links a.settings-link').click();
    await a.locator('nav.tabs button[role=tab]', { hasText: 'Sites' }).click();
    const card = a.locator('form.site-card[data-site="demo"]');
    await card.locator('button.identity-rotate', { hasText: 'Generate secret' }).click();
    await card.locator('button.identity-rotate', { hasText: 'Rotate secret' }).waitFor();
    const secret = (await card.locator('code.identity-secret').textContent()).trim();
    assert.match(secret, /^[0-9a-f]{64}$/);
    await card.locator('input.site-require-identity').check();
    await card.locator('button.site-save').click();
    await card.locator('.form-ok').waitFor();
    await screenshot(a, 'embed-admin-identity');
    const demo = (await a.evaluate(async () => (await fetch('/api/v1/admin/sites')).json())).find((x) => x.key === 'demo');
    assert.equal(demo.require_identity, true);
    assert.equal(demo.identity_secret, secret);
    await a.locator('a.link-button', { hasText: 'Back to the inbox' }).click();
    await a.locator('.conv-list').waitFor();

    const user = { user_id: 'user-42', user_hash: userHash(secret, 'user-42'), name: 'Ada Lovelace', email: 'ada@example.com' };
    const question = unique('Where is my order LW-204519?');

    // The laptop: identify queued before the loader, then a message.
    const laptop = await browser('laptop');
    const l = laptop.page;
    await l.addInitScript(earlyCalls, [['identify', user], ['open']]);
    await l.goto(relay.shopUrl + '/index.html');
    await until('identify verified', async () => (await events(l, 'identify')).some((r) => r.verified === true));
    await l.locator('textarea.confab-composer').fill(question);
    await l.locator('button.confab-send').click();
    await waitForText(l.locator('.confab-msg[data-author="visitor"] .confab-msg-text'), question, 'the message on the laptop');

    // The phone: another browser profile, the same user: the same thread.
    const phone = await browser('phone', { viewport: { width: 390, height: 844 }, mobile: true });
    const p = phone.page;
    await p.addInitScript(earlyCalls, [['identify', user]]);
    await p.goto(relay.shopUrl + '/index.html');
    await until('identify on the phone', async () => (await events(p, 'identify')).some((r) => r.verified === true));
    await p.evaluate(() => Confab('open'));
    await waitForText(p.locator('.confab-msg[data-author="visitor"] .confab-msg-text'), question,
      "the laptop's message in the phone's thread");
    await screenshot(p, 'embed-identify-second-device');

    // The advisor sees one conversation, with the user's name.
    await waitForText(a.locator('.conv-list .conv-item'), 'Ada Lovelace', 'the identified customer in the inbox');
    assert.equal(await a.locator('.conv-list .conv-item').filter({ hasText: 'Ada Lovelace' }).count(), 1);

    // An impostor with a made-up hash: refused, visibly and through on('identify'); nothing of Ada's.
    const impostor = await browser('impostor');
    const i = impostor.page;
    await i.addInitScript(earlyCalls, [['identify', { ...user, user_hash: userHash('guessed', 'user-42') }], ['open']]);
    await i.goto(relay.shopUrl + '/index.html');
    const refused = await until('identify refused', async () => (await events(i, 'identify')).find((r) => r.error));
    assert.equal(refused.verified, false);
    assert.match(refused.error, /does not match/);
    await waitForText(i.locator('.confab-status'), "We couldn't confirm your account", 'the refusal in the chat');
    assert.equal(await i.locator('.confab-msg[data-author="visitor"]').count(), 0, "none of Ada's messages");
    await screenshot(i, 'embed-identify-refused');

    // Logout: shutdown forgets the visitor on the phone; reopening starts an empty anonymous chat.
    await p.evaluate(() => Confab('shutdown'));
    await p.locator('#confab-widget .confab-panel').waitFor({ state: 'hidden' });
    assert.equal(await p.evaluate(() => localStorage.getItem('confab:demo:token')), null);
    await p.evaluate(() => Confab('open'));
    await p.locator('textarea.confab-composer').waitFor();
    await until('a new token', async () => p.evaluate(() => localStorage.getItem('confab:demo:token')));
    assert.equal(await p.locator('.confab-msg[data-author="visitor"]').count(), 0, 'an empty thread after shutdown');
  });
});

test('appearance: an admin moves the launcher to the left with a question-mark icon', { timeout: 120_000 }, async () => {
  await scene('embed-appearance', async ({ relay, browser }) => {
    const admin = await browser('admin');
    const a = admin.page;
    await logIn(a, relay);
    await a.locator('.me-links a.settings-link').click();
    await a.locator('.admin-page').waitFor();
    await a.locator('nav.tabs button[role=tab]', { hasText: 'Sites' }).click();
    const card = a.locator('form.site-card[data-site="demo"]');
    await card.waitFor();
    await card.locator('select.site-position').selectOption('left');
    await card.locator('select.site-launcher').selectOption('help');
    await card.locator('button.site-save').click();
    await card.locator('.form-ok').waitFor();
    await screenshot(a, 'embed-admin-appearance');
    const sites = await a.evaluate(async () => (await fetch('/api/v1/admin/sites')).json());
    const demo = sites.find((s) => s.key === 'demo');
    assert.equal(demo.position, 'left');
    assert.equal(demo.launcher, 'help');

    const visitor = await browser('visitor');
    const v = visitor.page;
    await v.goto(relay.shopUrl + '/product.html');
    const launcher = v.locator('#confab-widget .confab-launcher');
    await launcher.click();
    await v.locator('textarea.confab-composer').waitFor();
    // The welcome's theme reaches the launcher: bottom left, the question-mark icon.
    await until('the launcher on the left', async () => (await launcher.boundingBox()).x < 100);
    assert.equal(await v.locator('#confab-widget .confab-launcher svg.c circle').count(), 1, 'the help icon');
    const panel = await v.locator('#confab-widget .confab-panel').boundingBox();
    assert.ok(panel.x < 100, `the panel opens on the left too (x = ${panel.x})`);
    await screenshot(v, 'embed-appearance-left');

    // The next page paints it from the cache, before the chat has loaded.
    await v.goto(relay.shopUrl + '/contact.html');
    await launcher.waitFor();
    assert.ok((await launcher.boundingBox()).x < 100, 'left from the first paint');
    assert.equal(await v.locator('#confab-widget .confab-launcher svg.c circle').count(), 1);
    await screenshot(v, 'embed-appearance-cached');
  });
});

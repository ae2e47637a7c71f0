// The widget for a visitor who uses the keyboard, a screen reader, reduced motion or French:
// axe-core finds no serious or critical violation (closed, open, with a conversation); the launcher,
// the panel and its controls work from the keyboard with the focus kept inside the open panel and
// given back to the launcher on Escape; new messages land in a live region; a French browser gets a
// French widget.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { scene, screenshot, unique, waitForText, logIn, assertAccessible } from './harness.mjs';

/** What has the keyboard focus: the element inside the widget's shadow root, or the page's. */
async function focused(page) {
  return page.evaluate(() => {
    const host = document.getElementById('confab-widget');
    const el = document.activeElement === host ? host.shadowRoot.activeElement : document.activeElement;
    if (!el) return { where: 'none' };
    return {
      where: document.activeElement === host ? 'widget' : 'page',
      tag: el.tagName.toLowerCase(),
      cls: el.getAttribute('class') ?? '',
      label: el.getAttribute('aria-label') ?? el.textContent.trim(),
      inPanel: !!el.closest('.confab-panel'),
      outline: getComputedStyle(el).outlineStyle + ' ' + getComputedStyle(el).outlineWidth,
    };
  });
}

test('the widget is usable from the keyboard and passes axe-core', { timeout: 120_000 }, async () => {
  await scene('a11y', async ({ relay, browser }) => {
    const visitor = await browser('visitor');
    const v = visitor.page;
    await v.emulateMedia({ reducedMotion: 'reduce' });
    await v.goto(relay.shopUrl + '/');
    const launcher = v.locator('#confab-widget .confab-launcher');
    await launcher.waitFor({ state: 'visible' });
    await assertAccessible(v, 'the shop with the closed widget');

    // Tab through the shop until the launcher has the focus; Enter opens the panel and the focus
    // moves into it, on the composer.
    let f;
    for (let i = 0; i < 40; i++) {
      await v.keyboard.press('Tab');
      f = await focused(v);
      if (f.where === 'widget') break;
    }
    assert.equal(f.cls, 'confab-launcher', `Tab reaches the launcher (${JSON.stringify(f)})`);
    assert.equal(f.label, 'Open chat');
    assert.notEqual(f.outline.split(' ')[0], 'none', `the focused launcher shows a focus ring (${f.outline})`);
    await v.keyboard.press('Enter');
    await v.locator('.confab-panel').waitFor({ state: 'visible' });
    await v.waitForFunction(() => {
      const root = document.getElementById('confab-widget').shadowRoot;
      return root.activeElement?.classList.contains('confab-composer');
    }, null, { timeout: 15_000 });
    assert.equal(await launcher.getAttribute('aria-expanded'), 'true');

    // Write and send with the keyboard alone.
    const question = unique('Can I return boots that I wore once?');
    await v.keyboard.type(question);
    await v.keyboard.press('Enter');
    await waitForText(v.locator('.confab-msg[data-author="visitor"] .confab-msg-text'), question, 'the message sent with Enter');

    // Tab and Shift+Tab go round the panel: the focus never leaves the widget.
    const seen = new Set();
    for (let i = 0; i < 12; i++) {
      await v.keyboard.press('Tab');
      f = await focused(v);
      assert.equal(f.where, 'widget', `Tab ${i + 1} keeps the focus in the widget (${JSON.stringify(f)})`);
      seen.add(f.cls);
    }
    for (let i = 0; i < 12; i++) {
      await v.keyboard.press('Shift+Tab');
      f = await focused(v);
      assert.equal(f.where, 'widget', `Shift+Tab ${i + 1} keeps the focus in the widget (${JSON.stringify(f)})`);
    }
    assert.ok(seen.has('confab-composer') && seen.has('confab-close'),
      `Tab visits the composer and the close button: ${[...seen].join(', ')}`);

    // Every control has a name a screen reader can say.
    const unnamed = await v.evaluate(() => {
      const root = document.getElementById('confab-widget').shadowRoot;
      return [...root.querySelectorAll('button, textarea, input, a[href]')]
        // Shown controls only (a hidden file input is driven by its button).
        .filter((el) => el.getClientRects().length)
        .filter((el) => !(el.getAttribute('aria-label') || el.textContent.trim() || el.getAttribute('title')
          || [...(el.labels ?? [])].some((l) => l.textContent.trim())))
        .map((el) => el.outerHTML.slice(0, 80));
    });
    assert.deepEqual(unnamed, [], 'controls without an accessible name');

    // New messages land in a live region that a screen reader announces.
    const thread = v.locator('.confab-thread');
    assert.equal(await thread.getAttribute('role'), 'log');
    assert.equal(await thread.getAttribute('aria-live'), 'polite');

    // While nobody has answered, the panel offers e-mail notification; a keyboard user is in its field
    // when the advisor's answer takes the offer away: the focus goes to the composer, not the page.
    const email = v.locator('input.confab-email');
    await email.waitFor({ state: 'visible' });
    await email.focus();

    // An advisor answers; the open panel with a conversation passes axe too.
    const advisor = await browser('advisor');
    const a = advisor.page;
    await logIn(a, relay);
    await a.locator('.conv-list .conv-item').filter({ hasText: question }).first().click();
    const answer = unique('Yes, within 30 days, worn or not.');
    await a.locator('textarea.composer').fill(answer);
    await a.locator('button.send').click();
    await waitForText(thread.locator('.confab-msg[data-author="advisor"] .confab-msg-text'), answer,
      'the reply, inside the live region');
    await email.waitFor({ state: 'detached' });
    f = await focused(v);
    assert.equal(f.cls, 'confab-composer', `the focus moves to the composer when the e-mail offer goes (${JSON.stringify(f)})`);
    await assertAccessible(v, 'the open widget with a conversation');

    // Reduced motion: nothing in the widget moves.
    const moving = await v.evaluate(() => {
      const root = document.getElementById('confab-widget').shadowRoot;
      return [...root.querySelectorAll('*')].filter((el) => {
        const s = getComputedStyle(el);
        return s.transitionDuration.split(',').some((d) => parseFloat(d) > 0)
          || (s.animationName !== 'none' && parseFloat(s.animationDuration) > 0);
      }).map((el) => el.getAttribute('class'));
    });
    assert.deepEqual(moving, [], 'elements still animated under prefers-reduced-motion');
    await screenshot(v, 'a11y-open');

    // Escape closes the panel and gives the focus back to the launcher.
    await v.keyboard.press('Escape');
    await v.locator('.confab-panel').waitFor({ state: 'hidden' });
    f = await focused(v);
    assert.equal(f.cls.split(' ')[0], 'confab-launcher', `Escape gives the focus back to the launcher (${JSON.stringify(f)})`);
    assert.equal(await launcher.getAttribute('aria-expanded'), 'false');
  });
});

test('a French browser gets the widget in French', { timeout: 90_000 }, async () => {
  await scene('french', async ({ relay, browser }) => {
    const visitor = await browser('visiteur', { locale: 'fr-FR' });
    const v = visitor.page;
    await v.goto(relay.shopUrl + '/');
    await v.locator('#confab-widget .confab-launcher').click();
    const composer = v.locator('textarea.confab-composer');
    await composer.waitFor({ state: 'visible' });
    assert.equal(await composer.getAttribute('placeholder'), 'Écrivez un message…');
    assert.equal(await composer.getAttribute('aria-label'), 'Message');
    assert.equal(await v.locator('button.confab-send').getAttribute('aria-label'), 'Envoyer');
    assert.equal(await v.locator('.confab-app').getAttribute('lang'), 'fr');
    assert.equal(await v.locator('.confab-close').getAttribute('aria-label'), 'Fermer la discussion');
    // The shop's own words, as it wrote them for French visitors (Settings → Sites).
    await waitForText(v.locator('.confab-greeting'), 'Bonjour ! Une question sur une taille', 'the shop\'s greeting in French');
    await waitForText(v.locator('.confab-presence'), 'répond en général en moins d\'une heure', 'the reply time in French');
    await composer.fill(unique('Bonjour, livrez-vous en Belgique ?'));
    await v.locator('button.confab-send').click();
    // The day separator of today's first message, in French.
    await waitForText(v.locator('.confab-day'), "Aujourd'hui", 'the day separator in French');
    await assertAccessible(v, 'the French widget');
    await screenshot(v, 'french-widget');
    // The site switches the language: the widget's words and the shop's switch with it.
    await v.evaluate(() => Confab('setLocale', 'en'));
    await waitForText(v.locator('.confab-greeting'), 'Hi there! Questions about sizes', 'the shop\'s greeting in English');
    assert.equal(await composer.getAttribute('placeholder'), 'Write a message…');
  });
});

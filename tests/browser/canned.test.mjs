// Issue 5 ("Conversation", "Inbox"): the advisor's tools. The advisor saves a canned reply in
// "Manage replies", types `/` in the composer, picks it with the keyboard and sends it (the
// `{{name}}` in it filled in); the visitor receives it. Then an emoji from the grid, a label on
// the conversation (in the header and on the inbox row, and the label filter), and the search
// box finding the conversation by the visitor's words.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { scene, screenshot, unique, waitForText, logIn } from './harness.mjs';

test('a canned reply via "/", an emoji, a label and search', { timeout: 150_000 }, async () => {
  await scene('canned', async ({ relay, browser }) => {
    const question = unique('Where is my tent order?');
    const shortcut = `ship${Math.random().toString(36).slice(2, 6)}`;
    const label = unique('vip').replace(/[^a-z0-9]+/gi, '-');

    const visitor = await browser('visitor');
    const v = visitor.page;
    await v.goto(relay.shopUrl + '/');
    await v.locator('#confab-widget .confab-launcher').click();
    await v.locator('textarea.confab-composer').fill(question);
    await v.locator('button.confab-send').click();
    await v.locator('.confab-msg[data-author="visitor"][data-state="sent"]').waitFor();

    const advisor = await browser('advisor');
    const a = advisor.page;
    await logIn(a, relay);
    const row = a.locator('.conv-list .conv-item').filter({ hasText: question });
    await row.click();
    const id = await row.getAttribute('data-id');

    // Save a reply in "Manage replies".
    await a.locator('.composer-foot button.canned-manage').click();
    const dialog = a.locator('.modal.manage-replies');
    await dialog.waitFor();
    await dialog.locator('input.canned-form-shortcut').fill(shortcut);
    await dialog.locator('textarea.canned-form-text').fill('Hi {{name}}, your order ships today.');
    await dialog.locator('button.canned-save').click();
    await dialog.locator(`.canned-row[data-shortcut="${shortcut}"]`).waitFor();
    await screenshot(a, 'canned-manage-replies');
    await dialog.locator('button.modal-close').click();
    await dialog.waitFor({ state: 'detached' });

    // "/" and a few letters filter the menu; ↓/↑ move, Enter inserts (the name is unknown: "there").
    const composer = a.locator('textarea.composer');
    await composer.click();
    await composer.pressSequentially('/' + shortcut.slice(0, 5));
    const menu = a.locator('.canned-menu');
    await menu.waitFor();
    const item = menu.locator(`.canned-item[data-shortcut="${shortcut}"]`);
    await item.waitFor();
    assert.equal(await item.getAttribute('aria-selected'), 'true', 'the best match is chosen first');
    await screenshot(a, 'canned-slash-menu');
    await composer.press('Enter');
    await menu.waitFor({ state: 'detached' });
    assert.equal(await composer.inputValue(), 'Hi there, your order ships today.');

    // An emoji at the cursor (the end), then send.
    await a.locator('button.emoji-toggle').click();
    await a.locator('.emoji-grid').waitFor();
    await a.locator('.emoji-grid button.emoji-pick[aria-label="📦"]').click();
    assert.equal(await composer.inputValue(), 'Hi there, your order ships today.📦');
    await composer.press('Enter');
    await waitForText(v.locator('.confab-msg[data-author="advisor"] .confab-msg-text'),
      'Hi there, your order ships today.📦', 'the canned reply in the widget');

    // Esc closes the menu and keeps the text; the next "/" opens it again.
    await composer.fill('');
    await composer.pressSequentially('/zz');
    await a.locator('.canned-menu .canned-none').waitFor();
    await composer.press('Escape');
    await menu.waitFor({ state: 'detached' });
    assert.equal(await composer.inputValue(), '/zz');
    // The mouse works too: a click on an item inserts it.
    await composer.fill('');
    await composer.pressSequentially('/');
    await item.click();
    await menu.waitFor({ state: 'detached' });
    assert.equal(await composer.inputValue(), 'Hi there, your order ships today.');
    await composer.fill('');

    // A label: in the header and on the inbox row; the filter keeps the row.
    await a.locator('.labels-editor button.label-add').click();
    await a.locator('.labels-editor input.label-input').fill(label);
    await a.locator('.labels-editor input.label-input').press('Enter');
    await a.locator(`.thread-head .label-chip[data-label="${label}"]`).waitFor();
    const byId = a.locator(`.conv-list .conv-item[data-id="${id}"]`);
    await byId.locator(`.label-chip[data-label="${label}"]`).waitFor();
    await a.locator('select.label-filter').selectOption(label);
    await byId.waitFor();
    assert.equal(await a.locator('.conv-list:not(.search-results) .conv-item').count(), 1, 'only the labelled conversation');
    await screenshot(a, 'canned-label');
    await a.locator('select.label-filter').selectOption('');

    // Search by the visitor's words: the results replace the list, the match shown; Esc clears.
    const search = a.locator('input.search-input');
    await search.fill(question.split('#')[1]);
    const result = a.locator(`.search-results .conv-item[data-id="${id}"]`);
    await result.waitFor();
    await waitForText(result.locator('.search-snippet'), question, 'the matching message');
    await screenshot(a, 'canned-search');
    await result.click();
    await search.press('Escape');
    await result.waitFor({ state: 'detached' });
    assert.equal(await search.inputValue(), '');
    await byId.waitFor();
  });
});

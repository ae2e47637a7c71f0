// Two tabs of the same shop in one browser are one visitor with one thread: what is written in
// either tab shows up live in the other, and nothing is sent or shown twice — in either tab or in
// the advisor's dashboard. (One socket per tab; the relay's idempotency keys do the rest.)

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { scene, screenshot, unique, waitForText, logIn } from './harness.mjs';

const VISITOR_TEXT = '.confab-msg[data-author="visitor"] .confab-msg-text';

async function send(page, text) {
  await page.locator('textarea.confab-composer').fill(text);
  await page.locator('button.confab-send').click();
}

async function countOf(locator, text) {
  return locator.filter({ hasText: text }).count();
}

test('two tabs of one visitor share the thread live and nothing is doubled', { timeout: 120_000 }, async () => {
  await scene('tabs', async ({ relay, browser }) => {
    const first = unique('Is the Ridgeline 2 freestanding?');
    const second = unique('And what does it weigh?');
    const third = unique('Thanks, ordering now.');

    const visitor = await browser('visitor');
    const tab1 = visitor.page;
    await tab1.goto(relay.shopUrl + '/');
    await tab1.locator('#confab-widget .confab-launcher').click();
    await send(tab1, first);
    await waitForText(tab1.locator(VISITOR_TEXT), first, 'the first message in tab 1');
    await tab1.locator(`.confab-msg[data-author="visitor"][data-state="sent"], .confab-msg[data-author="visitor"][data-state="delivered"], .confab-msg[data-author="visitor"][data-state="read"]`)
      .first().waitFor({ state: 'visible' });

    // A second tab of the same browser: the same visitor, the same thread.
    const tab2 = await visitor.context.newPage();
    await tab2.goto(relay.shopUrl + '/product.html');
    await tab2.locator('#confab-widget .confab-launcher').click();
    await waitForText(tab2.locator(VISITOR_TEXT), first, 'the first message in tab 2');

    // Written in one tab, seen live in the other.
    await send(tab2, second);
    await waitForText(tab1.locator(VISITOR_TEXT), second, "tab 2's message, live in tab 1");
    await send(tab1, third);
    await waitForText(tab2.locator(VISITOR_TEXT), third, "tab 1's message, live in tab 2");
    await screenshot(tab1, 'tabs-tab1');
    await screenshot(tab2, 'tabs-tab2');

    for (const [name, tab] of [['tab 1', tab1], ['tab 2', tab2]]) {
      for (const text of [first, second, third]) {
        assert.equal(await countOf(tab.locator(VISITOR_TEXT), text), 1, `${JSON.stringify(text)} once in ${name}`);
      }
      const texts = await tab.locator(VISITOR_TEXT).allInnerTexts();
      const order = [first, second, third].map((t) => texts.findIndex((x) => x.includes(t)));
      assert.deepEqual([...order].sort((a, b) => a - b), order, `the messages in order in ${name}`);
    }

    // The advisor sees one conversation with each message once.
    const advisor = await browser('advisor');
    const a = advisor.page;
    await logIn(a, relay);
    await waitForText(a.locator('.conv-list .conv-item'), third, 'the conversation in the inbox');
    assert.equal(await countOf(a.locator('.conv-list .conv-item'), third), 1, 'one conversation for both tabs');
    await a.locator('.conv-list .conv-item').filter({ hasText: third }).first().click();
    const thread = a.locator('.thread .msg[data-author="visitor"] .msg-text');
    await waitForText(thread, third, 'the last message in the advisor thread');
    for (const text of [first, second, third]) {
      assert.equal(await countOf(thread, text), 1, `${JSON.stringify(text)} once in the advisor's thread`);
    }
  });
});

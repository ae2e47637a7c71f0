// Reaching customers who left, and the satisfaction survey, end to end: the visitor asks, gives
// their e-mail in the widget's "Get notified by e-mail" card and closes the page; the advisor
// replies; one e-mail reaches a local SMTP sink; its link, opened in a NEW browser that never saw
// the conversation, opens the thread with the reply. The advisor resolves: the widget asks "How
// did we do?", the visitor rates, and the advisor sees the rating in the thread. A browser that
// already holds a conversation of its own is asked before the link replaces it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { scene, screenshot, unique, waitForText, logIn, STEP_MS } from './harness.mjs';

/** A tiny SMTP server that records every message (the relay's e-mails go here). */
async function smtpSink() {
  const mails = [];
  const server = net.createServer((socket) => {
    let buffer = '';
    let data = null;
    let mail = { to: [] };
    socket.write('220 sink.test ESMTP\r\n');
    socket.on('data', (chunk) => {
      buffer += chunk.toString('latin1');
      let i;
      while ((i = buffer.indexOf('\r\n')) >= 0) {
        const line = buffer.slice(0, i);
        buffer = buffer.slice(i + 2);
        if (data !== null) {
          if (line === '.') {
            mails.push({ ...mail, raw: Buffer.from(data, 'latin1').toString('utf8') });
            mail = { to: [] };
            data = null;
            socket.write('250 OK\r\n');
          } else {
            data += (line.startsWith('.') ? line.slice(1) : line) + '\r\n';
          }
          continue;
        }
        const cmd = line.toUpperCase();
        if (cmd.startsWith('EHLO')) socket.write('250-sink.test\r\n250 8BITMIME\r\n');
        else if (cmd.startsWith('MAIL FROM:')) { mail.from = line.slice(10).trim(); socket.write('250 OK\r\n'); }
        else if (cmd.startsWith('RCPT TO:')) { mail.to.push(line.slice(8).trim().replace(/[<>]/g, '')); socket.write('250 OK\r\n'); }
        else if (cmd === 'DATA') { data = ''; socket.write('354 go ahead\r\n'); }
        else if (cmd === 'QUIT') { socket.end('221 bye\r\n'); }
        else socket.write('250 OK\r\n');
      }
    });
    socket.on('error', () => {});
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  return {
    url: `smtp://127.0.0.1:${server.address().port}`,
    mails,
    async waitFor(n) {
      const until = Date.now() + STEP_MS;
      while (mails.length < n) {
        if (Date.now() > until) throw new Error(`the SMTP sink got ${mails.length} mail(s), expected ${n}`);
        await new Promise((ok) => setTimeout(ok, 100));
      }
      return mails;
    },
    close: () => new Promise((ok) => server.close(ok)),
  };
}

/** The text part of a raw message, its quoted-printable or base64 encoding undone. */
function bodyOf(raw) {
  const [head, ...rest] = raw.split('\r\n\r\n');
  const body = rest.join('\r\n\r\n');
  const encoding = /content-transfer-encoding:\s*([\w-]+)/i.exec(head)?.[1]?.toLowerCase();
  if (encoding === 'base64') return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
  if (encoding === 'quoted-printable') {
    const bytes = body.replace(/=\r\n/g, '').replace(/=([0-9A-F]{2})/gi, (_, h) => String.fromCharCode(parseInt(h, 16)));
    return Buffer.from(bytes, 'latin1').toString('utf8');
  }
  return body;
}

test('an e-mail reaches a visitor who left, its link reopens the thread in a new browser, and the survey follows the resolve', { timeout: 180_000 }, async () => {
  const sink = await smtpSink();
  process.env.CONFAB_SMTP_URL = sink.url;
  process.env.CONFAB_MAIL_FROM = 'Demo shop <support@shop.test>';
  process.env.CONFAB_NOTIFY_BATCH_MS = '1000';
  try {
    await scene('reach', async ({ relay, browser }) => {
      const question = unique('Has my order shipped?');
      const reply = unique('Yes, it left this morning.');
      const email = 'ana@customer.test';

      // The visitor asks; nobody answers yet, so the widget offers to write when someone does.
      const visitor = await browser('visitor');
      const v = visitor.page;
      await v.goto(relay.shopUrl + '/');
      await v.locator('#confab-widget .confab-launcher').click();
      await v.locator('textarea.confab-composer').fill(question);
      await v.locator('button.confab-send').click();
      const offer = v.locator('.confab-reach[data-card="offer"] form.confab-notify');
      await offer.waitFor();
      await waitForText(offer.locator('.confab-notify-lead'), 'Get notified by e-mail', 'the e-mail offer');
      // A typo is caught in the widget.
      await offer.locator('input.confab-email').fill('ana@customer');
      await offer.locator('button.confab-notify-send').click();
      await waitForText(offer.locator('.confab-notify-error'), 'valid e-mail', 'the typo');
      await offer.locator('input.confab-email').fill(email);
      await screenshot(v, 'reach-email-offer');
      await offer.locator('button.confab-notify-send').click();
      await waitForText(v.locator('.confab-notify-saved'), email, 'the confirmation');
      await screenshot(v, 'reach-email-saved');

      // The advisor sees the e-mail in the customer panel, and the visitor closing the page.
      const advisor = await browser('advisor');
      const a = advisor.page;
      await logIn(a, relay);
      await waitForText(a.locator('.conv-list .conv-item'), question, 'the conversation in the inbox');
      const id = await a.locator('.conv-list .conv-item').filter({ hasText: question }).getAttribute('data-id');
      const row = a.locator(`.conv-list .conv-item[data-id="${id}"]`);
      await row.click();
      await a.locator('input.customer-email').waitFor();
      assert.equal(await a.locator('input.customer-email').inputValue(), email);
      await v.close();
      await row.and(a.locator('[data-online="false"]')).waitFor();

      // The reply goes out by e-mail, once, with a link back to the page.
      const sent = Date.now();
      await a.locator('textarea.composer').fill(reply);
      await a.locator('button.send').click();
      const [mail] = await sink.waitFor(1);
      console.log(`e-mail received ${Date.now() - sent} ms after the reply (batch window 1000 ms)`);
      assert.deepEqual(mail.to, [email]);
      const text = bodyOf(mail.raw);
      assert.match(text, new RegExp(reply.replace(/[.?*+^$()[\]{}|\\]/g, '\\$&')));
      const link = /(http\S+#confab-resume=[\w-]+)/.exec(text)?.[1];
      assert.ok(link && link.startsWith(relay.shopUrl), `a link to the shop in:\n${text}`);
      await new Promise((ok) => setTimeout(ok, 2000));
      assert.equal(sink.mails.length, 1, 'one e-mail');

      // A browser that holds a conversation of its own is not switched silently: it says whose
      // conversation the link continues, and "Keep mine" keeps its own (the code stays good).
      const other = await browser('other');
      const o = other.page;
      const mine = unique('My own question');
      await o.goto(relay.shopUrl + '/');
      await o.locator('#confab-widget .confab-launcher').click();
      await o.locator('textarea.confab-composer').fill(mine);
      await o.locator('button.confab-send').click();
      await waitForText(o.locator('.confab-msg[data-author="visitor"] .confab-msg-text'), mine, 'its own message');
      // As from the e-mail: a fresh page load (the same URL with a new fragment would not reload).
      await o.goto('about:blank');
      await o.goto(link);
      const choice = o.locator('#confab-widget .confab-resume');
      await choice.waitFor();
      await waitForText(choice.locator('p'), 'a•••@customer.test', 'whose conversation the link continues');
      await screenshot(o, 'reach-resume-choice');
      await choice.locator('button', { hasText: 'Keep mine' }).click();
      await waitForText(o.locator('.confab-msg[data-author="visitor"] .confab-msg-text'), mine, 'its own thread, kept');
      assert.equal(await o.locator('.confab-msg-text', { hasText: reply }).count(), 0, 'not the linked thread');

      // A browser that never saw the conversation opens the link: the thread opens with the reply.
      const reader = await browser('reader');
      const r = reader.page;
      await r.goto(link);
      await waitForText(r.locator('.confab-msg[data-author="advisor"] .confab-msg-text'), reply, 'the reply, in the new browser');
      await waitForText(r.locator('.confab-msg[data-author="visitor"] .confab-msg-text'), question, 'the question, in the new browser');
      assert.ok(!(await r.evaluate(() => location.hash)).includes('confab-resume'), 'the code leaves the address bar');
      await screenshot(r, 'reach-resumed-from-email');

      // The advisor resolves; the widget asks how it went.
      await a.locator('button.resolve').click();
      const survey = r.locator('.confab-reach[data-card="ask"] .confab-survey');
      await survey.waitFor();
      await waitForText(survey.locator('.confab-survey-q'), 'How did we do?', 'the survey');
      assert.equal(await survey.locator('button.confab-rate').count(), 5);
      assert.equal(await survey.locator('button.confab-rate[data-rating="4"]').getAttribute('aria-label'), '4 out of 5');
      // By keyboard: focus the 4, move to the 5 with Tab, choose it with Enter.
      await survey.locator('button.confab-rate[data-rating="4"]').focus();
      await r.keyboard.press('Tab');
      await r.keyboard.press('Enter');
      assert.equal(await survey.locator('button.confab-rate[data-rating="5"]').getAttribute('aria-pressed'), 'true');
      await survey.locator('textarea.confab-survey-comment').fill('Quick and kind');
      await screenshot(r, 'reach-survey');
      await survey.locator('button.confab-survey-send').click();
      await waitForText(r.locator('.confab-survey-thanks'), 'Thanks for your feedback', 'the thanks');
      await screenshot(r, 'reach-survey-thanks');

      // The advisor sees the rating in the conversation.
      await waitForText(a.locator('.thread .msg.note'), '5/5', 'the rating in the thread');
      await waitForText(a.locator('.thread .msg.note'), 'Quick and kind', 'the comment in the thread');
      await screenshot(a, 'reach-advisor-rating');

      // The analytics page counts it: one rating, a 5, so 100 % rated 4–5.
      await a.locator('a.header-link[href="#analytics"]').click();
      const csat = a.locator('.analytics-page .tile[data-metric="csat"]');
      await waitForText(csat, '100 %', 'the CSAT tile');
      await waitForText(csat, '1 rating · average 5.0', 'the CSAT detail');
      await csat.scrollIntoViewIfNeeded();
      await screenshot(a, 'reach-analytics-csat');
    });
  } finally {
    delete process.env.CONFAB_SMTP_URL;
    delete process.env.CONFAB_MAIL_FROM;
    delete process.env.CONFAB_NOTIFY_BATCH_MS;
    await sink.close();
  }
});

// Files both ways: the visitor drops a photo on the panel and picks a PDF with the paperclip; the
// advisor sees both in the thread and sends a photo and a PDF back, which the widget shows inline
// and as a named card (through the relay's short-lived signed links, under the shop's strict CSP).
// A file type the chat doesn't take is refused at once, with the reason in the status line.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { scene, screenshot, unique, waitForText, logIn } from './harness.mjs';

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}
/** A `width`×`height` PNG: a diagonal gradient between two colours, so it is visible in screenshots. */
function png(width, height, [r1, g1, b1], [r2, g2, b2]) {
  const rows = [];
  for (let y = 0; y < height; y++) {
    const row = Buffer.alloc(1 + width * 3);
    for (let x = 0; x < width; x++) {
      const t = (x + y) / (width + height);
      row[1 + x * 3] = r1 + (r2 - r1) * t;
      row[2 + x * 3] = g1 + (g2 - g1) * t;
      row[3 + x * 3] = b1 + (b2 - b1) * t;
    }
    rows.push(row);
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  return Buffer.concat([
    Buffer.from('\x89PNG\r\n\x1a\n', 'binary'),
    chunk('IHDR', ihdr),
    chunk('IDAT', zlib.deflateSync(Buffer.concat(rows))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}
const PDF = Buffer.from('%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n');

/** Whether the `img` under `locator` has loaded its picture. */
async function loaded(locator) {
  await locator.waitFor();
  await locator.evaluate((img) => img.complete && img.naturalWidth > 0 ? null
    : new Promise((ok, fail) => { img.onload = ok; img.onerror = () => fail(new Error(`${img.src} did not load`)); }));
  return locator.evaluate((img) => img.naturalWidth);
}

test('photos and PDFs go both ways, and a refused type is explained at once', { timeout: 180_000 }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'confab-files-'));
  const files = {
    beach: path.join(dir, 'beach.png'),
    receipt: path.join(dir, 'Receipt 1042.pdf'),
    label: path.join(dir, 'return-label.png'),
    invoice: path.join(dir, 'Invoice 1042.pdf'),
    notes: path.join(dir, 'notes.txt'),
  };
  fs.writeFileSync(files.beach, png(240, 160, [14, 165, 233], [250, 204, 21]));
  fs.writeFileSync(files.receipt, PDF);
  fs.writeFileSync(files.label, png(200, 120, [79, 70, 229], [236, 72, 153]));
  fs.writeFileSync(files.invoice, PDF);
  fs.writeFileSync(files.notes, 'not a photo');

  await scene('files', async ({ relay, browser }) => {
    const question = unique('The tent arrived torn, here is a photo');
    const visitor = await browser('visitor');
    const v = visitor.page;
    await v.goto(relay.shopUrl + '/');
    await v.locator('#confab-widget .confab-launcher').click();
    await v.locator('textarea.confab-composer').fill(question);
    await v.locator('button.confab-send').click();
    await v.locator('.confab-msg[data-author="visitor"][data-state="sent"]').waitFor();

    // The paperclip is a labelled button the keyboard reaches.
    const clip = v.locator('button.confab-attach');
    assert.equal(await clip.getAttribute('aria-label'), 'Attach a photo, video or PDF');
    await v.locator('textarea.confab-composer').focus();
    await v.keyboard.press('Shift+Tab');
    assert.ok(await clip.evaluate((b) => b.getRootNode().activeElement === b), 'Shift+Tab from the composer reaches the paperclip');

    // A type the chat doesn't take: refused before any upload, with the reason.
    await v.locator('input.confab-file-input').setInputFiles(files.notes);
    await waitForText(v.locator('.confab-status'), "This file type can't be sent: only photos, videos and PDFs.",
      'the refusal in the status line');
    await screenshot(v, 'files-visitor-refused-type');

    // A photo dropped on the panel, then a PDF through the paperclip.
    const beach = fs.readFileSync(files.beach).toString('base64');
    await v.locator('.confab-app').evaluate((panel, b64) => {
      const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      const dt = new DataTransfer();
      dt.items.add(new File([bytes], 'beach.png', { type: 'image/png' }));
      panel.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
    }, beach);
    const ownPhoto = v.locator('.confab-msg[data-author="visitor"][data-state="sent"] img.confab-file-img');
    assert.equal(await loaded(ownPhoto), 240, 'the visitor sees the photo they sent');
    await v.locator('input.confab-file-input').setInputFiles(files.receipt);
    const ownPdf = v.locator('.confab-msg[data-author="visitor"][data-state="sent"] a.confab-file');
    await waitForText(ownPdf.locator('.confab-file-name'), 'Receipt 1042.pdf', "the visitor's PDF card");

    // The advisor sees the photo inline and the PDF as a file.
    const advisor = await browser('advisor');
    const a = advisor.page;
    await logIn(a, relay);
    await a.locator('.conv-list .conv-item').filter({ hasText: 'Receipt 1042.pdf' }).or(
      a.locator('.conv-list .conv-item').filter({ hasText: 'Document' })).first().click();
    const theirPhoto = a.locator('.thread .msg[data-author="visitor"] .msg-attachment[data-kind="image"][data-state="ready"] img');
    assert.equal(await loaded(theirPhoto), 240, 'the advisor sees the photo');
    await waitForText(a.locator('.thread .msg[data-author="visitor"] .msg-attachment[data-kind="document"] .msg-file-name'),
      'Receipt 1042.pdf', "the visitor's PDF in the dashboard");

    // The advisor sends a photo and a PDF back with the paperclip, progress shown on the way.
    await a.locator('input.attach-input').setInputFiles([files.label, files.invoice]);
    const sentPdf = a.locator('.thread .msg.own .msg-attachment[data-kind="document"] .msg-file-name');
    await waitForText(sentPdf, 'Invoice 1042.pdf', "the advisor's own PDF");
    await a.locator('.thread .msg.own[data-state="sent"], .thread .msg.own[data-state="delivered"], .thread .msg.own[data-state="read"]')
      .filter({ has: a.locator('.msg-attachment[data-kind="document"]') }).first().waitFor();
    await screenshot(a, 'files-advisor-thread');

    // The widget shows the photo inline and the PDF as a card that opens it.
    const reply = v.locator('.confab-msg[data-author="advisor"] img.confab-file-img');
    assert.equal(await loaded(reply), 200, "the advisor's photo in the widget");
    const card = v.locator('.confab-msg[data-author="advisor"] a.confab-file');
    await waitForText(card.locator('.confab-file-name'), 'Invoice 1042.pdf', 'the PDF card');
    await waitForText(card.locator('.confab-file-size'), 'B', 'the size on the card');
    const href = await card.getAttribute('href');
    assert.ok(href.startsWith(relay.relayUrl + '/files/') && href.includes('sig='), `a signed link: ${href}`);
    const pdf = await v.request.get(href);
    assert.equal(pdf.status(), 200);
    assert.equal(pdf.headers()['content-type'], 'application/pdf');
    assert.equal(pdf.headers()['x-content-type-options'], 'nosniff');
    assert.match(pdf.headers()['content-disposition'], /^attachment; filename="Invoice 1042.pdf"/);
    assert.deepEqual(Buffer.from(await pdf.body()), PDF);
    await card.scrollIntoViewIfNeeded();
    await screenshot(v, 'files-visitor-thread');
  });
  fs.rmSync(dir, { recursive: true, force: true });
});

// A Node `ws` relay that speaks Confab's frames and stores nothing: what `confab-bench --against node`
// loads. It does what the minimal relay in `../src/baseline.rs` does, no more:
//
// - `POST /api/v1/auth/login` answers the bench advisor and a session cookie (the body isn't read);
// - `/ws/visitor?site=…`: `hello` → `welcome` (a new conversation each time), `send` → `ack` at once and
//   the message fanned out to every greeted advisor socket as a `message` frame;
// - `/ws/advisor`: `hello` → `welcome`, then every message; a socket whose queue holds 256 unwritten
//   messages is closed with 1013, as the relay's hub does with a dashboard too slow to keep up;
// - frames are checked as `shared::decode_frame` checks them (16 KiB, JSON object, string `type`, known
//   type, field types), and errors answered with the same codes and, for the common cases, serde's words.
//
// The frames are the same bytes the minimal relay writes (`welcome` with sorted keys, as serde_json's
// `json!` writes it), so the two can be compared frame for frame. Only the `ws` package and Node's
// built-ins. Listens on 127.0.0.1 (any loopback address with --listen) and prints its address.
//
//   node relay.mjs [--listen 127.0.0.1:0]

import http from 'node:http';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { WebSocket, WebSocketServer } = require('ws');

const PROTOCOL_VERSION = 1;
const SITE = 'bench';
const ADVISOR = { id: 1, name: 'Bench', email: 'bench@bench.test' };
/** `shared::limits::MAX_FRAME_BYTES`: larger frames get `frame_too_large`, the socket lives on. */
const MAX_FRAME_BYTES = 16 * 1024;
/** The relay's WebSocket limit (`relay/src/ws/mod.rs`): a larger message closes the socket. */
const HARD_FRAME_LIMIT = 1 << 20;
/** `shared::limits::MAX_CLIENT_ID_LEN`. */
const MAX_CLIENT_ID_LEN = 64;
/** An advisor socket's queue, as the relay's hub (and baseline.rs) bound it. */
const QUEUE = 256;
/** Messages the relay sends itself before it reports its address (see `warmUp`). */
const WARM_UP_MESSAGES = 20_000;

// ---- command line ------------------------------------------------------------------------------

function options(argv) {
  let listen = '127.0.0.1:0';
  let warmUp = true;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--listen' && i + 1 < argv.length) listen = argv[++i];
    else if (argv[i].startsWith('--listen=')) listen = argv[i].slice('--listen='.length);
    else if (argv[i] === '--no-warmup') warmUp = false;
    else fail(`unknown argument ${argv[i]} (usage: node relay.mjs [--listen 127.0.0.1:0] [--no-warmup])`);
  }
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(listen);
  if (!m) fail(`--listen ${listen}: expected HOST:PORT`);
  const host = m[1] ?? m[2];
  // A relay without authentication: never reachable from outside this machine.
  if (!/^127\.\d+\.\d+\.\d+$/.test(host) && host !== '::1') fail(`--listen ${listen}: only loopback addresses`);
  return { host, port: Number(m[3]), warmUp };
}

function fail(message) {
  console.error(`error: ${message}`);
  process.exit(1);
}

// ---- frames (the shapes `shared` encodes; see baseline.rs) ------------------------------------------

/** An `error` frame: `ErrorFrame` flattened into the tagged enum, `ref` only when known. */
function errorFrame(code, message, ref) {
  return JSON.stringify(ref == null ? { type: 'error', code, message } : { type: 'error', code, message, ref });
}

function welcomeFrame(conversation) {
  // serde_json's `json!` map is sorted by key, and so is this object's literal order.
  return JSON.stringify({
    conversation,
    last_seq: 0,
    read_seq: 0,
    site: { color: '', greeting: '', key: SITE, name: 'Bench', reply_time: '' },
    token: `baseline-${conversation}`,
    type: 'welcome',
    v: PROTOCOL_VERSION,
  });
}

const ADVISOR_WELCOME = JSON.stringify({ type: 'welcome', v: PROTOCOL_VERSION, advisor: ADVISOR, conversations: [], admin: false, teams: [], roster: [] });

function messageFrame(id, conversation, seq, text, sentAt) {
  return JSON.stringify({ type: 'message', message: { id, conversation, seq, author: { kind: 'visitor' }, channel: 'web', text, sent_at: sentAt } });
}

// ---- decoding, as `shared::decode_frame` does --------------------------------------------------

// Field types of the frames a visitor and an advisor may send (`shared/src/frames`), for the same
// `invalid_frame` answers serde gives: `required` fields must be there, the others may be missing.
const u = (bits) => ({ kind: `u${bits}`, max: 2 ** bits - 1 });
const U8 = u(8), U32 = u(32), U64 = u(64);
const STRING = { kind: 'string' }, BOOL = { kind: 'bool' };
const opt = (type) => ({ ...type, optional: true });
const seq = (type) => ({ kind: 'seq', of: type });

const VISITOR_FRAMES = {
  hello: { v: [U32, true], token: [opt(STRING)], last_seq: [U64], page: [opt(STRING)], referrer: [opt(STRING)], timezone: [opt(STRING)], locale: [opt(STRING)] },
  send: { id: [STRING, true], text: [STRING, true], attachments: [seq(STRING)] },
  read: { up_to: [U64, true] },
  typing: { on: [BOOL, true] },
  identify: { user_id: [STRING, true], user_hash: [opt(STRING)], name: [opt(STRING)], email: [opt(STRING)] },
  handoff: {},
  set_email: { email: [STRING, true] },
  rate: { rating: [U8, true], comment: [opt(STRING)] },
  push_subscribe: { endpoint: [STRING, true], p256dh: [STRING, true], auth: [STRING, true] },
};

// The advisor socket answers a good `hello` and ignores every other frame (as baseline.rs does), so
// whether a frame is one is all that matters there.
const ADVISOR_HELLO = { hello: { v: [U32, true] } };

/** How serde names a JSON value it didn't expect. */
function unexpected(value) {
  if (value === null) return 'null';
  if (typeof value === 'boolean') return `boolean \`${value}\``;
  if (typeof value === 'string') return `string ${JSON.stringify(value)}`;
  if (typeof value === 'number') return Number.isInteger(value) ? `integer \`${value}\`` : `floating point \`${value}\``;
  return Array.isArray(value) ? 'sequence' : 'map';
}

/** Why `value` is not of `type`, in serde's words, or null. */
function typeError(value, type) {
  if (type.optional && value === null) return null;
  switch (type.kind) {
    case 'string':
      return typeof value === 'string' ? null : `invalid type: ${unexpected(value)}, expected a string`;
    case 'bool':
      return typeof value === 'boolean' ? null : `invalid type: ${unexpected(value)}, expected a boolean`;
    case 'seq':
      if (!Array.isArray(value)) return `invalid type: ${unexpected(value)}, expected a sequence`;
      for (const item of value) {
        const e = typeError(item, type.of);
        if (e) return e;
      }
      return null;
    default: // unsigned integers
      if (typeof value !== 'number' || !Number.isInteger(value)) return `invalid type: ${unexpected(value)}, expected ${type.kind}`;
      return value < 0 || value > type.max ? `invalid value: ${unexpected(value)}, expected ${type.kind}` : null;
  }
}

/** A string JSON.parse accepts but serde_json refuses: a lone surrogate written as `\ud800`. */
function hasLoneSurrogate(value) {
  if (typeof value === 'string') return !value.isWellFormed();
  if (value === null || typeof value !== 'object') return false;
  return Object.entries(value).some(([k, v]) => !k.isWellFormed() || hasLoneSurrogate(v));
}

/**
 * `{ frame }` for a frame of a known type with good fields, else `{ error: [code, message, ref] }`,
 * checked in decode_frame's order: too large, not a JSON object with a string `type`, unknown type,
 * bad fields.
 */
function decode(data, frames) {
  if (data.length > MAX_FRAME_BYTES) {
    return { error: ['frame_too_large', `frame is ${data.length} bytes; the limit is ${MAX_FRAME_BYTES} bytes`] };
  }
  const text = data.toString();
  let value;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return { error: ['malformed_frame', `frame is not valid JSON (${e.message})`] };
  }
  if (/\\u[dD][89a-fA-F]/.test(text) && hasLoneSurrogate(value)) {
    return { error: ['malformed_frame', 'frame is not valid JSON (lone surrogate)'] };
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return { error: ['malformed_frame', 'frame must be a JSON object'] };
  }
  const ref = typeof value.id === 'string' ? value.id : typeof value.ref === 'string' ? value.ref : undefined;
  const kind = value.type;
  if (typeof kind !== 'string') return { error: ['malformed_frame', 'frame must have a string field "type"', ref] };
  const fields = Object.hasOwn(frames, kind) ? frames[kind] : undefined;
  if (!fields) return { error: ['unknown_frame_type', `unknown frame type ${JSON.stringify(kind)}`, ref] };
  // serde sees the fields in key order (serde_json's map is sorted), then reports the first missing one.
  for (const name of Object.keys(fields).sort()) {
    if (Object.hasOwn(value, name)) {
      const e = typeError(value[name], fields[name][0]);
      if (e) return { error: ['invalid_frame', `invalid ${JSON.stringify(kind)} frame: ${e}`, ref] };
    }
  }
  for (const [name, [, required]] of Object.entries(fields)) {
    if (required && !Object.hasOwn(value, name)) {
      return { error: ['invalid_frame', `invalid ${JSON.stringify(kind)} frame: missing field \`${name}\``, ref] };
    }
  }
  return { frame: value };
}

/** `ClientMsgId::is_valid`: 1..=64 printable ASCII characters, no spaces. */
const validId = (id) => id.length >= 1 && id.length <= MAX_CLIENT_ID_LEN && /^[\x21-\x7e]+$/.test(id);
/** `str::trim`: Unicode White_Space at both ends (not U+FEFF, which JavaScript's trim also strips). */
const trim = (s) => s.replace(/^\p{White_Space}+|\p{White_Space}+$/gu, '');

// ---- sockets -----------------------------------------------------------------------------------

/** Greeted advisor sockets, each with the count of messages handed to it and not yet written. */
const advisors = new Set();
let nextConversation = 0;

function visitorSession(ws) {
  let conversation = null;
  let seq = 0;
  let unwritten = 0;
  // baseline.rs writes each answer before it reads the next frame: a visitor that doesn't read its
  // acks stops being read, instead of piling them up here.
  const answer = (frame) => {
    unwritten++;
    ws.send(frame, () => {
      if (--unwritten === 0 && ws.isPaused) ws.resume();
    });
    if (unwritten > 0 && ws.bufferedAmount > 0) ws.pause();
  };
  ws.on('message', (data, isBinary) => {
    if (isBinary) return;
    const { frame, error } = decode(data, VISITOR_FRAMES);
    if (error) return answer(errorFrame(...error));
    if (frame.type === 'hello') {
      if (conversation !== null) return;
      conversation = ++nextConversation;
      return answer(welcomeFrame(conversation));
    }
    if (conversation === null) return answer(errorFrame('hello_required', 'send hello first'));
    if (frame.type !== 'send') return;
    const text = trim(frame.text);
    if (text === '' || !validId(frame.id)) return answer(errorFrame('invalid_frame', 'empty text or bad id', frame.id));
    seq++;
    const sentAt = Date.now();
    fanOut(messageFrame(frame.id, conversation, seq, text, sentAt));
    answer(JSON.stringify({ type: 'ack', id: frame.id, seq, sent_at: sentAt }));
  });
  ws.on('error', () => {});
}

function fanOut(frame) {
  for (const advisor of advisors) {
    // The hub's queue is full: drop the socket (the dashboard reconnects and resumes).
    if (advisor.unwritten >= QUEUE) {
      advisors.delete(advisor);
      advisor.ws.close(1013, 'too slow; reconnect and resume');
      continue;
    }
    advisor.unwritten++;
    advisor.ws.send(frame, advisor.written);
  }
}

function advisorSession(ws) {
  const me = { ws, unwritten: 0, written: () => me.unwritten-- };
  let greeted = false;
  ws.on('message', (data, isBinary) => {
    if (isBinary || greeted) return;
    const { frame } = decode(data, ADVISOR_HELLO);
    if (frame?.type !== 'hello') return;
    greeted = true;
    advisors.add(me);
    ws.send(ADVISOR_WELCOME);
  });
  ws.on('close', () => advisors.delete(me));
  ws.on('error', () => {});
}

// ---- HTTP --------------------------------------------------------------------------------------

const ROUTES = { '/ws/visitor': 'GET', '/ws/advisor': 'GET', '/api/v1/auth/login': 'POST' };
const LOGIN_BODY = JSON.stringify(ADVISOR);

/** The answer to a request that is not a WebSocket upgrade, as axum's router and handlers give it. */
function answerRequest(req) {
  const path = req.url.split('?')[0];
  const method = ROUTES[path];
  // No route: 404; a route without this method: 405 with `allow`; both with empty bodies.
  if (!method) return { status: 404, headers: {}, body: '' };
  if (req.method !== method && !(method === 'GET' && req.method === 'HEAD')) {
    return { status: 405, headers: { allow: method === 'GET' ? 'GET,HEAD' : 'POST' }, body: '' };
  }
  if (method === 'POST') {
    const cookie = 'confab_session=baseline; HttpOnly; SameSite=Strict; Path=/';
    return { status: 200, headers: { 'content-type': 'application/json', 'set-cookie': cookie }, body: LOGIN_BODY };
  }
  return upgradeRefusal(req) ?? plain(426, "WebSocket request couldn't be upgraded since no upgrade state was present");
}

/** What axum's `WebSocketUpgrade` extractor refuses, in its order and words; null if nothing. */
function upgradeRefusal(req) {
  const has = (name, word) => (req.headers[name] ?? '').toLowerCase().split(',').some((t) => t.trim() === word);
  if (req.method !== 'GET') return plain(405, 'Request method must be `GET`');
  if (!has('connection', 'upgrade')) return plain(400, "Connection header did not include 'upgrade'");
  if (!has('upgrade', 'websocket')) return plain(400, "`Upgrade` header did not include 'websocket'");
  if (req.headers['sec-websocket-version'] !== '13') return plain(400, "`Sec-WebSocket-Version` header did not include '13'");
  if (!req.headers['sec-websocket-key']) return plain(400, '`Sec-WebSocket-Key` header missing');
  return null;
}

const plain = (status, body) => ({ status, headers: { 'content-type': 'text/plain; charset=utf-8' }, body });

const server = http.createServer((req, res) => {
  // The minimal relay reads no body; drain it so the connection can carry the next request.
  req.resume();
  const { status, headers, body } = answerRequest(req);
  res.writeHead(status, { ...headers, 'content-length': Buffer.byteLength(body) });
  res.end(body);
});

const wss = new WebSocketServer({ noServer: true, maxPayload: HARD_FRAME_LIMIT, perMessageDeflate: false, clientTracking: false });

server.on('upgrade', (req, socket, head) => {
  socket.on('error', () => {});
  const path = req.url.split('?')[0];
  const session = { '/ws/visitor': visitorSession, '/ws/advisor': advisorSession }[path];
  const refused = session && req.method === 'GET' ? upgradeRefusal(req) : answerRequest(req);
  if (refused) {
    const { status, headers, body } = refused;
    const lines = Object.entries({ ...headers, 'content-length': Buffer.byteLength(body), connection: 'close' }).map(([k, v]) => `${k}: ${v}\r\n`);
    socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\n${lines.join('')}\r\n${body}`);
    return;
  }
  wss.handleUpgrade(req, socket, head, session);
});

/**
 * Send the relay's own visitor → advisor path WARM_UP_MESSAGES messages over loopback, and forget
 * them. A Node process that has run a while has its hot functions compiled; a fresh one spends its
 * first second of load compiling them, with 100 ms stalls of the event loop (measured: ack p99 0.1–0.3 s
 * at 3,000 msg/s against 3 ms once warm). The bench starts a fresh relay for every run, so without
 * this it would measure V8's warm-up rather than the relay. The Rust relays need none.
 */
async function warmUp(origin) {
  const open = (path) =>
    new Promise((ok, fail) => {
      const ws = new WebSocket(`${origin}${path}`, { perMessageDeflate: false });
      ws.once('open', () => ok(ws));
      ws.once('error', fail);
    });
  const dashboards = await Promise.all([1, 2].map(() => open('/ws/advisor')));
  for (const a of dashboards) a.send('{"type":"hello","v":1}');
  const visitors = await Promise.all(Array.from({ length: 8 }, () => open('/ws/visitor?site=bench')));
  const perVisitor = WARM_UP_MESSAGES / visitors.length;
  await Promise.all(
    visitors.map(
      (ws, v) =>
        new Promise((done) => {
          let sent = 0;
          // A window of 32 unacked messages per visitor: load, not a flood.
          const next = () => {
            if (sent < perVisitor) ws.send(`{"type":"send","id":"w${v}.${sent++}","text":"warm-up message ${sent}"}`);
          };
          ws.on('message', (data) => {
            const text = data.toString();
            if (text.startsWith('{"type":"ack"') && text.includes(`"id":"w${v}.${perVisitor - 1}"`)) done();
            else if (text.startsWith('{"type":"ack"')) next();
          });
          ws.send('{"type":"hello","v":1}');
          for (let i = 0; i < 32; i++) next();
        }),
    ),
  );
  await Promise.all([...visitors, ...dashboards].map((ws) => new Promise((closed) => (ws.once('close', closed), ws.close()))));
  // The relay's side of the sockets closes a moment after the client's.
  while (advisors.size > 0) await new Promise((r) => setTimeout(r, 5));
  nextConversation = 0;
}

const { host, port, warmUp: warm } = options(process.argv.slice(2));
server.on('error', (e) => fail(`${host}:${port}: ${e.message}`));
server.listen({ host, port }, async () => {
  const { address, port } = server.address();
  const shown = address.includes(':') ? `[${address}]` : address;
  if (warm) await warmUp(`ws://${shown}:${port}`);
  console.log(`relay listening on http://${shown}:${port}`);
});

// The bench stops its relays with SIGTERM.
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => process.exit(0));

// Runs the same script of requests and frames against the minimal relay (`confab-bench
// baseline-server`) and against relay.mjs, and prints where their answers differ. Exits 1 if they
// differ in more than the known ways: Node's keep-alive headers, JSON.parse's wording of a syntax
// error, and Node answering a client's close frame (1005 at the client) where the minimal relay drops
// the connection (1006).
//
//   cargo build --release -p confab-bench && node tests/bench/node/compare.mjs [path/to/confab-bench]

import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const WebSocket = require('ws');
const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const bench = process.argv[2] ?? here('../../../target/release/confab-bench');
const pause = (ms) => new Promise((r) => setTimeout(r, ms));

async function start(cmd, args) {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const addr = await new Promise((ok, fail) => {
    child.on('error', fail);
    child.stdout.on('data', (d) => {
      const m = /relay listening on http:\/\/(\S+)/.exec(d.toString());
      if (m) ok(m[1]);
    });
    setTimeout(() => fail(new Error(`${cmd} did not print its address`)), 10_000);
  });
  return { addr, stop: () => child.kill('SIGTERM') };
}

/** Every answer of the relay at `addr` to a fixed script, one line each. */
async function transcript(addr) {
  const out = [];
  const sentAt = (s) => s.replace(/"sent_at":\d+/g, '"sent_at":T');
  const request = async (method, path, body) => {
    const r = await fetch(`http://${addr}${path}`, { method, body, headers: body ? { 'content-type': 'application/json' } : {} });
    const headers = [...r.headers].filter(([k]) => k !== 'date').map(([k, v]) => `${k}: ${v}`).join(' | ');
    out.push(`${method} ${path} -> ${r.status} [${headers}] ${await r.text()}`);
  };
  const open = (path, headers = {}) =>
    new Promise((ok, fail) => {
      const ws = new WebSocket(`ws://${addr}${path}`, { headers });
      ws.frames = [];
      ws.on('message', (d, binary) => ws.frames.push(binary ? `binary ${d.length}` : sentAt(d.toString())));
      ws.on('close', (code, reason) => ws.frames.push(`close ${code} ${reason}`));
      ws.on('open', () => ok(ws));
      ws.on('error', fail);
    });

  await request('POST', '/api/v1/auth/login', JSON.stringify({ email: 'bench@bench.test', password: 'bench-password-1' }));
  await request('POST', '/api/v1/auth/login', 'not json');
  await request('GET', '/api/v1/auth/login');
  await request('GET', '/nowhere');
  await request('GET', '/ws/visitor?site=bench');
  await request('POST', '/ws/advisor');

  const advisor = await open('/ws/advisor', { origin: `http://${addr}` });
  for (const f of ['{"type":"typing","conversation":1,"on":true}', 'nonsense', '{"type":"hello"}', '{"type":"hello","v":1}', '{"type":"hello","v":1}']) {
    advisor.send(f);
  }
  const visitor = await open('/ws/visitor?site=bench', { origin: 'http://bench.test' });
  const frames = [
    '{"type":"send","id":"a","text":"before hello"}', '{not json', '[1]', '{"text":"x"}', '{"type":3}', '{"type":"dance","ref":"r1"}',
    '{"type":"send","id":"m1"}', '{"type":"hello"}', '{"type":"read","up_to":"x"}', '{"type":"typing","on":true}', 'x'.repeat(17_000),
    '{"type":"hello","v":1,"token":"t"}', '{"type":"hello","v":1}', '{"type":"send","id":"a b","text":"bad id"}',
    '{"type":"send","id":"e","text":" \\t "}', '{"type":"send","id":"m2","text":"  hi there  "}', '{"type":"send","id":"m3","text":"x","attachments":[]}',
    '{"type":"send","id":"m4","text":"x","attachments":[1]}', '{"type":"read","up_to":-1}', '{"type":"read","up_to":1.5}', '{"type":"rate","rating":300}',
    '{"type":"handoff","x":1}', '{"type":"hello","v":-1}', `{"type":"send","id":"${'i'.repeat(65)}","text":"long id"}`,
    '{"type":"send","id":"m5","text":"é\\u0000\\n"}', '{"type":"send","id":null,"text":"x"}', '{"type":"send","id":"m6","text":"a","text":"last wins"}',
    '{"type":"identify","user_id":7}', '{"type":"set_email"}', '{"type":"push_subscribe","endpoint":"e","p256dh":"k"}',
  ];
  for (const f of frames) {
    visitor.send(f);
    await pause(10);
  }
  visitor.send(Buffer.from('binary frames are ignored'));
  const second = await open('/ws/visitor?site=other');
  second.send('{"type":"hello","v":1}');
  second.send('{"type":"send","id":"z","text":"from another visitor"}');
  await pause(300);
  for (const ws of [visitor, second, advisor]) ws.close();
  await pause(200);
  out.push('--- visitor', ...visitor.frames, '--- second visitor', ...second.frames, '--- advisor', ...advisor.frames);
  return out;
}

const KNOWN = [
  (line) => line.replace(/ \| keep-alive: timeout=\d+|connection: keep-alive \| /g, ''),
  (line) => line.replace(/frame is not valid JSON \(.*\)/, 'frame is not valid JSON (…)'),
  (line) => line.replace(/^close 100[56] $/, 'close (connection ended)'),
];
const known = (line) => KNOWN.reduce((l, f) => f(l), line);

const minimal = await start(bench, ['baseline-server', '--listen', '127.0.0.1:0']);
const node = await start(process.execPath, [here('relay.mjs'), '--listen', '127.0.0.1:0']);
try {
  const [a, b] = [await transcript(minimal.addr), await transcript(node.addr)];
  let unexplained = 0;
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (a[i] === b[i]) continue;
    const explained = a[i] !== undefined && b[i] !== undefined && known(a[i]) === known(b[i]);
    if (!explained) unexplained++;
    console.log(`${explained ? 'known' : 'DIFFERENT'}\n  minimal: ${a[i]}\n  node:    ${b[i]}`);
  }
  console.log(`${a.length} answers compared; ${unexplained} differ in an unexplained way`);
  process.exitCode = unexplained === 0 ? 0 : 1;
} finally {
  minimal.stop();
  node.stop();
}

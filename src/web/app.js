// lanchat's page: an IRC client over the server's WebSocket at /irc
// (docs/PROTOCOL.md), with the shared canvas. No framework, nothing
// loaded from elsewhere: it has to work on a LAN without internet.
'use strict';
const $ = id => document.getElementById(id);

// As the desktop client: src/gui/mod.rs (COLOURS), src/emoticon.rs, src/gui/chatlog.rs.
const COLOURS = [['Black', '000000'], ['Red', 'e02020'], ['Green', '20a040'], ['Blue', '2050e0'],
  ['Orange', 'ff8800'], ['Purple', '8030c0'], ['Brown', '8b5a2b'], ['Eraser', 'ffffff']];
const EMOTICONS = [[":'(", '😢'], [':-)', '🙂'], [':-(', '🙁'], [':-D', '😀'], [';-)', '😉'], [':-P', '😛'],
  [':-p', '😛'], [':-O', '😮'], [':-o', '😮'], [':-|', '😐'], [':-*', '😘'], ['</3', '💔'], ['<3', '❤️'],
  ['B-)', '😎'], ['8-)', '😎'], ['xD', '😆'], ['XD', '😆'], [':)', '🙂'], [':(', '🙁'], [':D', '😀'],
  [';)', '😉'], [':P', '😛'], [':p', '😛'], [':O', '😮'], [':o', '😮'], [':|', '😐'], [':*', '😘'], ['^^', '😊']];
const PICKER = ['🙂', '😀', '😆', '😉', '😊', '😎', '😛', '😮', '😐', '🙁', '😢', '😘', '❤️', '💔', '👍', '👎',
  '👋', '🙏', '🎉', '🔥', '✅', '❌', '☕', '🍕'];
const NICK_COLOURS = ['c0392b', '2468a8', '1e8449', '8e44ad', 'c0580a', '117a65', '9a7d0a', '6c3483', '2e86c1',
  'a04000', '239b56', 'b03a6e'];
const W = 1600, H = 1000, PAPER = 'ffffff', CAPS = ['server-time', 'message-tags', 'batch', 'echo-message', 'multi-prefix'];

const params = new URLSearchParams(location.search);
let ws = null, me = '', nick = '', registered = false, backoff = 1000, caps = new Set();
// `board`: the channel whose canvas shows (the last channel looked at, also while in a private chat).
let colour = COLOURS[0][1], brush = 6, current = null, board = null;
const views = new Map();   // lower-cased name -> view
const logBox = $('log'), input = $('input'), cv = $('canvas'), ctx = cv.getContext('2d');

const isChan = t => /^[#&]/.test(t);
const lc = s => s.toLowerCase();
const endsWord = c => c === undefined || /[\s,.!?;]/.test(c);

// Text emoticons standing as words become emoji (src/emoticon.rs).
function emojify(t) {
  let out = '', i = 0, prev = ' ';
  while (i < t.length) {
    if (/\s/.test(prev)) {
      const e = EMOTICONS.find(([f]) => t.startsWith(f, i) && endsWord(t[i + f.length]));
      if (e) { out += e[1]; i += e[0].length; prev = e[0].slice(-1); continue; }
    }
    prev = t[i]; out += t[i++];
  }
  return out;
}

function nickColour(n) {
  let h = 0;
  for (const c of lc(n)) h = (h * 31 + c.codePointAt(0)) >>> 0;
  return '#' + NICK_COLOURS[h % NICK_COLOURS.length];
}

// --- IRC lines ---
function unescapeTag(v) {
  return v.replace(/\\(.?)/g, (_, c) => ({ ':': ';', s: ' ', r: '\r', n: '\n' })[c] ?? c);
}

function parse(line) {
  const m = { tags: {}, src: '', nick: '', cmd: '', params: [] };
  if (line[0] === '@') {
    const sp = line.indexOf(' ');
    for (const t of line.slice(1, sp).split(';')) {
      const eq = t.indexOf('=');
      if (eq < 0) m.tags[t] = ''; else m.tags[t.slice(0, eq)] = unescapeTag(t.slice(eq + 1));
    }
    line = line.slice(sp + 1).trimStart();
  }
  if (line[0] === ':') {
    const sp = line.indexOf(' ');
    m.src = line.slice(1, sp); m.nick = m.src.split('!')[0];
    line = line.slice(sp + 1).trimStart();
  }
  const trail = line.indexOf(' :');
  const ps = (trail < 0 ? line : line.slice(0, trail)).split(' ').filter(Boolean);
  if (trail >= 0) ps.push(line.slice(trail + 2));
  m.cmd = (ps.shift() || '').toUpperCase(); m.params = ps;
  return m;
}

function send(line) {
  // One line per message: text from a link or a paste never smuggles a second command.
  if (ws && ws.readyState === 1 && !/[\r\n\0]/.test(line)) ws.send(line);
}

// --- views: channels and private conversations ---
function view(name, select) {
  const key = lc(name);
  let v = views.get(key);
  if (!v) {
    v = { name, key, chan: isChan(name), users: new Map(), log: document.createElement('div'), unread: 0,
      base: null, segs: [], mine: [], snap: '', gen: 0, replaying: false };
    v.log.hidden = true;
    logBox.append(v.log);
    views.set(key, v);
    if (v.chan) resetCanvas(v);
  }
  if (select || !current) show(v);
  renderTabs();
  return v;
}

function show(v) {
  if (current) current.log.hidden = true;
  current = v; v.unread = 0; v.log.hidden = false;
  if (v.chan) board = v;
  logBox.scrollTop = logBox.scrollHeight;
  renderTabs(); renderUsers(); redraw();
}

function renderTabs() {
  const tabs = $('tabs');
  tabs.textContent = '';
  // Channels, then private chats, then the server's notices.
  const order = v => v.chan ? 0 : v.key === '*server*' ? 2 : 1;
  for (const v of [...views.values()].sort((x, y) => order(x) - order(y))) {
    const b = document.createElement('button');
    b.textContent = v.name + (v.unread ? ` (${v.unread})` : '');
    b.className = (v === current ? 'on' : '') + (v.unread ? ' unread' : '');
    b.onclick = () => { show(v); input.focus(); };
    tabs.append(b);
  }
}

const RANK = { '~': 0, '&': 1, '@': 2, '%': 3, '+': 4, '': 5 };
function renderUsers() {
  const ul = $('userlist');
  ul.textContent = '';
  if (!current || !current.chan) return;
  const list = [...current.users].sort(([a, p], [b, q]) => (RANK[p[0] || ''] - RANK[q[0] || '']) || lc(a).localeCompare(lc(b)));
  for (const [n, p] of list) {
    const li = document.createElement('li');
    li.textContent = (p[0] || '') + n;
    li.style.color = nickColour(n);
    li.onclick = e => userMenu(n, e);
    ul.append(li);
  }
  $('users').querySelector('h2').textContent = `People (${list.length})`;
}

function myPrefix(v) { return (v && v.users.get(me)) || ''; }

// Moderation is plain IRC: the server decides who may.
function userMenu(n, e) {
  const menu = $('menu'), v = current;
  menu.textContent = '';
  const item = (label, f) => {
    const b = document.createElement('button');
    b.textContent = label;
    b.onclick = () => { menu.hidden = true; f(); input.focus(); };
    menu.append(b);
  };
  const title = document.createElement('b');
  title.textContent = n;
  menu.append(title);
  item('Message', () => show(view(n, true)));
  if (/[~&@%]/.test(myPrefix(v)) && n !== me) {
    const p = v.users.get(n) || '';
    item(p.includes('@') ? 'Take op' : 'Make op', () => send(`MODE ${v.name} ${p.includes('@') ? '-o' : '+o'} ${n}`));
    item(p.includes('+') ? 'Mute (take voice)' : 'Give voice', () => send(`MODE ${v.name} ${p.includes('+') ? '-v' : '+v'} ${n}`));
    item('Kick', () => send(`KICK ${v.name} ${n} :Kicked by ${me}`));
    item('Ban', () => { send(`MODE ${v.name} +b ${n}!*@*`); send(`KICK ${v.name} ${n} :Banned by ${me}`); });
  }
  menu.style.left = Math.min(e.clientX, innerWidth - 160) + 'px';
  menu.style.top = Math.min(e.clientY, innerHeight - 200) + 'px';
  menu.hidden = false;
  e.stopPropagation();
}
document.addEventListener('keydown', e => {
  if (e.key === 'Escape') $('menu').hidden = $('emoji').hidden = true;
});
document.addEventListener('click', e => {
  if (!$('menu').contains(e.target)) $('menu').hidden = true;
  if (!$('emoji').contains(e.target) && e.target !== $('emoji-btn')) $('emoji').hidden = true;
});

function hhmm(tags) {
  const d = tags && tags.time ? new Date(tags.time) : new Date();
  return d.toTimeString().slice(0, 5);
}

// One line in a view's log: time, nick, text; `cls` 'sys' or 'err' for notices.
function add(v, tags, who, text, cls) {
  v = v || current || view('*server*');
  const atEnd = logBox.scrollTop + logBox.clientHeight >= logBox.scrollHeight - 4;
  const div = document.createElement('div');
  div.className = 'line' + (cls ? ' ' + cls : '');
  const t = document.createElement('span');
  t.className = 'time'; t.textContent = hhmm(tags);
  div.append(t);
  if (who) {
    const n = document.createElement('span');
    n.className = 'nick'; n.textContent = who; n.style.color = nickColour(who.replace(/^\* /, ''));
    div.append(n);
  }
  div.append(...(fileNodes(text) || [emojify(text)]));
  v.log.append(div);
  while (v.log.childElementCount > 2000) v.log.firstChild.remove();
  if (v === current) { if (atEnd) logBox.scrollTop = logBox.scrollHeight; } else if (!cls) { v.unread++; renderTabs(); }
  return div;
}
const sys = (v, tags, text) => add(v, tags, '', text, 'sys');

// --- connection ---
function setStatus(s) { $('status').textContent = s; }

function connect() {
  setStatus('connecting…');
  registered = false; caps = new Set();
  // A token lives as long as its IRC connection.
  fileToken = null; filesState(0, 'Not connected');
  ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/irc`, ['text.ircv3.net']);
  ws.onopen = () => { send('CAP LS 302'); send(`NICK ${nick}`); send(`USER ${nick} 0 * :${nick} (web)`); };
  ws.onmessage = e => typeof e.data === 'string' && handle(parse(e.data));
  ws.onclose = () => {
    ws = null;
    tokenAnswer(null, 'the connection to the server was lost');
    if (!nick) return;
    const wait = backoff * (0.75 + Math.random() / 2);
    setStatus(`offline, retrying in ${Math.round(wait / 1000)} s`);
    setTimeout(connect, wait);
    backoff = Math.min(backoff * 2, 30000);
  };
}

function joinChan(name) {
  name = name.split(/[\s,\x00-\x1f]/)[0];
  if (!/^[#&]./.test(name)) return;
  send(`JOIN ${name}`);
  // The canvas replay ends before the answer to this (docs/PROTOCOL.md, "Replay on JOIN").
  send(`PING :replay ${name}`);
}

function handle(m) {
  const p = m.params, tags = m.tags;
  switch (m.cmd) {
    case 'PING': send(`PONG :${p[p.length - 1] || ''}`); break;
    case 'PONG': {
      const t = p[p.length - 1] || '';
      if (t.startsWith('replay ')) { const v = views.get(lc(t.slice(7))); if (v) v.replaying = false; }
      break;
    }
    case 'CAP':
      if (p[1] === 'LS') {
        const have = p[p.length - 1].split(' ').map(c => c.split('=')[0]);
        const want = CAPS.filter(c => have.includes(c));
        if (want.length && p[2] !== '*') send(`CAP REQ :${want.join(' ')}`); else if (p[2] !== '*') send('CAP END');
      } else if (p[1] === 'ACK') { p[2].split(' ').forEach(c => caps.add(c)); send('CAP END'); }
      else if (p[1] === 'NAK') send('CAP END');
      break;
    case '001':
      me = p[0]; registered = true; backoff = 1000;
      setStatus(me);
      filesState(0, 'This server does not take files (no lanchat/FILES in its ISUPPORT)');
      for (const v of views.values()) if (v.chan && !v.left) joinChan(v.name);
      if (![...views.values()].some(v => v.chan && !v.left)) joinChan(params.get('channel') || $('chan').value || '#lobby');
      break;
    case '433': case '432':
      if (!registered) {
        if (m.cmd === '432') { failLogin(`The server refused the nick ${nick}: ${p[p.length - 1]}`); break; }
        nick = nick.slice(0, 28) + '_'; send(`NICK ${nick}`);
      } else add(current, tags, '', p[p.length - 1], 'err');
      break;
    case '464': failLogin('This server needs a password; this page cannot send one.'); break;
    case 'JOIN': {
      const v = view(p[0], m.nick === me && lc(p[0]) === lc(params.get('channel') || p[0]));
      if (m.nick === me) {
        // A (re)join replays history and the canvas: start afresh.
        v.log.textContent = ''; v.users.clear(); resetCanvas(v); v.replaying = true; v.left = false;
        show(v);
      } else sys(v, tags, `→ ${m.nick} joined`);
      v.users.set(m.nick, '');
      if (v === current) renderUsers();
      break;
    }
    case 'PART': case 'KICK': {
      const v = views.get(lc(p[0]));
      if (!v) break;
      const who = m.cmd === 'KICK' ? p[1] : m.nick;
      sys(v, tags, m.cmd === 'KICK' ? `${m.nick} kicked ${who} (${p[2] || ''})` : `← ${who} left${p[1] ? ' (' + p[1] + ')' : ''}`);
      v.users.delete(who);
      // Not rejoined on reconnection.
      if (who === me) { v.users.clear(); v.left = true; }
      if (v === current) renderUsers();
      break;
    }
    case 'QUIT':
      for (const v of views.values()) {
        if (v.users.delete(m.nick) || (!v.chan && lc(v.name) === lc(m.nick))) sys(v, tags, `← ${m.nick} quit (${p[0] || ''})`);
      }
      renderUsers();
      break;
    case 'NICK':
      if (m.nick === me) { me = p[0]; setStatus(me); nick = me; }
      for (const v of views.values()) {
        if (v.users.has(m.nick)) { v.users.set(p[0], v.users.get(m.nick)); v.users.delete(m.nick); sys(v, tags, `${m.nick} is now ${p[0]}`); }
      }
      renderUsers();
      break;
    case 'MODE': {
      const v = views.get(lc(p[0]));
      if (!v) break;
      sys(v, tags, `${m.nick} sets ${p.slice(1).join(' ')}`);
      let on = true, i = 2;
      for (const c of p[1] || '') {
        if (c === '+' || c === '-') { on = c === '+'; continue; }
        const sym = { o: '@', v: '+', h: '%' }[c];
        if (sym && v.users.has(p[i])) {
          const cur = v.users.get(p[i]).replace(sym, '');
          v.users.set(p[i], on ? [...'~&@%+'].filter(s => s === sym || cur.includes(s)).join('') : cur);
        }
        if ('ovhbklqeI'.includes(c) && !(c === 'l' && !on)) i++;
      }
      renderUsers();
      break;
    }
    case '353': {
      const v = view(p[2]);
      for (const w of p[3].split(' ').filter(Boolean)) {
        const n = w.replace(/^[~&@%+]+/, '').split('!')[0];
        v.users.set(n, w.slice(0, w.length - w.replace(/^[~&@%+]+/, '').length));
      }
      if (v === current) renderUsers();
      break;
    }
    case '332': sys(view(p[1]), tags, `Topic: ${p[2]}`); break;
    case 'TOPIC': sys(view(p[0]), tags, `${m.nick} set the topic: ${p[1]}`); break;
    case 'PRIVMSG': case 'NOTICE': {
      if (!m.src.includes('!') && !registered) { sys(view('*server*'), tags, p[1]); break; }
      const to = p[0], other = lc(to) === lc(me) ? m.nick : to;
      const v = isChan(to) || m.src.includes('!') ? view(other) : view('*server*');
      let text = p[1] || '';
      const act = /^\x01ACTION (.*)\x01?$/.exec(text);
      if (act) add(v, tags, `* ${m.nick}`, act[1].replace(/\x01$/, ''));
      else if (text[0] !== '\x01') add(v, tags, m.cmd === 'NOTICE' ? `-${m.nick}-` : m.nick, text);
      break;
    }
    case 'TAGMSG': canvasMessage(m); break;
    case 'UPLOAD': tokenAnswer(p[p.length - 1]); break;
    case 'FAIL':
      if (p[0] === 'UPLOAD') tokenAnswer(null, p[p.length - 1]);
      else add(current, tags, '', p[p.length - 1], 'err');
      break;
    case '005':
      for (const t of p.slice(1, -1)) {
        const [k, val] = t.split('=');
        if (k === 'lanchat/FILES') filesState(val ? +val : Infinity);
        else if (k === '-lanchat/FILES') filesState(0, 'This server no longer takes files');
      }
      sys(view('*server*'), tags, p[p.length - 1]);
      break;
    case 'ERROR': add(current, tags, '', p[0], 'err'); break;
    default:
      // An error about UPLOAD (421 from a server without it) answers the wait for a token.
      if (/^[45]\d\d$/.test(m.cmd) && p[1] === 'UPLOAD') tokenAnswer(null, p[p.length - 1]);
      else if (/^[45]\d\d$/.test(m.cmd)) add(current, tags, '', p.slice(1).join(' '), 'err');
      else if (/^(00[2-4]|25\d|26\d|37[256]|422)$/.test(m.cmd)) sys(view('*server*'), tags, p[p.length - 1]);
  }
}

function failLogin(why) {
  nick = '';
  if (ws) ws.close();
  $('app').hidden = true; $('login').hidden = false;
  $('login-err').textContent = why;
  $('nick').focus();
}

// --- the input line ---
$('send').onsubmit = e => {
  e.preventDefault();
  const text = input.value;
  input.value = '';
  if (!text.trim() || !current) return;
  if (text[0] === '/' && text[1] !== '/') {
    const [cmd, ...rest] = text.slice(1).split(' ');
    const arg = rest.join(' ');
    switch (lc(cmd)) {
      case 'join': joinChan(arg.split(' ')[0] || current.name); break;
      case 'part': send(`PART ${current.name}`); break;
      case 'me': say(current, `\x01ACTION ${arg}\x01`); break;
      case 'msg': { const [to, ...t] = rest; if (to) { show(view(to, true)); say(current, t.join(' ')); } break; }
      case 'nick': send(`NICK ${arg}`); break;
      case 'send': sys(current, {}, 'To send a file, use the 📎 button, drop it here or paste a picture.'); break;
      default: send(`${cmd.toUpperCase()} ${arg}`);
    }
    return;
  }
  say(current, text.replace(/^\/\//, '/'));
};

function say(v, text) {
  if (v.key === '*server*' || !text) return;
  if (!ws || ws.readyState !== 1) return add(v, null, '', `Not connected, not sent: ${text}`, 'err');
  send(`PRIVMSG ${v.name} :${text}`);
  if (!caps.has('echo-message')) {
    const act = /^\x01ACTION (.*)\x01$/.exec(text);
    add(v, null, act ? `* ${me}` : me, act ? act[1] : text);
  }
}

const picker = $('emoji');
for (const e of PICKER) {
  const b = document.createElement('button');
  b.type = 'button'; b.textContent = e;
  b.onclick = () => {
    const at = input.selectionStart ?? input.value.length;
    input.value = input.value.slice(0, at) + e + input.value.slice(input.selectionEnd ?? at);
    input.focus(); input.selectionStart = input.selectionEnd = at + e.length;
  };
  picker.append(b);
}
$('emoji-btn').onclick = () => { picker.hidden = !picker.hidden; };
$('users-btn').onclick = e => { $('users').classList.toggle('show'); e.stopPropagation(); };
$('draw-btn').onclick = () => { document.querySelector('main').classList.toggle('nodraw'); };

// --- files (docs/PROTOCOL.md, "Files") ---
// A message that is exactly such a link shows as the file (as src/files.rs `link` reads it).
const FILE_LINK = /^https?:\/\/[^/\s]+(\/f\/[0-9a-f]{32}\/([^/\s?#]+))$/;
const fileBtn = $('file-btn'), fileInput = $('file'), sizes = new Map();
// filesMax: lanchat/FILES from ISUPPORT, 0 when off; tokenWait: those waiting for the answer to UPLOAD.
let filesMax = 0, fileToken = null, uploads = Promise.resolve();
const tokenWait = [];

function fmtSize(n) {
  let u = 0;
  while (n >= 1024 && u < 3) { n /= 1024; u++; }
  return u ? `${n.toFixed(1)} ${['', 'KiB', 'MiB', 'GiB'][u]}` : `${n} B`;
}

function filesState(max, why) {
  filesMax = max; fileBtn.disabled = !max;
  fileBtn.title = !max ? why : 'Send a file' + (isFinite(max) ? ` (up to ${fmtSize(max)})` : '') + '; or drop it here, or paste a picture';
}

// The path, not the link: the CSP allows images from this origin only, and the
// link may name the server by an address other than the one the page came from.
function fileNodes(text) {
  const m = FILE_LINK.exec(text.trim());
  let name;
  try { name = m && decodeURIComponent(m[2]); } catch { /* a bad escape: not a file link */ }
  if (!name) return null;
  const path = m[1];
  const a = document.createElement('a');
  a.href = path; a.className = 'file'; a.title = name;
  if (/\.(png|jpe?g|gif)$/i.test(name)) {
    const img = document.createElement('img');
    // Lazy: a long history of pictures costs a phone only those scrolled to.
    img.alt = name; img.loading = 'lazy'; img.src = path;
    a.target = '_blank'; a.rel = 'noopener';
    // Stay at the end of the log if it was there before the picture grew it.
    img.onload = () => {
      if (logBox.scrollTop + logBox.clientHeight >= logBox.scrollHeight - img.offsetHeight - 8) logBox.scrollTop = logBox.scrollHeight;
    };
    img.onerror = () => { a.textContent = `${name} · not available`; };
    a.append(img);
    return [a];
  }
  a.download = name; a.textContent = name;
  const s = document.createElement('span');
  s.className = 'fsize';
  // One HEAD per file, however often a replay shows it.
  if (!sizes.has(path)) {
    sizes.set(path, fetch(path, { method: 'HEAD' }).then(r => {
      if (r.ok) return fmtSize(+r.headers.get('Content-Length'));
      if (r.status !== 503) return 'not available';
      sizes.delete(path); // busy: the next time it is shown, ask again
      return 'busy, try later';
    },
      () => { sizes.delete(path); return 'size unknown'; }));
  }
  sizes.get(path).then(t => { s.textContent = ' · ' + t; });
  return [a, s];
}

function token() {
  if (fileToken) return Promise.resolve(fileToken);
  if (!registered) return Promise.reject('not connected');
  return new Promise((ok, fail) => { if (tokenWait.push({ ok, fail }) === 1) send('UPLOAD'); });
}

// The server's answer to UPLOAD: a token, or null and why not.
function tokenAnswer(tok, why) {
  if (tok) fileToken = tok;
  for (const w of tokenWait.splice(0)) if (tok) w.ok(tok); else w.fail(why);
}

function setLine(div, text, cls) {
  div.lastChild.textContent = text;
  div.className = 'line ' + cls;
}

// Uploads one file for the conversation `v` and posts its link there. One at
// a time: the server takes one upload per connection.
function upload(file, v) {
  const name = file.name || 'pasted.' + (file.type.split('/')[1] || 'bin');
  if (!v || v.key === '*server*') return add(v, null, '', 'Open a channel or a conversation to send a file to.', 'err');
  if (!filesMax) return add(v, null, '', `${name} was not sent: ${fileBtn.title}.`, 'err');
  if (file.size > filesMax) {
    return add(v, null, '', `${name} (${fmtSize(file.size)}) is too large: this server takes files up to ${fmtSize(filesMax)}.`, 'err');
  }
  const line = add(v, null, '', `Sending ${name} (${fmtSize(file.size)})…`, 'sys');
  const fail = why => setLine(line, `${name} was not sent: ${why}`, 'err');
  uploads = uploads.then(token).then(tok => new Promise(done => {
    // XMLHttpRequest, not fetch: it reports the upload's progress.
    const x = new XMLHttpRequest();
    x.open('POST', '/upload?name=' + encodeURIComponent(name));
    x.setRequestHeader('Authorization', 'Bearer ' + tok);
    x.upload.onprogress = e => {
      if (e.lengthComputable) setLine(line, `Sending ${name}… ${Math.floor(100 * e.loaded / e.total)}%`, 'sys');
    };
    x.onload = () => {
      const body = x.responseText.trim();
      if (x.status === 201 && FILE_LINK.test(body)) { line.remove(); say(v, body); } else {
        if (x.status === 401) fileToken = null;
        fail(body || `${x.status} ${x.statusText}`);
      }
      done();
    };
    x.onerror = () => { fail('the connection to the server failed'); done(); };
    x.send(file);
  }), fail);
}

const hasFiles = e => e.dataTransfer && [...e.dataTransfer.types].includes('Files');
const uploadAll = files => { if (!$('app').hidden) for (const f of files) upload(f, current); };
fileBtn.onclick = () => fileInput.click();
fileInput.onchange = () => { uploadAll(fileInput.files); fileInput.value = ''; input.focus(); };
input.addEventListener('paste', e => {
  const files = e.clipboardData ? [...e.clipboardData.files] : [];
  if (files.length) { e.preventDefault(); uploadAll(files); }
});
// A drop anywhere: without preventDefault the browser would leave the page to show the file.
addEventListener('dragover', e => { if (hasFiles(e)) { e.preventDefault(); document.body.classList.add('drop'); } });
addEventListener('dragleave', e => { if (!e.relatedTarget) document.body.classList.remove('drop'); });
addEventListener('drop', e => {
  document.body.classList.remove('drop');
  if (hasFiles(e)) { e.preventDefault(); uploadAll(e.dataTransfer.files); }
});

// --- the canvas (docs/PROTOCOL.md, "The shared canvas") ---
function resetCanvas(v) {
  v.base = document.createElement('canvas');
  v.base.width = W; v.base.height = H;
  const b = v.base.getContext('2d');
  b.fillStyle = '#' + PAPER; b.fillRect(0, 0, W, H);
  v.segs = []; v.snap = ''; v.gen++;
  if (v === board) redraw();
}

function drawSeg(c, s) {
  c.strokeStyle = c.fillStyle = '#' + s.colour;
  c.lineWidth = s.width; c.lineCap = c.lineJoin = 'round';
  const pts = s.pts;
  if (pts.length === 2) { c.beginPath(); c.arc(pts[0], pts[1], s.width / 2, 0, 7); c.fill(); return; }
  c.beginPath(); c.moveTo(pts[0], pts[1]);
  for (let i = 2; i < pts.length; i += 2) c.lineTo(pts[i], pts[i + 1]);
  c.stroke();
}

function redraw() {
  const v = board;
  if (!v) { ctx.fillStyle = '#eee'; ctx.fillRect(0, 0, W, H); return; }
  ctx.drawImage(v.base, 0, 0);
  for (const s of v.segs) drawSeg(ctx, s);
}

function keep(v, s) {
  v.segs.push(s);
  // Keep 4,096 segments undoable; fold older ones into the picture.
  if (v.segs.length > 4096) {
    const b = v.base.getContext('2d');
    for (const o of v.segs.splice(0, 2048)) drawSeg(b, o);
  }
}

function parseStroke(val, nick) {
  const f = val.split(',');
  if (f.length < 5 || f.length % 2 === 0 || !/^[0-9a-fA-F]{6}$/.test(f[1])) return null;
  const pts = f.slice(3).map(Number);
  return { id: f[0], colour: lc(f[1]), width: +f[2], pts, nick };
}

function canvasMessage(m) {
  const v = views.get(lc(m.params[0]));
  if (!v || !v.chan) return;
  const t = m.tags;
  if ('+lanchat/stroke' in t) {
    // Our own strokes are drawn as we draw them; their echo is skipped (not in a replay).
    if (m.nick === me && caps.has('echo-message') && !v.replaying) return;
    const s = parseStroke(t['+lanchat/stroke'], m.nick);
    if (!s) return;
    keep(v, s);
    if (v === board) drawSeg(ctx, s);
  } else if ('+lanchat/undo' in t) {
    const [id, count] = t['+lanchat/undo'].split(',');
    let left = count === undefined ? Infinity : +count;
    for (let i = v.segs.length - 1; i >= 0 && left > 0; i--) if (v.segs[i].id === id) { v.segs.splice(i, 1); left--; }
    if (v === board) redraw();
  } else if ('+lanchat/clear' in t) {
    resetCanvas(v);
    sys(v, t, `${m.nick} cleared the canvas`);
  } else if ('+lanchat/snapshot' in t && !m.src.includes('!')) {
    // Only the server sends snapshots: a client's would wipe everyone's picture.
    const [part, data] = t['+lanchat/snapshot'].split(',');
    const [i, n] = part.split('/').map(Number);
    v.snap = (i === 1 ? '' : v.snap) + (data || '');
    if (i !== n) return;
    const b64 = v.snap;
    resetCanvas(v);
    if (!b64) return;
    const gen = v.gen, bad = () => sys(v, null, 'The canvas snapshot could not be read.');
    let bytes;
    try { bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0)); } catch { return bad(); }
    createImageBitmap(new Blob([bytes], { type: 'image/png' })).then(img => {
      if (v.gen !== gen) return;
      v.base.getContext('2d').drawImage(img, 0, 0);
      if (v === board) redraw();
    }, bad);
  }
}

// Drawing: pointer events for mouse, finger and pen alike.
let stroke = null;
// Where the picture is inside the element (object-fit: contain letterboxes it).
function picture() {
  const r = cv.getBoundingClientRect(), s = Math.min(r.width / W, r.height / H);
  return { x: r.left + (r.width - W * s) / 2, y: r.top, s };
}
function point(e) {
  const p = picture();
  const x = Math.round((e.clientX - p.x) / p.s), y = Math.round((e.clientY - p.y) / p.s);
  return [Math.max(0, Math.min(W - 1, x)), Math.max(0, Math.min(H - 1, y))];
}

function flush() {
  const v = board;
  if (!stroke || !stroke.fresh || !v) return;
  const pts = stroke.pts;
  const s = { id: stroke.id, colour, width: brush, pts, nick: me };
  send(`@+lanchat/stroke=${s.id},${s.colour},${s.width},${pts.join(',')} TAGMSG ${v.name}`);
  keep(v, s);
  // The next segment starts at this one's last point.
  stroke.pts = pts.slice(-2); stroke.fresh = false;
}

cv.onpointerdown = e => {
  const v = board;
  if (!v || !registered || (e.pointerType === 'mouse' && e.button !== 0)) return;
  cv.setPointerCapture(e.pointerId);
  const id = String(crypto.getRandomValues(new Uint32Array(1))[0]);
  v.mine.push(id);
  if (v.mine.length > 100) v.mine.shift();
  stroke = { id, pts: point(e), fresh: true, timer: setInterval(flush, 50) };
  drawSeg(ctx, { colour, width: brush, pts: stroke.pts });
};
cv.onpointermove = e => {
  if (!stroke) return;
  for (const ev of e.getCoalescedEvents ? e.getCoalescedEvents() : [e]) {
    const [x, y] = point(ev), pts = stroke.pts, n = pts.length;
    if (x === pts[n - 2] && y === pts[n - 1]) continue;
    drawSeg(ctx, { colour, width: brush, pts: [pts[n - 2], pts[n - 1], x, y] });
    pts.push(x, y); stroke.fresh = true;
    if (pts.length >= 128) flush();
  }
};
cv.onpointerup = cv.onpointercancel = () => {
  if (!stroke) return;
  flush(); clearInterval(stroke.timer); stroke = null;
};

function tool(label, title, f) {
  const b = document.createElement('button');
  b.type = 'button'; b.textContent = label; b.title = title; b.onclick = f;
  $('tools').append(b);
  return b;
}
for (const [name, hex] of COLOURS) {
  const b = tool('', name, () => {
    colour = hex;
    document.querySelectorAll('#tools .sw').forEach(x => x.classList.toggle('on', x === b));
  });
  b.className = 'sw' + (hex === colour ? ' on' : '') + (hex === PAPER ? ' eraser' : '');
  b.style.background = hex === PAPER ? '' : '#' + hex;
}
const size = document.createElement('input');
Object.assign(size, { type: 'range', min: 1, max: 64, value: brush, title: 'Brush size' });
const sizeLabel = document.createElement('span');
sizeLabel.className = 'size'; sizeLabel.textContent = brush;
size.oninput = () => { brush = +size.value; sizeLabel.textContent = brush; };
$('tools').append(size, sizeLabel);
tool('↶ Undo', 'Undo my last stroke', () => {
  const v = board, id = v && v.mine.pop();
  if (id) send(`@+lanchat/undo=${id} TAGMSG ${v.name}`);
});
tool('Clear', 'Clear the canvas for everyone', () => {
  if (board && confirm(`Clear the canvas of ${board.name} for everyone?`)) send(`@+lanchat/clear TAGMSG ${board.name}`);
});

// --- start ---
function start(n, chan) {
  nick = n.trim().replace(/[\s,*?!@]/g, '').slice(0, 30);
  if (!nick) return failLogin('Pick a nick.');
  const q = new URLSearchParams({ nick, channel: chan });
  history.replaceState(null, '', '?' + q);
  params.set('channel', chan);
  $('login').hidden = true; $('app').hidden = false;
  if (matchMedia('(max-width: 800px)').matches) redraw();
  input.focus();
  connect();
}
$('login').onsubmit = e => { e.preventDefault(); start($('nick').value, $('chan').value.trim() || '#lobby'); };
redraw();
if (params.get('nick')) start(params.get('nick'), params.get('channel') || '#lobby');
else $('nick').focus();

#!/usr/bin/python3
"""The page in a real browser: headless Chromium (Debian's, driven by
selenium and chromedriver) against the real server on loopback, with a raw
TCP IRC client beside it.

Usage: /usr/bin/python3 tests/browser/page.py path/to/lanchat [outdir]

Two browser sessions and one IRC client chat (history, emoticons, a private
conversation); an operator's user-list menu sends MODE (and, on a server with
moderation, voice and KICK); a stroke drawn in a browser with pointer events
reaches the IRC client and the other browser, and the IRC client's stroke
appears in the browsers; undo takes a stroke back; a reload sees the history
and the canvas; the page reconnects by itself after a server restart; on a
server that sends canvas snapshots, a joiner sees the snapshot's pixels.
Files (issue 17): the file button, a pasted picture and a dropped one are
uploaded and their links posted (downloads checked by sha256), a picture
shows as a thumbnail in the other browser and anything else as name and size;
a file over the server's limit, a refused token, a reconnection and a server
without files each say so.
Screenshots at phone size (390x844) and desktop size land in outdir (default
target/); the layout is checked for sideways scrolling at 360 px too.
Everything stays on 127.0.0.1: Chromium's background networking is off and
every other host name resolves to nothing."""

import base64, hashlib, os, re, socket, struct, subprocess, sys, tempfile, threading, time, urllib.request, zlib

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

DEADLINE = 20.0


def wait(what, f, limit=DEADLINE):
    end = time.time() + limit
    while True:
        v = f()
        if v:
            return v
        if time.time() > end:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.05)


class Server:
    def __init__(self, binary, *extra, data=None):
        self.binary, self.extra = binary, extra
        self.dir = data or tempfile.mkdtemp(prefix="lanchat-web-")
        self.p = subprocess.Popen(
            [binary, "--serve", "--bind", "127.0.0.1", "--port", "0", "--web-port", "0", "--no-tls",
             "--no-discovery", "--data-dir", self.dir, *extra],
            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
        self.log = []
        self.web = self.irc = None
        end = time.time() + DEADLINE
        for line in self.p.stderr:
            self.log.append(line)
            m = re.search(r"serving the web page .* on (\S+)", line)
            if m:
                self.web = m.group(1)
            m = re.search(r"listening on (\S+)", line)
            if m:
                self.irc = m.group(1)
                break
            assert time.time() < end, "the server did not start"
        assert self.web and self.irc, "".join(self.log)
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self):
        for line in self.p.stderr:
            self.log.append(line)

    def stop(self):
        self.p.kill()
        self.p.wait()

    def restart(self):
        """Kills the server and starts it again on the same ports and data."""
        self.stop()
        web, irc = self.web.rsplit(":", 1)[1], self.irc.rsplit(":", 1)[1]
        again = Server(self.binary, *self.extra, "--web-port", web, "--port", irc, data=self.dir)
        assert (again.web, again.irc) == (self.web, self.irc)
        self.p, self.log = again.p, again.log


class Irc:
    """A raw IRC client with message-tags, as a native client talks."""

    def __init__(self, addr, nick):
        host, port = addr.rsplit(":", 1)
        self.s = socket.create_connection((host, int(port)), timeout=0.2)
        self.buf = b""
        self.send("CAP REQ :message-tags server-time")
        self.send("CAP END")
        self.send(f"NICK {nick}")
        self.send(f"USER {nick} 0 * :{nick}")
        self.expect(lambda l: " 001 " in l)

    def send(self, line):
        self.s.sendall(line.encode() + b"\r\n")

    def expect(self, pred):
        end = time.time() + DEADLINE
        while True:
            while b"\n" in self.buf:
                raw, self.buf = self.buf.split(b"\n", 1)
                line = raw.decode().rstrip("\r")
                if line.startswith("PING "):
                    self.send("PONG " + line[5:])
                elif pred(line):
                    return line
            if time.time() > end:
                raise AssertionError("IRC client: timed out")
            try:
                data = self.s.recv(65536)
            except socket.timeout:
                continue
            assert data, "IRC client: connection closed"
            self.buf += data


def browser():
    o = Options()
    o.binary_location = "/usr/bin/chromium"
    for a in ["--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,800",
              "--disable-background-networking", "--disable-component-update", "--disable-sync",
              "--disable-default-apps", "--disable-domain-reliability", "--no-first-run",
              "--disable-client-side-phishing-detection", "--disable-features=Translate,OptimizationHints,MediaRouter",
              "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1", "--no-proxy-server"]:
        o.add_argument(a)
    d = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=o)
    d.set_page_load_timeout(DEADLINE)
    return d


def log_text(d):
    return d.execute_script("return document.getElementById('log').innerText")


def users(d):
    return d.execute_script("return document.getElementById('userlist').innerText")


def pixel(d, x, y):
    """The page canvas's colour at logical (x, y), as 'rrggbb'."""
    return d.execute_script(
        "const p = document.getElementById('canvas').getContext('2d').getImageData(arguments[0], arguments[1], 1, 1).data;"
        "return [p[0], p[1], p[2]].map(v => v.toString(16).padStart(2, '0')).join('');", x, y)


def resize(d, w, h):
    """Makes the page a w x h screen (a phone's below 800 px) and waits until it is drawn so."""
    d.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                      {"width": w, "height": h, "deviceScaleFactor": 1, "mobile": w < 800})
    d.execute_script("return new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")


def drag(d, points):
    """Draws with the mouse through logical canvas points (pointer events)."""
    cv = d.find_element(By.ID, "canvas")
    # The picture is letterboxed in the element, at its top; offsets are from the element's centre.
    r = d.execute_script("const r = arguments[0].getBoundingClientRect(); return [r.width, r.height];", cv)
    s = min(r[0] / 1600, r[1] / 1000)
    off = [(int((x - 800) * s), int(y * s - r[1] / 2)) for x, y in points]
    a = ActionChains(d, duration=20).move_to_element_with_offset(cv, *off[0]).click_and_hold()
    for x, y in off[1:]:
        a = a.move_to_element_with_offset(cv, x, y)
    a.release().perform()


def main():
    binary = sys.argv[1]
    out = sys.argv[2] if len(sys.argv) > 2 else "target"
    os.makedirs(out, exist_ok=True)
    srv = Server(binary)
    a = b = None
    try:
        tcp = Irc(srv.irc, "tina")
        tcp.send("JOIN #room")
        tcp.expect(lambda l: " 366 " in l)
        tcp.send("PRIVMSG #room :hello before the browsers came")
        url = f"http://{srv.web}/"
        # The page in all stays small: it is served from a Pi to phones.
        size = sum(len(fetch(url + p)) for p in ["", "app.js", "style.css"])
        print(f"the page: {size} bytes")
        assert size < 64 * 1024, f"the page is {size} bytes"

        a = browser()
        a.get(url + "?nick=alice&channel=%23room")
        # The input line has focus from the start.
        wait("alice's focus", lambda: a.execute_script("return document.activeElement.id") == "input")
        wait("alice's history", lambda: "hello before the browsers came" in log_text(a))
        wait("alice's user list", lambda: "tina" in users(a))
        tcp.expect(lambda l: "alice!" in l and " JOIN " in l)

        # The second session comes through the nick prompt.
        b = browser()
        b.get(url)
        assert b.execute_script("return document.activeElement.id") == "nick"
        b.find_element(By.ID, "nick").send_keys("bob")
        chan = b.find_element(By.ID, "chan")
        chan.clear()
        chan.send_keys("#room", Keys.ENTER)
        wait("bob in alice's list", lambda: "bob" in users(a))
        wait("bob's list", lambda: "alice" in users(b) and "tina" in users(b))

        # Chat: IRC -> browsers, browser -> IRC and browser.
        tcp.send("PRIVMSG #room :hello browsers :)")
        wait("alice sees tina", lambda: "hello browsers 🙂" in log_text(a))
        wait("bob sees tina", lambda: "hello browsers 🙂" in log_text(b))
        a.find_element(By.ID, "input").send_keys("hi from alice <3", Keys.ENTER)
        tcp.expect(lambda l: l.endswith("PRIVMSG #room :hi from alice <3") and ":alice!" in l)
        wait("bob sees alice", lambda: "hi from alice ❤️" in log_text(b))
        b.find_element(By.ID, "input").send_keys("and bob", Keys.ENTER)
        tcp.expect(lambda l: l.endswith("PRIVMSG #room :and bob"))
        wait("alice sees bob", lambda: "and bob" in log_text(a))

        # A private conversation from the browser.
        b.find_element(By.ID, "input").send_keys("/msg alice psst", Keys.ENTER)
        wait("alice's query", lambda: "psst" in a.execute_script(
            "return [...document.querySelectorAll('#tabs button')].map(b => b.textContent).join(' ') + log_text()"
            .replace("log_text()", "document.getElementById('log').innerText")) or "bob (1)" in a.execute_script(
            "return document.getElementById('tabs').innerText"))

        b.find_element(By.XPATH, "//nav[@id='tabs']/button[starts-with(., '#room')]").click()

        # Moderation from the user list: a plain user gets only "Message";
        # an operator's menu sends MODE, and everyone's log says who did what.
        def menu(d, who):
            li = d.execute_script("return [...document.querySelectorAll('#userlist li')]"
                                  ".find(li => li.textContent.replace(/^[~&@%+]+/, '') === arguments[0])", who)
            assert li, f"{who} not in {users(d)!r}"
            li.click()
            return d.execute_script("return [...document.querySelectorAll('#menu button')].map(b => b.textContent)")
        assert menu(a, "bob") == ["Message"], menu(a, "bob")
        a.find_element(By.ID, "input").send_keys(Keys.ESCAPE)
        assert not a.find_element(By.ID, "menu").is_displayed()
        tcp.send("MODE #room +o alice")
        wait("alice an operator", lambda: "@alice" in users(a) and "@alice" in users(b))
        assert "Make op" in menu(a, "bob")
        a.find_element(By.XPATH, "//div[@id='menu']/button[.='Make op']").click()
        tcp.expect(lambda l: ":alice!" in l and " MODE #room +o " in l and l.endswith("bob"))
        wait("bob an operator in his list", lambda: "@bob" in users(b))
        wait("the log says who", lambda: "alice sets +o bob" in log_text(b))
        # Voice and kick from the menu.
        def act(who, label):
            menu(a, who)
            a.find_element(By.XPATH, f"//div[@id='menu']/button[.='{label}']").click()
        act("bob", "Take op")
        wait("bob no longer an operator", lambda: "@bob" not in users(a))
        act("bob", "Give voice")
        wait("bob voiced", lambda: "+bob" in users(a) and "alice sets +v bob" in log_text(b))
        act("bob", "Kick")
        wait("bob kicked", lambda: "alice kicked bob" in log_text(b) and "bob" not in users(a))
        b.find_element(By.ID, "input").send_keys("/join #room", Keys.ENTER)
        wait("bob back", lambda: "bob" in users(a))
        print("moderation: ok")

        # A stroke drawn in a browser reaches the IRC client and the other browser.
        a.find_element(By.CSS_SELECTOR, "#tools button[title=Red]").click()
        drag(a, [(200, 200), (400, 300), (600, 300)])
        stroke = tcp.expect(lambda l: "+lanchat/stroke=" in l and ":alice!" in l)
        assert ",e02020,6," in stroke, stroke
        wait("the stroke in bob's canvas", lambda: pixel(b, 500, 300) == "e02020")
        assert pixel(a, 500, 300) == "e02020"

        # An IRC client's stroke appears in the browsers.
        tcp.send("@+lanchat/stroke=77,2050e0,20,800,600,1000,600 TAGMSG #room")
        wait("tina's stroke in alice's canvas", lambda: pixel(a, 900, 600) == "2050e0")
        wait("tina's stroke in bob's canvas", lambda: pixel(b, 900, 600) == "2050e0")

        # Undo takes alice's stroke back everywhere.
        a.find_element(By.XPATH, "//button[contains(., 'Undo')]").click()
        undo = tcp.expect(lambda l: "+lanchat/undo=" in l)
        assert ":alice!" in undo, undo
        wait("the undo in bob's canvas", lambda: pixel(b, 500, 300) == "ffffff")
        wait("the undo in alice's canvas", lambda: pixel(a, 500, 300) == "ffffff")
        assert pixel(a, 900, 600) == "2050e0"
        drag(a, [(300, 800), (500, 850)])
        tcp.expect(lambda l: "+lanchat/stroke=" in l and ":alice!" in l)

        # A reload sees the history and the canvas.
        b.refresh()
        wait("bob's history after a reload", lambda: "hi from alice" in log_text(b))
        wait("bob's canvas after a reload", lambda: pixel(b, 900, 600) == "2050e0" and pixel(b, 400, 825) == "e02020")

        # Screenshots: phone and desktop.
        for (w, h, name) in [(360, 740, None), (390, 844, "web-phone.png"), (1280, 800, "web-desktop.png")]:
            resize(a, w, h)
            vw = a.execute_script("return innerWidth")
            if name:
                a.save_screenshot(os.path.join(out, name))
            # Nothing wider than the screen: no sideways scrolling on a phone.
            sw = a.execute_script("return document.documentElement.scrollWidth")
            assert sw <= vw, f"{name}: page {sw} px wide in a {vw} px window"
        # The server goes away and comes back: the page reconnects by itself
        # (with backoff), rejoins and shows the history again.
        srv.restart()
        wait("alice offline", lambda: "offline" in a.find_element(By.ID, "status").text)
        wait("alice back", lambda: a.find_element(By.ID, "status").text == "alice", 30)
        wait("alice's history after the restart", lambda: "hi from alice" in log_text(a))
        tcp = Irc(srv.irc, "tina")
        tcp.send("JOIN #room")
        tcp.send("PRIVMSG #room :welcome back")
        wait("alice chats again", lambda: "welcome back" in log_text(a))

        snapshot(binary)
        files(binary, out)
        print("page test: ok; screenshots in", out)
    finally:
        for d in (a, b):
            if d:
                d.quit()
        srv.stop()


def snapshot(binary):
    """A joiner's canvas from the server's snapshot (a PNG) and the strokes
    after it: a server that keeps little folds old strokes into the snapshot."""
    srv = Server(binary, "--canvas-max", "2000")
    d = None
    try:
        tcp = Irc(srv.irc, "painter")
        tcp.send("JOIN #art")
        tcp.expect(lambda l: " 366 " in l)
        for i in range(40):
            x = 20 + i * 30
            tcp.send(f"@+lanchat/stroke={100 + i},8030c0,10,{x},100,{x},300 TAGMSG #art")
        tcp.send("PING :drawn")
        tcp.expect(lambda l: "drawn" in l and " PONG " in l)
        late = Irc(srv.irc, "late")

        def rejoin():
            """What a joiner gets: (any snapshot at all, one with a picture)."""
            late.send("JOIN #art")
            late.send("PING :joined")
            seen = folded = False
            while True:
                l = late.expect(lambda l: "+lanchat/snapshot=" in l or ("joined" in l and " PONG " in l))
                if " PONG " in l:
                    late.send("PART #art")
                    return seen, folded
                seen = True
                folded |= not re.search(r"snapshot=1/1,( |;|$)", l)

        assert rejoin()[0], "a joiner with message-tags got no canvas snapshot"
        # The server folds in the background (about once a second).
        wait("a snapshot with a picture", lambda: rejoin()[1])
        d = browser()
        d.get(f"http://{srv.web}/?nick=viewer&channel=%23art")
        # The first stroke (folded into the snapshot) and the last (kept as a stroke).
        wait("the snapshot's pixels", lambda: pixel(d, 20, 200) == "8030c0")
        wait("the kept strokes' pixels", lambda: pixel(d, 20 + 39 * 30, 200) == "8030c0")
        assert pixel(d, 35, 200) == "ffffff"
        print("snapshot: ok")
    finally:
        if d:
            d.quit()
        srv.stop()


def png(w, h):
    """A w x h RGB PNG: a blue-to-orange gradient with a white diagonal."""
    rows = b"".join(b"\0" + b"".join(
        bytes((255, 255, 255)) if abs(x * h - y * w) < w else bytes((32 + 200 * x // w, 80 + 60 * y // h, 224 - 200 * x // w))
        for x in range(w)) for y in range(h))
    chunk = lambda kind, data: struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


# A 1 x 1 red GIF.
GIF = base64.b64decode("R0lGODlhAQABAIAAAP8AAAAAACH5BAAAAAAALAAAAAABAAEAAAICRAEAOw==")

# Hands the page a file as a paste into the input line or a drop on the log would.
GIVE = """const [how, name, type, b64] = arguments;
const dt = new DataTransfer();
dt.items.add(new File([Uint8Array.from(atob(b64), c => c.charCodeAt(0))], name, { type }));
const init = { bubbles: true, cancelable: true };
if (how === 'paste') document.getElementById('input').dispatchEvent(new ClipboardEvent('paste', { ...init, clipboardData: dt }));
else document.getElementById('log').dispatchEvent(new DragEvent('drop', { ...init, dataTransfer: dt }));"""


def fetch(link):
    """GETs a link (on 127.0.0.1), never through a proxy."""
    assert link.startswith("http://127.0.0.1:"), link
    with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(link, timeout=DEADLINE) as r:
        return r.read()


def files(binary, out):
    """File sharing (issue 17), from alice's browser to bob's and to tina on IRC."""
    limit = 300_000
    srv = Server(binary, "--file-max", str(limit))
    tmp = tempfile.mkdtemp(prefix="lanchat-web-files-")
    a = b = None
    try:
        tcp = Irc(srv.irc, "tina")
        tcp.send("JOIN #files")
        tcp.expect(lambda l: " 366 " in l)
        a, b = browser(), browser()
        a.get(f"http://{srv.web}/?nick=alice&channel=%23files")
        b.get(f"http://{srv.web}/?nick=bob&channel=%23files")
        wait("both browsers in #files", lambda: "bob" in users(a) and "alice" in users(b) and "tina" in users(b))

        def link(to, name):
            """The link alice posts to `to`, checked against the file's name."""
            l = tcp.expect(lambda l: ":alice!" in l and f" PRIVMSG {to} :http" in l)
            url = l.split(f" PRIVMSG {to} :", 1)[1]
            assert re.fullmatch(r"http://127\.0\.0\.1:\d+/f/[0-9a-f]{32}/" + re.escape(name), url), url
            return url

        def pick(d, name, data):
            """Chooses a file in the page's file input, as the button's chooser does."""
            path = os.path.join(tmp, name)
            with open(path, "wb") as f:
                f.write(data)
            d.find_element(By.ID, "file").send_keys(path)

        # The button says the limit; clicking it opens the file chooser (stopped
        # here: headless Chromium has no dialog to answer).
        btn = a.find_element(By.ID, "file-btn")
        wait("the file button enabled", btn.is_enabled)
        assert "up to 293.0 KiB" in btn.get_attribute("title"), btn.get_attribute("title")
        a.execute_script("window.chooser = 0; document.getElementById('file')"
                         ".addEventListener('click', e => { window.chooser++; e.preventDefault(); })")
        btn.click()
        assert a.execute_script("return window.chooser") == 1

        # A file that is not a picture: a download link with name and size.
        # The progress line's texts are kept as they change.
        a.execute_script("window.progress = []; new MutationObserver(ms => ms.forEach(m => progress.push(m.target.data)))"
                         ".observe(document.getElementById('log'), { subtree: true, characterData: true })")
        data = os.urandom(150_000)
        pick(a, "notes été.bin", data)
        url = link("#files", "notes%20%C3%A9t%C3%A9.bin")
        progress = a.execute_script("return progress")
        assert progress and progress[-1] == "Sending notes été.bin… 100%", progress
        assert hashlib.sha256(fetch(url)).digest() == hashlib.sha256(data).digest()
        wait("bob sees the name and size", lambda: "notes été.bin · 146.5 KiB" in log_text(b))
        assert b.execute_script("const a = document.querySelector('#log a.file[download]');"
                                "return [a.getAttribute('download'), a.getAttribute('href')]") == \
            ["notes été.bin", url.split(srv.web, 1)[1]]
        print("file button: ok")

        # A pasted picture: a thumbnail in bob's log, the full picture a click away.
        picture = png(400, 250)
        a.execute_script(GIVE, "paste", "image.png", "image/png", base64.b64encode(picture).decode())
        url = link("#files", "image.png")
        assert fetch(url) == picture

        def shown(d, width):
            """Whether the last picture in the log on show has loaded, `width` wide, as a thumbnail of at most 240 x 180."""
            i = d.execute_script("const i = [...document.querySelectorAll('#log > :not([hidden]) a.file img')].pop();"
                                 "return i && i.complete && [i.naturalWidth, i.offsetWidth, i.offsetHeight]")
            return i and i[0] == width and 0 < i[1] <= 240 and 0 < i[2] <= 180
        wait("the thumbnail in bob's log", lambda: shown(b, 400))
        wait("the thumbnail in alice's log", lambda: shown(a, 400))
        b.find_element(By.CSS_SELECTOR, "#log a.file img").click()
        wait("the picture in a new tab", lambda: len(b.window_handles) == 2)
        b.switch_to.window(b.window_handles[1])
        wait("the new tab's address", lambda: b.current_url == url)
        wait("the full picture", lambda: b.execute_script("const i = document.images[0]; return i && i.complete && i.naturalWidth") == 400)
        b.close()
        b.switch_to.window(b.window_handles[0])
        print("pasted picture: ok")

        # Screenshots with the thumbnail in view.
        for (w, h, name) in [(390, 844, "web-files-phone.png"), (1280, 800, "web-files-desktop.png")]:
            resize(b, w, h)
            b.execute_script("const l = document.getElementById('log'); l.scrollTop = l.scrollHeight;"
                             "return new Promise(r => requestAnimationFrame(r))")
            assert b.execute_script("const r = document.querySelector('#log a.file img').getBoundingClientRect();"
                                    "return r.top >= 0 && r.bottom <= innerHeight"), f"{name}: the thumbnail is out of view"
            b.save_screenshot(os.path.join(out, name))
        b.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})

        # A picture dropped on the log, in a private conversation.
        a.find_element(By.ID, "input").send_keys("/msg tina a picture for you", Keys.ENTER)
        tcp.expect(lambda l: l.endswith("PRIVMSG tina :a picture for you"))
        a.execute_script(GIVE, "drop", "dot.gif", "image/gif", base64.b64encode(GIF).decode())
        assert fetch(link("tina", "dot.gif")) == GIF
        wait("the dot in alice's log", lambda: shown(a, 1))
        a.find_element(By.XPATH, "//nav[@id='tabs']/button[starts-with(., '#files')]").click()

        # Too big: the page says so and sends nothing.
        pick(a, "big.bin", b"x" * (limit + 50_000))
        wait("the size error", lambda: "big.bin (341.8 KiB) is too large: this server takes files up to 293.0 KiB." in log_text(a))
        # The server's answer, as its body says it: a token it does not know.
        a.execute_script("fileToken = '0'.repeat(32)")
        pick(a, "refused.txt", b"no")
        wait("the server's refusal", lambda: re.search(r"refused\.txt was not sent: \S.*", log_text(a)))
        refusal = re.search(r"refused\.txt was not sent: .*", log_text(a)).group(0)
        # A link to a file the server does not have.
        tcp.send(f"PRIVMSG #files :http://{srv.web}/f/{'0' * 32}/gone.pdf")
        wait("a missing file", lambda: "gone.pdf · not available" in log_text(b))
        print("errors: ok:", refusal)

        # After a restart the page asks for a new token; files survive restarts.
        srv.restart()
        wait("alice back", lambda: a.find_element(By.ID, "status").text == "alice" and btn.is_enabled(), 30)
        tcp = Irc(srv.irc, "tina")
        tcp.send("JOIN #files")
        # Past the history the JOIN replays, which has the links from before.
        tcp.send("PING :joined")
        tcp.expect(lambda l: " PONG " in l and l.endswith("joined"))
        pick(a, "again.txt", b"after a restart\n")
        assert fetch(link("#files", "again.txt")) == b"after a restart\n"
        wait("the old thumbnail after the restart", lambda: shown(a, 400))
        stored = sorted(n for _, _, ns in os.walk(os.path.join(srv.dir, "files")) for n in ns)
        assert stored == ["again.txt", "dot.gif", "image.png", "notes été.bin"], stored
        print("reconnection: ok")
    finally:
        for d in (a, b):
            if d:
                d.quit()
        srv.stop()

    # A server without files: the button is off and says why.
    srv = Server(binary, "--no-files")
    d = None
    try:
        d = browser()
        d.get(f"http://{srv.web}/?nick=carol&channel=%23files")
        wait("carol in", lambda: d.find_element(By.ID, "status").text == "carol" and "carol" in users(d))
        btn = d.find_element(By.ID, "file-btn")
        assert not btn.is_enabled() and "does not take files" in btn.get_attribute("title")
        d.execute_script(GIVE, "drop", "dot.gif", "image/gif", base64.b64encode(GIF).decode())
        wait("the drop refused", lambda: "dot.gif was not sent: This server does not take files" in log_text(d))
        print("files: ok")
    finally:
        if d:
            d.quit()
        srv.stop()


if __name__ == "__main__":
    main()

//! The desktop client driven the way a person would: a real server on
//! loopback, real GUI clients on an Xvfb display, real X input events from
//! xdotool (typing, Enter, double-click, drag, button clicks), and assertions
//! on what each window shows, read from its probe file (LANCHAT_GUI_PROBE).
//!
//! Needs Xvfb and xdotool, and for the notifications dunst, dbus-daemon
//! and notify-send (`make test-gui` installs them); without them the
//! tests fail and say so. A screenshot is saved as target/gui-screenshot.png.
//! Every window's LAN discovery asks loopback addresses only.

#![cfg(feature = "gui")]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{DEADLINE, Server, temp_dir, tls_of, wait_for};

/// Where a screenshot for the README goes: target/ on every run (so a test
/// run leaves the tree clean), docs/ under `make screenshots`
/// (LANCHAT_README_SHOTS=1), which is how the committed ones are made.
fn readme_shot(name: &str) -> PathBuf {
    let dir = if std::env::var_os("LANCHAT_README_SHOTS").is_some() { "docs" } else { "target" };
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(dir).join(name)
}

fn have(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A private X server.
struct Xvfb {
    child: Child,
    display: String,
}

impl Xvfb {
    fn start() -> Xvfb {
        assert!(have("Xvfb") && have("xdotool"), "Xvfb or xdotool is not installed: `make test-gui` installs them");
        // Xvfb picks a free display itself and writes its number to our pipe
        // once it accepts clients (-displayfd; several tests run at once).
        // -noreset: otherwise it resets when its first client leaves, and
        // refuses the clients that connect meanwhile.
        let (reader, writer) = std::io::pipe().expect("pipe");
        let child = Command::new("Xvfb")
            .args(["-displayfd", "1", "-screen", "0", "2048x1100x24", "-nolisten", "tcp", "-noreset"])
            .stdin(Stdio::null())
            .stdout(writer)
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot start Xvfb");
        let mut line = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(reader), &mut line).expect("Xvfb's display number");
        let n: u32 = line.trim().parse().unwrap_or_else(|_| panic!("Xvfb did not start: {line:?}"));
        Xvfb { child, display: format!(":{n}") }
    }

    fn xdotool(&self, args: &[&str]) -> String {
        let out = Command::new("xdotool").args(args).env("DISPLAY", &self.display).output().expect("xdotool");
        assert!(out.status.success(), "xdotool {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Saves one window as a small PNG (64 colours) for the README.
    fn screenshot_window(&self, window: &str, path: &Path) {
        assert!(have("import") && have("convert"), "imagemagick is needed for the README's screenshots");
        let tmp = path.with_extension("tmp.png");
        let ok = Command::new("import").args(["-window", window]).arg(&tmp).env("DISPLAY", &self.display).status();
        assert!(ok.is_ok_and(|s| s.success()), "import failed");
        let ok = Command::new("convert").arg(&tmp).args(["-strip", "+dither", "-colors", "64"]).arg(path).status();
        assert!(ok.is_ok_and(|s| s.success()), "convert failed");
        let _ = std::fs::remove_file(tmp);
        eprintln!("screenshot: {}", path.display());
    }

    /// Saves the whole screen as a PNG (imagemagick's `import`), if it is installed.
    fn screenshot(&self, path: &Path) {
        if !have("import") {
            eprintln!("no screenshot: imagemagick is not installed");
            return;
        }
        let ok = Command::new("import")
            .args(["-window", "root"])
            .arg(path)
            .env("DISPLAY", &self.display)
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "import failed");
        eprintln!("screenshot: {}", path.display());
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        // SIGTERM, so that it removes its lock file and socket.
        let terminated = Command::new("kill").arg(self.child.id().to_string()).status().is_ok_and(|s| s.success());
        if !terminated {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// A child process killed (and reaped) when the guard goes, also when a test panics.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A real notification daemon: dunst on the test's X display, on a private
/// D-Bus session bus (a unix socket in the test's directory, nothing else
/// on it, no service activation), so the client's real `notify-send` has
/// somewhere to deliver.
struct Dunst {
    // Dropped in this order: dunst before its bus.
    _dunst: Killed,
    _bus: Killed,
    /// DBUS_SESSION_BUS_ADDRESS for the clients.
    address: String,
    log: PathBuf,
}

/// One notification dunst holds: application, summary, body.
#[derive(Debug, PartialEq)]
struct Notification {
    app: String,
    summary: String,
    body: String,
}

impl Dunst {
    fn start(x: &Xvfb) -> Dunst {
        for tool in ["dbus-daemon", "dbus-send", "dunst", "dunstctl", "notify-send"] {
            assert!(
                have(tool),
                "{tool} is not installed: `make test` (test-gui) installs dunst, dbus and libnotify-bin"
            );
        }
        let dir = temp_dir("dunst");
        let socket = dir.join("bus");
        // The session bus's own config, without the system's service
        // directories: a dunst the bus activated itself would not be ours.
        let conf = format!(
            "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n \
             \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n\
             <busconfig><type>session</type><listen>unix:path={}</listen><auth>EXTERNAL</auth>\
             <policy context=\"default\"><allow send_destination=\"*\" eavesdrop=\"true\"/>\
             <allow eavesdrop=\"true\"/><allow own=\"*\"/></policy></busconfig>\n",
            socket.display()
        );
        std::fs::write(dir.join("bus.conf"), conf).unwrap();
        let (reader, writer) = std::io::pipe().expect("pipe");
        let bus = Command::new("dbus-daemon")
            .arg(format!("--config-file={}", dir.join("bus.conf").display()))
            .args(["--nofork", "--print-address=1"])
            .stdin(Stdio::null())
            .stdout(writer)
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot start dbus-daemon");
        let bus = Killed(bus);
        // The address, printed once the bus listens.
        let mut address = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(reader), &mut address).expect("the bus address");
        let address = address.trim().to_string();
        assert!(address.starts_with("unix:path="), "dbus-daemon did not start: {address:?}");
        // dunst's own config, not the user's: its popups at the bottom
        // right, below the test's windows, where no click lands.
        let rc = dir.join("dunstrc");
        std::fs::write(&rc, "[global]\norigin = bottom-right\noffset = 0x0\nwidth = 300\n").unwrap();
        let log = dir.join("dunst.log");
        let dunst = Command::new("dunst")
            .arg("-config")
            .arg(&rc)
            .env("DISPLAY", &x.display)
            .env("DBUS_SESSION_BUS_ADDRESS", &address)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("cannot start dunst");
        let d = Dunst { _dunst: Killed(dunst), _bus: bus, address, log };
        wait_for(&format!("dunst on the bus (its log: {})", d.log.display()), || d.ctl(&["count", "history"]));
        d
    }

    /// Runs dunstctl against this bus: its output, or None if it failed
    /// (dunst not on the bus yet).
    fn ctl(&self, args: &[&str]) -> Option<String> {
        let out = Command::new("dunstctl")
            .args(args)
            .env("DBUS_SESSION_BUS_ADDRESS", &self.address)
            .stderr(Stdio::null())
            .output()
            .ok()?;
        out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Closes what dunst shows (into its history) and reads the history,
    /// newest first.
    fn received(&self) -> Vec<Notification> {
        self.ctl(&["close-all"]).expect("dunstctl close-all");
        let json = self.ctl(&["history"]).expect("dunstctl history");
        // dunstctl's JSON puts each field on its own lines: `"name" : {`,
        // then `"data" : "value"`.
        let (mut list, mut field) = (Vec::new(), "");
        let (mut app, mut summary, mut body) = (None, None, None);
        for line in json.lines().map(str::trim) {
            if let Some(name) = line.strip_suffix(" : {") {
                field = name.trim_matches('"');
            } else if let Some(v) = line.strip_prefix("\"data\" : \"").and_then(|v| v.strip_suffix('"')) {
                let v = Some(v.replace("\\\"", "\"").replace("\\\\", "\\"));
                match field {
                    "appname" => app = v,
                    "summary" => summary = v,
                    "body" => body = v,
                    _ => {}
                }
            }
            if app.is_some() && summary.is_some() && body.is_some() {
                let (app, summary, body) = (app.take().unwrap(), summary.take().unwrap(), body.take().unwrap());
                list.push(Notification { app, summary, body });
            }
        }
        list
    }

    /// Waits until dunst has received a notification from lanchat with this summary and body.
    fn wait(&self, summary: &str, body: &str) {
        let want = Notification { app: "lanchat".into(), summary: summary.into(), body: body.into() };
        let mut seen = Vec::new();
        let end = Instant::now() + DEADLINE;
        while Instant::now() < end {
            seen = self.received();
            if seen.contains(&want) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("dunst did not receive {want:?}; it has {seen:?} (its log: {})", self.log.display());
    }
}

/// What a window showed at one moment, parsed from its probe file.
#[derive(Clone, Debug)]
struct Probe(String);

impl Probe {
    fn get(&self, key: &str) -> &str {
        let prefix = format!("{key}: ");
        self.0.lines().find_map(|l| l.strip_prefix(&prefix)).unwrap_or("")
    }
    fn all(&self, key: &str) -> Vec<&str> {
        let prefix = format!("{key}: ");
        self.0.lines().filter_map(|l| l.strip_prefix(&prefix)).collect()
    }
    fn info(&self) -> Vec<&str> {
        self.all("info")
    }
    fn log(&self, tab: &str) -> Vec<&str> {
        self.all(&format!("log[{tab}]"))
    }
    fn log_has(&self, tab: &str, needle: &str) -> bool {
        self.log(tab).iter().any(|l| l.contains(needle))
    }
    fn users(&self) -> Vec<&str> {
        self.get("users").split(',').filter(|s| !s.is_empty()).collect()
    }
    fn tabs(&self) -> Vec<&str> {
        self.get("tabs").split(',').collect()
    }
    fn num(&self, key: &str) -> i64 {
        self.get(key).parse().unwrap_or(-1)
    }
    /// The centre of a widget, inside the window.
    fn centre(&self, key: &str) -> (i32, i32) {
        let v: Vec<i32> = self.get(key).split(' ').map(|n| n.parse().unwrap()).collect();
        (v[0] + v[2] / 2, v[1] + v[3] / 2)
    }
    fn area(&self, key: &str) -> (i32, i32, i32, i32) {
        let v: Vec<i32> = self.get(key).split(' ').map(|n| n.parse().unwrap()).collect();
        (v[0], v[1], v[2], v[3])
    }
}

/// A GUI client process.
struct Gui<'x> {
    x: &'x Xvfb,
    child: Child,
    probe: PathBuf,
    config_home: PathBuf,
    window: String,
}

impl<'x> Gui<'x> {
    fn start(x: &'x Xvfb, server: &str, nick: &str, at: (i32, i32)) -> Gui<'x> {
        // Port 9 (discard) on loopback: discovery finds nothing, and reaches nothing else.
        Gui::start_discovering(x, server, nick, at, "127.0.0.1:9")
    }

    /// Starts a window whose connect dialog asks `discover` (loopback addresses).
    fn start_discovering(x: &'x Xvfb, server: &str, nick: &str, at: (i32, i32), discover: &str) -> Gui<'x> {
        Gui::start_with(x, server, nick, at, discover, &[])
    }

    /// [`Gui::start_discovering`] with more flags.
    fn start_with(x: &'x Xvfb, server: &str, nick: &str, at: (i32, i32), discover: &str, extra: &[&str]) -> Gui<'x> {
        Gui::start_env(x, server, nick, at, discover, extra, &[], None)
    }

    /// [`Gui::start_with`] with more environment (PATH, the session bus),
    /// and the config of another window.
    #[allow(clippy::too_many_arguments)]
    fn start_env(
        x: &'x Xvfb,
        server: &str,
        nick: &str,
        at: (i32, i32),
        discover: &str,
        extra: &[&str],
        env: &[(&str, &str)],
        config: Option<&Path>,
    ) -> Gui<'x> {
        assert!(discover.split(',').all(|a| a.starts_with("127.")), "discovery must stay on loopback");
        let dir = temp_dir(&format!("gui-{nick}"));
        let probe = dir.join("probe.txt");
        let config_home = config.map_or_else(|| dir.join("config"), Path::to_path_buf);
        let child = Command::new(env!("CARGO_BIN_EXE_lanchat"))
            .args(["--client", "--server", server, "--nick", nick, "--channel", "#lobby", "--discover-addr", discover])
            .args(extra)
            .env("DISPLAY", &x.display)
            .env("LANCHAT_GUI_PROBE", &probe)
            .env("XDG_CONFIG_HOME", &config_home)
            .env("HOME", &dir)
            // No notification reaches the desktop session the tests run in:
            // a window that should notify is given a test's own bus (`env`).
            .env("DBUS_SESSION_BUS_ADDRESS", format!("unix:path={}", dir.join("no-bus").display()))
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .spawn()
            .expect("cannot start the GUI");
        let pid = child.id().to_string();
        let window = wait_for("the GUI window", || {
            let out = Command::new("xdotool")
                .args(["search", "--all", "--onlyvisible", "--pid", &pid, "--class", "lanchat"])
                .env("DISPLAY", &x.display)
                .output()
                .ok()?;
            String::from_utf8_lossy(&out.stdout).lines().next().map(str::to_string)
        });
        x.xdotool(&["windowmove", "--sync", &window, &at.0.to_string(), &at.1.to_string()]);
        Gui { x, child, probe, config_home, window }
    }

    fn probe(&self) -> Option<Probe> {
        std::fs::read_to_string(&self.probe).ok().map(Probe)
    }

    /// Waits until what the window shows satisfies `pred`.
    fn wait(&self, what: &str, pred: impl Fn(&Probe) -> bool) -> Probe {
        let start = Instant::now();
        let end = start + DEADLINE;
        loop {
            let p = self.probe();
            if let Some(p) = p.as_ref().filter(|p| pred(p)) {
                if start.elapsed() > Duration::from_secs(3) {
                    eprintln!("slow: {what} took {:?}", start.elapsed());
                }
                return p.clone();
            }
            if Instant::now() > end {
                panic!("timed out waiting for {what}; the window shows:\n{}", p.map_or(String::new(), |p| p.0));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Gives the window the keyboard focus (as a window manager would on a click).
    fn focus(&self) {
        self.x.xdotool(&["windowfocus", "--sync", &self.window]);
    }

    /// Whether the window's WM_HINTS have the urgency bit, read by xprop.
    fn urgent(&self) -> bool {
        let out = Command::new("xprop")
            .args(["-id", &self.window, "WM_HINTS"])
            .env("DISPLAY", &self.x.display)
            .output()
            .expect("xprop");
        String::from_utf8_lossy(&out.stdout).contains("urgency hint bit is set")
    }

    fn mouse(&self, (x, y): (i32, i32)) {
        self.x.xdotool(&["mousemove", "--window", &self.window, &x.to_string(), &y.to_string()]);
    }

    fn click(&self, at: (i32, i32)) {
        self.mouse(at);
        self.x.xdotool(&["click", "1"]);
    }

    /// Clicks the input line, types `text` and presses Enter.
    fn say(&self, text: &str) {
        let p = self.wait("the input line", |p| !p.get("input_area").is_empty());
        self.click(p.centre("input_area"));
        self.x.xdotool(&["type", "--delay", "5", text]);
        self.x.xdotool(&["key", "Return"]);
    }

    /// Drags on the canvas from one fraction of it to another, in steps.
    fn drag(&self, from: (f64, f64), to: (f64, f64)) {
        let p = self.wait("the canvas", |p| !p.get("canvas_area").is_empty());
        let (cx, cy, cw, ch) = p.area("canvas_area");
        let at = |(fx, fy): (f64, f64)| (cx + (fx * f64::from(cw)) as i32, cy + (fy * f64::from(ch)) as i32);
        self.mouse(at(from));
        self.x.xdotool(&["mousedown", "1"]);
        for i in 1..=20 {
            let t = f64::from(i) / 20.0;
            self.mouse(at((from.0 + (to.0 - from.0) * t, from.1 + (to.1 - from.1) * t)));
        }
        self.x.xdotool(&["mouseup", "1"]);
    }
}

impl Drop for Gui<'_> {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn connected(p: &Probe) -> bool {
    p.info().contains(&"State: connected")
}

#[test]
fn two_people_chat_privately_draw_and_clear() {
    let x = Xvfb::start();
    let server = Server::start(&[]);
    let addr = server.addr();

    let alice = Gui::start(&x, &addr, "alice", (0, 0));
    alice.wait("alice connected", connected);
    let bob = Gui::start(&x, &addr, "bob", (1030, 0));
    let p = alice.wait("bob in alice's user list and log", |p| {
        p.users().iter().any(|u| u.ends_with("bob")) && p.log_has("#lobby", "bob joined")
    });
    assert!(p.users().iter().any(|u| u.ends_with("alice")));
    let info = p.info();
    assert!(info.contains(&format!("Server: {addr}").as_str()), "{info:?}");
    assert!(info.contains(&"Nick: alice") && info.contains(&"Channel: #lobby"), "{info:?}");
    bob.wait("bob connected with a round trip", |p| connected(p) && p.info().iter().any(|l| l.ends_with(" ms")));

    // Chat: typed in one window, shown in both, the emoticon as an emoji.
    alice.say("hello bob :)");
    let p = bob.wait("alice's line at bob", |p| p.log_has("#lobby", "<alice> hello bob 🙂"));
    assert_eq!(p.get("active"), "#lobby");
    alice.wait("alice's own line", |p| p.log_has("#lobby", "<alice> hello bob 🙂"));

    // Private: bob double-clicks alice (first in the sorted list) and writes.
    let p = bob.wait("alice in bob's list", |p| p.users().first().is_some_and(|u| u.ends_with("alice")));
    let (ux, uy, _, _) = p.area("users_area");
    bob.mouse((ux + 30, uy + 10));
    x.xdotool(&["click", "--repeat", "2", "--delay", "80", "1"]);
    bob.wait("a private tab for alice, selected", |p| p.tabs().contains(&"alice") && p.get("active") == "alice");
    bob.say("psst, just you");
    let p = alice.wait("bob's private line at alice", |p| p.log_has("bob", "<bob> psst, just you"));
    assert!(p.tabs().contains(&"bob (1)"), "the tab opened on its own, one line unread: {:?}", p.tabs());
    assert_eq!(p.get("active"), "#lobby");
    assert!(!p.log_has("#lobby", "psst"));
    bob.wait("bob's own private line", |p| p.log_has("alice", "<bob> psst, just you"));

    // Canvas: alice draws; bob sees it while it is drawn and after.
    alice.drag((0.1, 0.2), (0.8, 0.7));
    // Wait until the whole drag was sent: the last segment ends where the mouse was released.
    let ends_at_release = |p: &Probe| {
        p.all("stroke").last().is_some_and(|s| {
            let v: Vec<i64> = s.split(',').skip(3).map(|n| n.parse().unwrap()).collect();
            let (x, y) = (v[v.len() - 2], v[v.len() - 1]);
            (x - 1280).abs() <= 8 && (y - 700).abs() <= 8
        })
    };
    let a = alice.wait("the whole stroke on alice's canvas", |p| p.num("ink") > 50 && ends_at_release(p));
    let b = bob.wait("alice's strokes on bob's canvas", |p| p.num("strokes") == a.num("strokes") && ends_at_release(p));
    // The same place whatever the window: the same segments, the same pixels.
    assert_eq!(a.all("stroke"), b.all("stroke"));
    assert!((b.num("ink") - a.num("ink")).abs() <= a.num("ink") / 20, "alice {} bob {}", a.num("ink"), b.num("ink"));

    // Another colour and a wider brush: red, brush 20.
    let p = alice.probe().unwrap();
    alice.click(p.centre("colour_choice"));
    x.xdotool(&["key", "Down", "Return"]); // the menu opens on Black
    let (bx, by, bw, _) = p.area("brush_spinner");
    alice.click((bx + bw / 3, by + 8));
    x.xdotool(&["key", "ctrl+a"]);
    x.xdotool(&["type", "20"]);
    x.xdotool(&["key", "Tab"]);
    alice.drag((0.2, 0.8), (0.7, 0.3));
    bob.wait("alice's red, wide stroke at bob", |p| p.all("stroke").iter().any(|s| s.contains(",e02020,20,")));

    // A late joiner sees the drawing as it stands.
    let carol = Gui::start(&x, &addr, "carol", (1030, 640));
    let strokes = alice
        .wait("all of alice's strokes", |p| p.all("stroke").iter().any(|s| s.contains(",e02020,20,")))
        .num("strokes");
    carol.wait("the replayed drawing at carol", |p| p.num("strokes") >= strokes && p.num("ink") > 50);
    std::fs::create_dir_all("target").ok();
    x.screenshot(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/target/gui-screenshot.png")));

    // The same place whatever the window size: carol's window grows, her
    // canvas with it, and the ink is where it is on alice's (logical units).
    let a = alice.probe().unwrap();
    x.xdotool(&["windowsize", "--sync", &carol.window, "1800", "1000"]);
    let c =
        carol.wait("a bigger canvas at carol", |p| p.area("canvas_area").2 > 800 && p.num("ink") > a.num("ink") * 2);
    let boxes: Vec<Vec<i32>> =
        [&a, &c].iter().map(|p| p.get("ink_box").split(' ').map(|n| n.parse().unwrap()).collect()).collect();
    for i in 0..4 {
        assert!(
            (boxes[0][i] - boxes[1][i]).abs() <= 8,
            "ink at {:?} on alice's canvas, {:?} on carol's",
            boxes[0],
            boxes[1]
        );
    }
    x.screenshot(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/target/gui-screenshot-resized.png")));

    // Clear: only an operator may; alice (who made #lobby) presses Clear,
    // everyone's canvas empties and the log says who.
    let p = bob.wait("bob's clear button", |p| !p.get("clear_button").is_empty());
    bob.click(p.centre("clear_button"));
    bob.wait("the refusal at bob", |p| p.log("#lobby").iter().any(|l| l.contains("not channel operator")));
    let p = alice.probe().unwrap();
    alice.click(p.centre("clear_button"));
    for (who, gui) in [("alice", &alice), ("carol", &carol), ("bob", &bob)] {
        gui.wait(&format!("an empty canvas at {who}"), |p| {
            p.num("strokes") == 0 && p.num("ink") == 0 && p.log_has("#lobby", "alice cleared the canvas")
        });
    }

    // Someone leaves: gone from the list at once.
    drop(carol);
    alice.wait("carol gone from the list", |p| !p.users().iter().any(|u| u.ends_with("carol")));

    // The last server and nick are remembered.
    let conf = std::fs::read_to_string(alice.config_home.join("lanchat/client.conf")).expect("client.conf");
    assert!(conf.contains(&format!("server={addr}")) && conf.contains("nick=alice"), "{conf}");
}

impl Gui<'_> {
    /// Presses Save and reads the PNG it wrote (the log says where).
    fn save(&self, nth: usize) -> lanchat::canvas::raster::Raster {
        let p = self.probe().unwrap();
        self.click(p.centre("save_button"));
        let p = self.wait("the canvas saved", |p| {
            p.log("#lobby").iter().filter(|l| l.contains("canvas saved as ")).count() > nth
        });
        let line = p.log("#lobby").into_iter().filter(|l| l.contains("canvas saved as ")).nth(nth).unwrap();
        let path = line.split("canvas saved as ").nth(1).unwrap().trim();
        lanchat::canvas::png::decode(&std::fs::read(path).unwrap()).unwrap()
    }
}

fn differing_pixels(a: &lanchat::canvas::raster::Raster, b: &lanchat::canvas::raster::Raster) -> usize {
    a.px.chunks_exact(3).zip(b.px.chunks_exact(3)).filter(|(x, y)| x != y).count()
}

#[test]
fn the_canvas_is_kept_across_a_restart_and_undo_and_the_eraser_reach_everyone() {
    let x = Xvfb::start();
    let mut server = Server::start(&[]);
    let addr = server.addr();
    let alice = Gui::start(&x, &addr, "alice", (0, 0));
    alice.wait("alice connected", connected);
    let bob = Gui::start(&x, &addr, "bob", (1030, 0));
    bob.wait("bob connected", connected);
    alice.wait("bob in alice's list", |p| p.users().iter().any(|u| u.ends_with("bob")));

    // alice draws two strokes; bob sees them.
    alice.drag((0.1, 0.2), (0.8, 0.7));
    alice.drag((0.1, 0.8), (0.8, 0.3));
    // The whole of a drag is drawn when the last segment ends where the mouse was released.
    let ends_at = |x: i64, y: i64| {
        move |p: &Probe| {
            p.all("stroke").last().is_some_and(|s| {
                let v: Vec<i64> = s.split(',').skip(3).map(|n| n.parse().unwrap()).collect();
                (v[v.len() - 2] - x).abs() <= 8 && (v[v.len() - 1] - y).abs() <= 8
            })
        }
    };
    let a = alice.wait("alice's strokes", ends_at(1280, 300));
    bob.wait("alice's strokes at bob", |p| p.num("strokes") == a.num("strokes") && p.num("ink") > 50);

    // The eraser: a stroke in the paper's colour, across the first stroke.
    let p = alice.probe().unwrap();
    alice.click(p.centre("colour_choice"));
    x.xdotool(&["key", "Down", "Down", "Down", "Down", "Down", "Down", "Down", "Return"]);
    alice.drag((0.45, 0.1), (0.45, 0.9));
    bob.wait("alice's eraser stroke at bob", |p| p.all("stroke").iter().any(|s| s.contains(",ffffff,")));

    // bob draws and takes it back: gone at alice's too.
    let before_a = alice.wait("alice's whole eraser stroke", ends_at(720, 900)).num("strokes");
    let before_b = bob.wait("alice's whole eraser stroke at bob", ends_at(720, 900)).num("strokes");
    bob.drag((0.2, 0.5), (0.9, 0.5));
    alice.wait("bob's whole stroke at alice", ends_at(1440, 500));
    let p = bob.probe().unwrap();
    bob.click(p.centre("undo_button"));
    bob.wait("bob's stroke taken back at bob", |p| p.num("strokes") == before_b && p.num("ink") > 0);
    let a = alice.wait("bob's stroke taken back at alice", |p| p.num("strokes") == before_a);
    x.screenshot(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/target/gui-canvas-undo-eraser.png")));

    // Both windows save the same picture.
    let saved_a = alice.save(0);
    let saved_b = bob.save(0);
    assert!(saved_a.ink() > 100, "{} pixels of ink", saved_a.ink());
    assert_eq!(differing_pixels(&saved_a, &saved_b), 0);
    assert!(a.num("ink") > 0);

    // The server restarts: a newly started client shows the same picture.
    server.restart();
    let carol = Gui::start(&x, &server.addr(), "carol", (1030, 640));
    carol.wait("the canvas at carol", |p| connected(p) && p.num("ink") > 0);
    let saved_c = carol.save(0);
    assert_eq!(differing_pixels(&saved_a, &saved_c), 0);
    x.screenshot(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/target/gui-canvas-after-restart.png")));
}

#[test]
fn taken_nick_and_lost_server_are_shown() {
    let x = Xvfb::start();
    let server = Server::start(&[]);
    let addr = server.addr();
    let first = Gui::start(&x, &addr, "dave", (0, 0));
    first.wait("dave connected", connected);
    let second = Gui::start(&x, &addr, "dave", (1030, 0));
    let p = second.wait("a clear message and another nick", |p| {
        connected(p) && p.log_has("#lobby", "\"dave\" is taken") && !p.info().contains(&"Nick: dave")
    });
    let nick = p.info().iter().find_map(|l| l.strip_prefix("Nick: ")).unwrap().to_string();
    assert!(nick.starts_with("dave"), "{nick}");
    first.wait("the second dave in the list", |p| p.users().iter().any(|u| u.ends_with(&nick)));

    // Nick… changes the nick: a dialog, a new nick typed, Enter.
    let p = second.probe().unwrap();
    second.click(p.centre("nick_button"));
    // Typed only once the dialog is there (and has the keyboard).
    x.xdotool(&["search", "--sync", "--onlyvisible", "--name", lanchat::gui::NICK_DIALOG_TITLE]);
    x.xdotool(&["key", "ctrl+a"]);
    x.xdotool(&["type", "--delay", "5", "erin"]);
    x.xdotool(&["key", "Return"]);
    second.wait("the new nick", |p| p.info().contains(&"Nick: erin"));
    first.wait("erin in the list", |p| p.users().iter().any(|u| u.ends_with("erin")));

    // Server… moves to another server.
    let mut other = Server::start(&[]);
    let p = first.probe().unwrap();
    first.click(p.centre("server_button"));
    x.xdotool(&["key", "ctrl+a"]);
    x.xdotool(&["type", "--delay", "5", &other.addr()]);
    x.xdotool(&["key", "Return"]);
    first.wait("connected to the other server", |p| {
        connected(p) && p.info().contains(&format!("Server: {}", other.addr()).as_str()) && p.users() == ["@dave"]
    });
    second.wait("dave gone from the first server", |p| p.users().iter().all(|u| !u.ends_with("dave")));
    drop(server);

    // The server goes away: the info pane says the client is reconnecting.
    other.kill9();
    first.wait("reconnecting shown", |p| p.info().iter().any(|l| l.starts_with("State: reconnecting in")));
    // A line typed meanwhile is not lost silently: it is sent later or reported.
    first.say("are you there?");
    // Disconnect by the button: the state says so and the button offers Connect.
    let p = first.probe().unwrap();
    first.click(p.centre("connect_button"));
    first.wait("disconnected", |p| {
        p.info().contains(&"State: disconnected")
            && p.log_has("#lobby", "not sent")
            && p.log_has("#lobby", "are you there?")
    });
}

#[test]
fn the_log_follows_unless_scrolled_up() {
    let x = Xvfb::start();
    let server = Server::start(&[]);
    let addr = server.addr();
    let gui = Gui::start(&x, &addr, "fay", (0, 0));
    gui.wait("fay connected", connected);
    let mut talker = common::Client::register(&addr, "talker");
    talker.send("JOIN #lobby");
    talker.expect_has(" 366 ");
    for i in 0..80 {
        talker.send(&format!("PRIVMSG #lobby :line {i}"));
    }
    let p = gui.wait("80 lines, followed", |p| p.log_has("#lobby", "line 79"));
    assert_eq!(p.get("following[#lobby]"), "true");
    // The emoji picker inserts into the input line.
    gui.click(p.centre("emoji_button"));
    x.xdotool(&["key", "Down", "Return"]);
    gui.wait("the emoji in the input line", |p| p.get("input") == "🙂");
    x.xdotool(&["key", "Return"]);
    let p = gui.wait("the emoji sent", |p| p.log_has("#lobby", "<fay> 🙂"));

    // Scroll up with the wheel: a new line does not pull the view down.
    gui.mouse(p.centre("log_area"));
    x.xdotool(&["click", "--repeat", "10", "--delay", "20", "4"]);
    gui.wait("the log scrolled up", |p| p.get("following[#lobby]") == "false");
    talker.send("PRIVMSG #lobby :while scrolled up");
    let p = gui.wait("the line that came while scrolled up", |p| p.log_has("#lobby", "while scrolled up"));
    assert_eq!(p.get("following[#lobby]"), "false", "the view moved to the end");
    // Back at the bottom, it follows again.
    x.xdotool(&["click", "--repeat", "30", "--delay", "20", "5"]);
    gui.wait("the log scrolled down", |p| p.get("following[#lobby]") == "true");
    talker.send("PRIVMSG #lobby :at the bottom again");
    let p = gui.wait("the next line", |p| p.log_has("#lobby", "at the bottom again"));
    assert_eq!(p.get("following[#lobby]"), "true");

    // A long line is wrapped to the width of the log, and still followed.
    let long: Vec<String> = (0..60).map(|i| format!("word{i}")).collect();
    talker.send(&format!("PRIVMSG #lobby :{} :)", long.join(" ")));
    let p = gui.wait("the long line", |p| p.log_has("#lobby", "word59 🙂"));
    assert_eq!(p.get("following[#lobby]"), "true");
    x.screenshot(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/target/gui-screenshot-log.png")));
}

#[test]
fn the_connect_dialog_lists_servers_found_on_the_lan() {
    let x = Xvfb::start();
    let home = Server::start(&["--name", "home-pi"]);
    let lab = Server::start(&["--name", "lab-pi"]);
    let targets = format!("{},{}", home.discovery_addr().unwrap(), lab.discovery_addr().unwrap());
    let gui = Gui::start_discovering(&x, &home.addr(), "fay", (0, 0), &targets);
    gui.wait("fay connected to home", connected);

    // Server… opens the dialog, which asks the LAN and lists both servers.
    let p = gui.probe().unwrap();
    gui.click(p.centre("server_button"));
    let p = gui.wait("both servers listed", |p| p.get("dialog") == "shown" && p.all("discovered").len() == 2);
    assert_eq!(p.get("dialog_status"), "2 servers found.");
    let listed = p.all("discovered");
    assert!(listed[0].starts_with(&format!("home-pi {} ", home.addr())), "{listed:?}");
    assert!(listed[1].starts_with(&format!("lab-pi {} ", lab.addr())), "{listed:?}");

    // Pick the second row and connect: a real click in the dialog's window.
    let dialog = x.xdotool(&["search", "--sync", "--onlyvisible", "--name", "Connect to a lanchat server"]);
    let dialog = dialog.lines().next().unwrap().to_string();
    let (lx, ly, _, _) = p.area("dialog_list_area");
    x.xdotool(&["mousemove", "--window", &dialog, &(lx + 40).to_string(), &(ly + 28).to_string()]);
    x.xdotool(&["click", "1"]);
    gui.wait("lab's address in the line", |p| p.get("dialog_input") == lab.addr());
    x.screenshot(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/gui-screenshot-dialog.png"));
    x.screenshot_window(&dialog, &readme_shot("screenshot-discovery.png"));
    let (bx, by) = p.centre("dialog_ok_button");
    x.xdotool(&["mousemove", "--window", &dialog, &bx.to_string(), &by.to_string()]);
    x.xdotool(&["click", "1"]);
    gui.wait("connected to lab", |p| {
        p.get("dialog") == "hidden" && connected(p) && p.info().contains(&format!("Server: {}", lab.addr()).as_str())
    });
    x.screenshot(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/gui-screenshot-connect.png"));
}

#[test]
fn chat_and_canvas_work_on_inspircd_too() {
    let x = Xvfb::start();
    let ircd = common::Inspircd::start();
    let ann = Gui::start(&x, &ircd.addr(), "ann", (0, 0));
    ann.wait("ann connected to InspIRCd", connected);
    let ben = Gui::start(&x, &ircd.addr(), "ben", (1030, 0));
    ben.wait("ben connected", connected);
    ann.wait("ben in ann's list", |p| p.users().iter().any(|u| u.ends_with("ben")));
    ann.say("hello from lanchat on InspIRCd");
    ben.wait("ann's line at ben", |p| p.log_has("#lobby", "<ann> hello from lanchat on InspIRCd"));
    // The canvas travels as TAGMSG with client-only tags: InspIRCd relays them.
    ann.drag((0.2, 0.2), (0.6, 0.6));
    let a = ann.wait("ann's strokes", |p| p.num("strokes") > 0 && p.num("ink") > 0);
    ben.wait("ann's drawing at ben", |p| p.num("strokes") >= a.num("strokes") && p.num("ink") > 0);
}

/// The pinned fingerprint of `server` in a window's config, if any.
fn pinned(gui: &Gui, server: &str) -> Option<String> {
    let conf = std::fs::read_to_string(gui.config_home.join("lanchat/client.conf")).ok()?;
    let key = format!("pin.{server}=");
    conf.lines().find_map(|l| l.strip_prefix(&key)).map(str::to_string)
}

#[test]
fn tls_shows_the_lock_and_the_fingerprint_and_plain_says_so() {
    let x = Xvfb::start();
    let s = Server::start(&["--tls-port", "0", "--name", "secure-pi"]);
    let (port, fp) = tls_of(&s);
    let tls_addr = format!("127.0.0.1:{port}");
    let gui = Gui::start_with(&x, &tls_addr, "tia", (0, 0), "127.0.0.1:9", &["--tls"]);
    let p = gui.wait("tia connected over TLS", |p| connected(p) && p.get("fingerprint") == fp);
    let info = p.info();
    let at = info.iter().position(|l| *l == "Security: 🔒 TLS, SHA-256:").expect("the lock");
    assert_eq!(info[at + 1..at + 4].join(":"), fp, "the whole fingerprint, in three lines");
    assert!(p.log_has("#lobby", &format!("connected to {tls_addr} over TLS, certificate SHA-256 {fp}")));
    assert!(p.log_has("#lobby", &format!("pinned the certificate of {tls_addr}, SHA-256 {fp}")));
    assert_eq!(pinned(&gui, &tls_addr), Some(fp.clone()), "pinned on first use");
    x.screenshot(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/gui-screenshot-tls.png"));

    // Plain: said, no lock.
    {
        let plain = Gui::start(&x, &s.addr(), "pat", (1030, 0));
        let p = plain.wait("pat connected", connected);
        assert!(p.info().contains(&"Security: not encrypted"), "{:?}", p.info());
        assert_eq!(p.get("fingerprint"), "");
    }

    // From the connect dialog: discovery says the server has TLS; picking it
    // prefers TLS and pins the fingerprint discovery reported.
    let disc = s.discovery_addr().expect("discovery runs");
    let dgui = Gui::start_with(&x, &s.addr(), "dee", (1030, 0), &disc, &[]);
    dgui.wait("dee connected in the clear", connected);
    let p = dgui.probe().unwrap();
    dgui.click(p.centre("server_button"));
    let p = dgui.wait("the server listed with TLS", |p| p.get("dialog") == "shown" && p.all("discovered").len() == 1);
    assert!(p.all("discovered")[0].ends_with(&format!(" tls {port} {fp}")), "{:?}", p.all("discovered"));
    let dialog = x.xdotool(&["search", "--sync", "--onlyvisible", "--name", "Connect to a lanchat server"]);
    let dialog = dialog.lines().next().unwrap().to_string();
    let (lx, ly, _, _) = p.area("dialog_list_area");
    x.xdotool(&["mousemove", "--window", &dialog, &(lx + 40).to_string(), &(ly + 8).to_string()]);
    x.xdotool(&["click", "1"]);
    dgui.wait("the TLS address picked", |p| p.get("dialog_input") == tls_addr && p.get("dialog_tls") == "true");
    let (bx, by) = p.centre("dialog_ok_button");
    x.xdotool(&["mousemove", "--window", &dialog, &bx.to_string(), &by.to_string()]);
    x.xdotool(&["click", "1"]);
    let p = dgui.wait("dee connected over TLS", |p| connected(p) && p.get("fingerprint") == fp);
    assert!(p.log_has("#lobby", "(as LAN discovery reported it)"));
    assert!(p.info().contains(&"Security: 🔒 TLS, SHA-256:"));
    assert_eq!(pinned(&dgui, &tls_addr), Some(fp));
}

/// Right-clicks the `row`th user (from 0) of the list and picks the
/// `item`th entry (from 1) of the menu that opens, by keyboard.
fn user_menu(gui: &Gui<'_>, row: i32, item: usize, screenshot: Option<&str>) {
    let p = gui.wait("the user list", |p| !p.get("users_area").is_empty());
    let (ux, uy, _, _) = p.area("users_area");
    let pid = gui.child.id().to_string();
    let windows = || {
        let out = Command::new("xdotool")
            .args(["search", "--all", "--onlyvisible", "--pid", &pid, "--name", ""])
            .env("DISPLAY", &gui.x.display)
            .output()
            .expect("xdotool");
        String::from_utf8_lossy(&out.stdout).lines().count()
    };
    let before = windows();
    gui.mouse((ux + 30, uy + 10 + row * 18));
    gui.x.xdotool(&["click", "3"]);
    wait_for("the user menu to open", || (windows() > before).then_some(()));
    if let Some(name) = screenshot {
        gui.x.screenshot(&Path::new(env!("CARGO_MANIFEST_DIR")).join("target").join(name));
    }
    for _ in 0..item {
        gui.x.xdotool(&["key", "Down"]);
    }
    gui.x.xdotool(&["key", "Return"]);
}

#[test]
fn an_operator_moderates_from_the_user_list() {
    let x = Xvfb::start();
    let server = Server::start(&[]);
    let addr = server.addr();
    // alice made #lobby, so she runs it.
    let alice = Gui::start(&x, &addr, "alice", (0, 0));
    alice.wait("alice connected", connected);
    let bob = Gui::start(&x, &addr, "bob", (1030, 0));
    alice.wait("bob in alice's list, alice an operator", |p| p.users() == ["@alice", "bob"]);
    bob.wait("bob connected", connected);

    // Voice: the first entry of the menu on bob.
    user_menu(&alice, 1, 1, None);
    alice.wait("bob voiced in alice's list", |p| p.users() == ["@alice", "+bob"]);
    bob.wait("bob told he got voice", |p| {
        p.log_has("#lobby", "alice gave voice to bob") && p.users().contains(&"+bob")
    });

    // Mute the channel (the fifth entry now): bob, voiced, still speaks.
    user_menu(&alice, 1, 5, Some("gui-screenshot-usermenu.png"));
    bob.wait("the channel muted", |p| p.log_has("#lobby", "alice made the channel moderated"));
    bob.say("I still have a voice");
    alice.wait("bob's line under +m", |p| p.log_has("#lobby", "<bob> I still have a voice"));

    // Make him an operator (second), then kick him (third on an operator).
    user_menu(&alice, 1, 2, None);
    alice.wait("bob an operator", |p| p.users() == ["@alice", "@+bob"]);
    user_menu(&alice, 1, 3, None);
    alice.wait("bob kicked", |p| p.users() == ["@alice"] && p.log_has("#lobby", "alice kicked bob from #lobby"));
    let p = bob.wait("bob told he was kicked", |p| p.log_has("#lobby", "alice kicked you from #lobby"));
    assert!(p.users().is_empty(), "{:?}", p.users());

    // bob, back but no operator, gets no actions (the menu says why), and
    // is told why he cannot speak in the muted channel.
    bob.say("/join #lobby");
    alice.wait("bob back", |p| p.users() == ["@alice", "bob"]);
    user_menu(&bob, 0, 1, None);
    bob.say("still here");
    bob.wait("bob told he cannot speak", |p| p.log_has("#lobby", "Cannot send to channel (+m)"));
    let p = alice.wait("nothing changed", |p| p.users() == ["@alice", "bob"]);
    assert!(!p.log_has("#lobby", "still here"));
}

#[test]
fn a_changed_certificate_is_refused_until_slash_accept() {
    let x = Xvfb::start();
    let mut s = Server::start(&["--tls-port", "0"]);
    let (port, fp) = tls_of(&s);
    let tls_addr = format!("127.0.0.1:{port}");
    let gui = Gui::start_with(&x, &tls_addr, "ada", (0, 0), "127.0.0.1:9", &["--tls"]);
    gui.wait("ada connected over TLS", |p| connected(p) && p.get("fingerprint") == fp);

    // The same address comes back with another certificate: refused, said, the pin kept.
    s.kill9();
    let other = Server::start_in(&temp_dir("gui-tls-other"), &["--tls-port", &port.to_string()]);
    let (_, fp2) = tls_of(&other);
    let refused = format!("the TLS certificate of {tls_addr} changed. Pinned SHA-256 {fp}");
    let p = gui.wait("the new certificate refused", |p| p.log("#lobby").iter().any(|l| l.contains(&refused)));
    assert!(!connected(&p));
    assert!(p.log_has("#lobby", "connection lost: the server closed the connection"), "{:?}", p.log("#lobby"));
    assert!(p.log("#lobby").iter().any(|l| l.contains(&format!("the server now shows SHA-256 {fp2}"))));
    assert_eq!(pinned(&gui, &tls_addr), Some(fp.clone()), "the pin is kept");
    x.screenshot(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/gui-screenshot-refused.png"));

    // /accept trusts what was refused, pins it and connects.
    gui.say("/accept");
    let p = gui.wait("ada connected with the new certificate", |p| connected(p) && p.get("fingerprint") == fp2);
    assert!(p.log_has("#lobby", &format!("accepted: pinned the certificate of {tls_addr}, SHA-256 {fp2}")));
    assert_eq!(pinned(&gui, &tls_addr), Some(fp2));
}

#[test]
fn channels_attention_presence_typing_and_comforts() {
    assert!(have("xprop"), "xprop is not installed (x11-utils)");
    let x = Xvfb::start();
    let server = Server::start(&[]);
    let addr = server.addr();
    // Alice's notifications go through the real notify-send to a real dunst.
    let dunst = Dunst::start(&x);
    // An xdg-open that records the address it was to open: the first on alice's PATH.
    let bin = temp_dir("fake-xdg-open");
    let opened = bin.join("opened.txt");
    std::fs::write(bin.join("xdg-open"), format!("#!/bin/sh\necho \"$1\" >> '{}'\n", opened.display())).unwrap();
    Command::new("chmod").arg("755").arg(bin.join("xdg-open")).status().unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let bus = ("DBUS_SESSION_BUS_ADDRESS", dunst.address.as_str());
    let env = [("PATH", path.as_str()), bus];

    let alice = Gui::start_env(&x, &addr, "alice", (0, 0), "127.0.0.1:9", &[], &env, None);
    alice.wait("alice connected", connected);
    let bob = Gui::start_env(&x, &addr, "bob", (1030, 0), "127.0.0.1:9", &[], &[bus], None);
    bob.wait("bob connected", connected);
    alice.wait("bob in alice's list", |p| p.users().iter().any(|u| u.ends_with("bob")));

    // /join makes a tab with its own list, topic bar and canvas.
    alice.focus();
    alice.say("/join #dev");
    let p = alice.wait("alice in #dev", |p| {
        p.tabs().contains(&"#dev") && p.get("active") == "#dev" && p.users().iter().any(|u| u.ends_with("alice"))
    });
    assert_eq!(p.get("shown_channel"), "#dev");
    assert!(!p.users().iter().any(|u| u.ends_with("bob")), "#dev's own list: {:?}", p.users());
    alice.say("/topic the dev corner");
    alice.wait("the topic bar", |p| p.get("topic") == "#dev: the dev corner");
    alice.drag((0.2, 0.3), (0.7, 0.6));
    alice.wait("ink on #dev's canvas", |p| p.num("ink") > 0);
    let conf = std::fs::read_to_string(alice.config_home.join("lanchat/client.conf")).expect("client.conf");
    let config_home = alice.config_home.clone();
    assert!(conf.contains("channels=#dev"), "joined channels are remembered: {conf}");

    // Bob joins from the Channels… dialog.
    let p = bob.probe().unwrap();
    bob.focus();
    bob.click(p.centre("channels_button"));
    bob.wait("#dev listed with its users and topic", |p| {
        p.get("channels_dialog") == "shown" && p.all("channel_row").contains(&"#dev 1 the dev corner")
    });
    let dialog = x.xdotool(&["search", "--sync", "--onlyvisible", "--name", "^Channels$"]);
    let dialog = dialog.lines().next().unwrap().to_string();
    let p = bob.probe().unwrap();
    let row = p.all("channel_row").iter().position(|r| r.starts_with("#dev ")).unwrap() as i32;
    let (lx, ly, _, _) = p.area("channels_list_area");
    x.xdotool(&["mousemove", "--window", &dialog, &(lx + 40).to_string(), &(ly + 8 + 18 * row).to_string()]);
    x.xdotool(&["click", "1"]);
    bob.wait("#dev picked", |p| p.get("channels_input") == "#dev");
    x.screenshot_window(&dialog, &readme_shot("screenshot-channels.png"));
    let (bx, by) = p.centre("channels_join_button");
    x.xdotool(&["mousemove", "--window", &dialog, &bx.to_string(), &by.to_string()]);
    x.xdotool(&["click", "1"]);
    let p = bob.wait("bob in #dev with its drawing", |p| {
        p.get("channels_dialog") == "hidden" && p.get("active") == "#dev" && p.num("ink") > 0
    });
    assert_eq!(p.get("topic"), "#dev: the dev corner");
    alice.wait("bob in #dev's list", |p| p.users().iter().any(|u| u.ends_with("bob")));

    // Typing: shown under alice's log while bob types, gone when he clears the line.
    bob.focus();
    let p = bob.probe().unwrap();
    bob.click(p.centre("input_area"));
    x.xdotool(&["type", "--delay", "20", "hel"]);
    alice.wait("bob is typing", |p| p.get("typing") == "bob is typing...");
    x.xdotool(&["key", "ctrl+a", "BackSpace"]);
    alice.wait("bob no longer typing", |p| p.get("typing").is_empty());

    // Tab completes alice's nick; the line names her while bob's window has the focus.
    x.xdotool(&["type", "--delay", "20", "ali"]);
    x.xdotool(&["key", "Tab"]);
    bob.wait("the nick completed", |p| p.get("input") == "alice: ");
    x.xdotool(&["type", "--delay", "5", "look at https://example.org/"]);
    x.xdotool(&["key", "Return"]);
    let p = alice.wait("the mention at alice, highlighted, urgent", |p| {
        p.log_has("#dev", "<bob> alice: look at https://example.org/")
            && p.num("mentions[#dev]") == 1
            && p.get("urgent") == "true"
    });
    assert!(alice.urgent(), "WM_HINTS has the urgency bit");
    x.screenshot(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/gui-screenshot-mention.png"));
    assert_eq!(p.get("typing"), "", "a sent line ends typing");
    dunst.wait("bob in #dev", "alice: look at https://example.org/");
    // Up recalls the sent line.
    x.xdotool(&["key", "Up"]);
    bob.wait("the sent line recalled", |p| p.get("input") == "alice: look at https://example.org/");
    x.xdotool(&["key", "ctrl+a", "BackSpace"]);
    alice.focus();
    let p = alice.wait("the hint cleared on focus", |p| p.get("urgent") == "false" && !p.get("link").is_empty());
    assert!(!alice.urgent(), "WM_HINTS without the urgency bit");
    // A click on the address opens it in the browser.
    let (lx, ly) =
        p.get("link").split_once(' ').map(|(a, b)| (a.parse::<i32>().unwrap(), b.parse::<i32>().unwrap())).unwrap();
    alice.click((lx + 12, ly + 6));
    let url = wait_for("xdg-open", || std::fs::read_to_string(&opened).ok().filter(|s| !s.is_empty()));
    assert_eq!(url.trim(), "https://example.org/");

    // A private line while alice's window is in the background: a private tab, a notification.
    bob.focus();
    bob.say("/msg alice are you there?");
    alice.wait("bob's private tab, urgent", |p| p.tabs().contains(&"bob (1)") && p.get("urgent") == "true");
    assert!(alice.urgent());
    dunst.wait("bob", "are you there?");

    // Away: bob marks himself away; alice sees him greyed.
    let p = bob.probe().unwrap();
    bob.click(p.centre("away_button"));
    bob.wait("bob away", |p| p.get("my_away") == "away");
    alice.wait("bob greyed at alice", |p| p.get("away_users").split(',').any(|u| u.ends_with("bob")));
    alice.focus();
    alice.say("/msg bob back soon?");
    let p = alice.wait("alice on bob's private tab", |p| p.get("active") == "bob" && p.log_has("bob", "bob is away"));
    assert_eq!(p.get("shown_channel"), "#lobby", "a private tab shows the main channel's list and canvas");

    // The README's picture: #lobby with a topic, chat, bob greyed, a drawing, bob's private tab.
    alice.say("/msg #lobby");
    alice.wait("#lobby in view", |p| p.get("active") == "#lobby");
    alice.say("/topic Friday: pizza in the lab at 12");
    alice.say("the canvas is for the seating plan :)");
    alice.drag((0.1, 0.8), (0.5, 0.2));
    alice.drag((0.5, 0.2), (0.9, 0.8));
    alice.drag((0.1, 0.8), (0.9, 0.8));
    // The last segment is on the base line and ends where the mouse was released (logical 1440,800).
    alice.wait("the drawing on #lobby's canvas", |p| {
        p.all("stroke").last().is_some_and(|s| {
            let v: Vec<i64> = s.split(',').skip(3).map(|n| n.parse().unwrap()).collect();
            v.chunks(2).all(|xy| (xy[1] - 800).abs() <= 8) && (v[v.len() - 2] - 1440).abs() <= 8
        })
    });
    bob.focus();
    bob.say("/msg alice I'll bring the projector");
    alice.wait("bob's private tab counts one unread", |p| {
        p.tabs().contains(&"bob (1)") && p.get("topic") == "#lobby: Friday: pizza in the lab at 12"
    });
    x.screenshot_window(&alice.window, &readme_shot("screenshot-main.png"));
    alice.focus();

    // Options → Larger text: a bigger font, remembered.
    let p = alice.probe().unwrap();
    alice.click(p.centre("options_button"));
    x.xdotool(&["key", "Down", "Down", "Return"]);
    alice.wait("larger text", |p| p.num("font_size") == 15);
    let conf = std::fs::read_to_string(alice.config_home.join("lanchat/client.conf")).expect("client.conf");
    assert!(conf.contains("font_size=15"), "{conf}");

    // The splitter gives the canvas more of the width.
    let p = alice.probe().unwrap();
    let before = p.area("canvas_area").2;
    let (sx, sy) = p.centre("splitter_area");
    alice.mouse((sx, sy));
    x.xdotool(&["mousedown", "1"]);
    for i in 1..=10 {
        alice.mouse((sx - 12 * i, sy));
    }
    x.xdotool(&["mouseup", "1"]);
    let p = alice.wait("a wider canvas", |p| p.area("canvas_area").2 > before + 80);
    assert!(p.area("log_area").2 < 480, "the chat gave the room: {:?}", p.area("log_area"));

    // Bob quits: alice's private tab says so.
    drop(bob);
    alice.wait("bob left, in the private tab", |p| p.log_has("bob", "bob left the server"));
    let bob = Gui::start_env(&x, &addr, "bob", (1030, 0), "127.0.0.1:9", &[], &[bus], None);
    alice.wait("bob back, in the private tab", |p| p.log_has("bob", "bob is back"));
    drop(bob);

    // The next start (with alice's config) rejoins #dev by itself; neither the
    // join line nor the history replayed there counts as unread.
    drop(alice);
    let again = Gui::start_env(&x, &addr, "alice2", (0, 0), "127.0.0.1:9", &[], &[], Some(&config_home));
    again.wait("#dev rejoined on start", |p| p.tabs().contains(&"#dev") && p.log_has("#dev", "<bob> alice: look at"));
}

/// A picture to send: `w` x `h`, a gradient with a dark square in the middle.
fn test_png(path: &Path, w: usize, h: usize) -> Vec<u8> {
    let mut r = lanchat::canvas::raster::Raster::new(w, h);
    for y in 0..h {
        for x in 0..w {
            let dark = (w / 3..2 * w / 3).contains(&x) && (h / 3..2 * h / 3).contains(&y);
            let px = if dark { [30, 30, 60] } else { [255, (255 * y / h) as u8, (255 * x / w) as u8] };
            r.px[(y * w + x) * 3..][..3].copy_from_slice(&px);
        }
    }
    let png = lanchat::canvas::png::encode(&r);
    std::fs::write(path, &png).unwrap();
    png
}

fn sha256(path: &Path) -> String {
    let out = Command::new("sha256sum").arg(path).output().expect("sha256sum");
    assert!(out.status.success(), "sha256sum {}", path.display());
    String::from_utf8_lossy(&out.stdout).split_whitespace().next().unwrap_or_default().to_string()
}

/// A `file[TAB]` line of the probe, split into its name and `key=value` fields.
fn file_row<'p>(p: &'p Probe, tab: &str, name: &str) -> Option<std::collections::HashMap<&'p str, &'p str>> {
    let line = p.all(&format!("file[{tab}]")).into_iter().rfind(|l| l.split('\t').next() == Some(name))?;
    Some(line.split('\t').skip(1).filter_map(|kv| kv.split_once('=')).collect())
}

impl Gui<'_> {
    /// Clicks Send file… and picks `path` in the chooser that opens (the
    /// desktop's own: GTK's where it is installed, else FLTK's), by typing
    /// the path and Enter, as a person can in either.
    fn send_file(&self, path: &Path) {
        let p = self.wait("Send file… enabled", |p| p.get("file_button_active") == "true");
        self.focus();
        self.click(p.centre("file_button"));
        let chooser = self.x.xdotool(&["search", "--sync", "--onlyvisible", "--name", "^Send a file to "]);
        let chooser = chooser.lines().next().unwrap().to_string();
        self.x.xdotool(&["windowfocus", "--sync", &chooser]);
        // Ctrl+L: GTK's location field (a "/" typed would open it too, but
        // the key after it can go astray while it opens); FLTK's chooser
        // has its file name field focused already.
        self.x.xdotool(&["key", "ctrl+l"]);
        self.x.xdotool(&["type", "--delay", "20", &path.display().to_string()]);
        // GTK's chooser lets an Enter go by while it still reads the folder:
        // Enter again until the chooser has gone.
        let shown = || {
            let out = Command::new("xdotool")
                .args(["search", "--onlyvisible", "--name", "^Send a file to "])
                .env("DISPLAY", &self.x.display)
                .output()
                .expect("xdotool");
            out.status.success() && !out.stdout.is_empty()
        };
        for _ in 0..5 {
            self.x.xdotool(&["key", "Return"]);
            let end = Instant::now() + Duration::from_secs(2);
            while shown() && Instant::now() < end {
                std::thread::sleep(Duration::from_millis(50));
            }
            if !shown() {
                return;
            }
        }
        self.x.screenshot(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/gui-files-chooser.png"));
        panic!("the file chooser did not take {} (see target/gui-files-chooser.png)", path.display());
    }

    /// Clicks a file in the log (`at` from the probe) and picks the
    /// `item`th entry (from 1) of the menu that opens.
    fn file_menu(&self, tab: &str, name: &str, item: usize) {
        let p = self.wait(&format!("{name} in view"), |p| file_row(p, tab, name).is_some_and(|f| f["at"] != "-"));
        let at: Vec<i32> = file_row(&p, tab, name).unwrap()["at"].split(' ').map(|n| n.parse().unwrap()).collect();
        self.focus();
        self.click((at[0] + 10, at[1] + at[3] / 2));
        // The menu's window, then the item, by keyboard.
        let pid = self.child.id().to_string();
        wait_for("the file menu", || {
            let out = self.x.xdotool(&["search", "--all", "--onlyvisible", "--pid", &pid, "--name", ""]);
            (out.lines().count() > 1).then_some(())
        });
        for _ in 0..item {
            self.x.xdotool(&["key", "Down"]);
        }
        self.x.xdotool(&["key", "Return"]);
    }
}

impl Gui<'_> {
    /// Drags `files` from a GTK drag source (as from a file manager) and
    /// drops them on the middle of the window's log, with real X input.
    fn drop_files(&self, files: &[&Path]) {
        let python = Path::new("/usr/bin/python3");
        assert!(python.exists(), "the system's python3 (python3-gi) is needed for the drag source");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/drag_source.py");
        let source = Command::new(python)
            .arg(script)
            .args(files)
            .env("DISPLAY", &self.x.display)
            .env("NO_AT_BRIDGE", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot start the drag source");
        let _source = Killed(source);
        let window = self.x.xdotool(&["search", "--sync", "--onlyvisible", "--name", "^lanchat drag source$"]);
        let window = window.lines().next().unwrap().to_string();
        // Below the test's windows (the screen is 1100 high).
        self.x.xdotool(&["windowmove", "--sync", &window, "20", "900"]);
        let p = self.probe().unwrap();
        let (lx, ly, lw, lh) = p.area("log_area");
        let geometry = self.x.xdotool(&["getwindowgeometry", "--shell", &self.window]);
        let origin = |key: &str| -> i32 {
            geometry.lines().find_map(|l| l.strip_prefix(key)?.strip_prefix('=')?.parse().ok()).unwrap()
        };
        let (tx, ty) = (origin("X") + lx + lw / 2, origin("Y") + ly + lh / 2);
        let drags = p.num("drags");
        // Press on the label, move past GTK's threshold, then over to the log.
        self.x.xdotool(&["mousemove", "100", "940", "mousedown", "1"]);
        for i in 1..=20 {
            let (x, y) = (100 + (tx - 100) * i / 20, 940 + (ty - 940) * i / 20);
            self.x.xdotool(&["mousemove", &x.to_string(), &y.to_string()]);
        }
        // Nudge until the window says the drag is over it, then let go.
        let mut n = 0;
        wait_for("the drag over the window", || {
            n += 1;
            self.x.xdotool(&["mousemove", &(tx + n % 2).to_string(), &ty.to_string()]);
            self.probe().is_some_and(|p| p.num("drags") > drags).then_some(())
        });
        self.x.xdotool(&["mouseup", "1"]);
        // The source ends after the drop's data was taken.
        wait_for("the dropped files sent", || {
            self.probe()
                .is_some_and(|p| {
                    files.iter().all(|f| {
                        let name = f.file_name().unwrap().to_string_lossy();
                        p.log_has("#lobby", &format!("sent {name}")) || p.log_has("#lobby", &format!("send {name}"))
                    })
                })
                .then_some(())
        });
    }
}

#[test]
fn files_are_sent_shown_inline_and_downloaded() {
    let x = Xvfb::start();
    let server = Server::start(&[]);
    let addr = server.addr();
    let dir = temp_dir("gui-files");
    let downloads = dir.join("Downloads");
    // An xdg-open that records the address it was to open.
    let opened = dir.join("opened.txt");
    std::fs::write(dir.join("xdg-open"), format!("#!/bin/sh\necho \"$1\" >> '{}'\n", opened.display())).unwrap();
    Command::new("chmod").arg("755").arg(dir.join("xdg-open")).status().unwrap();
    let path = format!("{}:{}", dir.display(), std::env::var("PATH").unwrap_or_default());
    let alice = Gui::start(&x, &addr, "alice", (0, 0));
    let env = [("XDG_DOWNLOAD_DIR", downloads.to_str().unwrap()), ("PATH", path.as_str()), ("NO_AT_BRIDGE", "1")];
    let bob = Gui::start_env(&x, &addr, "bob", (1030, 0), "127.0.0.1:9", &[], &env, None);
    alice.wait("alice connected", connected);
    bob.wait("bob connected, files on", |p| connected(p) && p.get("file_button_active") == "true");

    // Alice sends a picture with Send file…; bob's log shows it as a thumbnail.
    let photo = dir.join("photo.png");
    test_png(&photo, 400, 300);
    alice.send_file(&photo);
    let p = alice.wait("alice's upload done", |p| p.log_has("#lobby", "sent photo.png"));
    assert!(p.num("transfers_shown") >= 1, "the progress bar showed the upload");
    assert_eq!(p.get("transfer"), "-", "the bar is gone when done");
    let p = bob.wait("the thumbnail decoded at bob", |p| {
        file_row(p, "#lobby", "photo.png").is_some_and(|f| f["thumb"] == "240x180" && f["at"] != "-")
    });
    let f = file_row(&p, "#lobby", "photo.png").unwrap();
    assert_eq!(f["size"], std::fs::metadata(&photo).unwrap().len().to_string());
    assert!(p.log_has("#lobby", "<alice> http://"), "the link is the message: {:?}", p.log("#lobby"));
    alice.wait("the thumbnail at alice too", |p| {
        file_row(p, "#lobby", "photo.png").is_some_and(|f| f["thumb"] == "240x180")
    });
    x.screenshot(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/gui-files-thumbnail.png"));

    // Bob sends a file that is no picture (with /send); alice sees its name and size.
    let notes = dir.join("notes.txt");
    std::fs::write(&notes, "the minutes of Friday\n".repeat(100)).unwrap();
    bob.focus();
    bob.say(&format!("/send {}", notes.display()));
    let p = alice.wait("notes.txt with its size at alice", |p| {
        file_row(p, "#lobby", "notes.txt").is_some_and(|f| f["size"] == "2200" && f["at"] != "-")
    });
    let f = file_row(&p, "#lobby", "notes.txt").unwrap();
    assert_eq!((f["thumb"], f["caption"]), ("-", "2.1 KiB · click for Download or Open in browser"));

    // Bob downloads the picture into his Downloads folder (made for it),
    // twice: the second gets another name.
    bob.file_menu("#lobby", "photo.png", 1);
    let p = bob.wait("the download saved", |p| p.log_has("#lobby", "photo.png saved as "));
    assert!(p.num("transfers_shown") >= 2, "the progress bar showed the download");
    assert!(p.log_has("#lobby", &format!("saved as {}", downloads.join("photo.png").display())));
    assert_eq!(sha256(&downloads.join("photo.png")), sha256(&photo));
    bob.file_menu("#lobby", "photo.png", 1);
    let again = downloads.join("photo (1).png");
    bob.wait("the second download saved", |p| p.log_has("#lobby", &format!("saved as {}", again.display())));
    assert_eq!(sha256(&again), sha256(&photo));
    // Open in browser hands the link to xdg-open.
    bob.file_menu("#lobby", "notes.txt", 2);
    let url = wait_for("xdg-open", || std::fs::read_to_string(&opened).ok().filter(|s| !s.is_empty()));
    assert!(url.trim().starts_with("http://127.0.0.1:") && url.trim().ends_with("/notes.txt"), "{url}");

    // What is not shown as a picture: one over 10 MiB (its size is asked
    // first, the picture never fetched), one that is no picture; and a file
    // over the server's limit, refused before any byte goes.
    let huge = dir.join("huge.png");
    std::fs::File::create(&huge).unwrap().set_len(11 << 20).unwrap();
    let fake = dir.join("fake.png");
    std::fs::write(&fake, "not a picture").unwrap();
    let over = dir.join("over.bin");
    std::fs::File::create(&over).unwrap().set_len(26 << 20).unwrap();
    bob.focus();
    for f in [&huge, &fake, &over] {
        bob.say(&format!("/send {}", f.display()));
    }
    // A link to another machine is shown, but not fetched by itself.
    bob.say("http://127.0.0.2:9/f/0123456789abcdef0123456789abcdef/elsewhere.png");
    bob.wait("over.bin refused", |p| {
        p.log_has("#lobby", "cannot send over.bin: over.bin is 26.0 MiB; this server takes files up to 25.0 MiB")
    });
    let p = alice.wait("huge.png and fake.png without pictures", |p| {
        file_row(p, "#lobby", "huge.png").is_some_and(|f| f["failed"] == "no preview over 10.0 MiB")
            && file_row(p, "#lobby", "fake.png").is_some_and(|f| f["failed"] == "not a PNG, JPEG or GIF picture")
            && file_row(p, "#lobby", "elsewhere.png")
                .is_some_and(|f| f["failed"] == "on another server (127.0.0.2), not fetched")
    });
    assert_eq!(file_row(&p, "#lobby", "huge.png").unwrap()["size"], (11 << 20).to_string());
    assert!(file_row(&p, "#lobby", "over.bin").is_none());

    // Alice drops a JPEG and a GIF on her window: both go to #lobby, and
    // bob sees them as thumbnails (the GIF as small as it is).
    let jpeg = dir.join("drawing.jpg");
    let gif = dir.join("tiny.gif");
    for (out, resize) in [(&jpeg, "100%"), (&gif, "120x90")] {
        let ok = Command::new("convert").arg(&photo).args(["-resize", resize]).arg(out).status();
        assert!(ok.is_ok_and(|s| s.success()), "convert (imagemagick) made no {}", out.display());
    }
    alice.drop_files(&[&jpeg, &gif]);
    bob.wait("the dropped pictures as thumbnails at bob", |p| {
        file_row(p, "#lobby", "drawing.jpg").is_some_and(|f| f["thumb"] == "240x180")
            && file_row(p, "#lobby", "tiny.gif").is_some_and(|f| f["thumb"] == "120x90")
    });
    alice.wait("the dropped pictures at alice", |p| {
        p.all("file[#lobby]").iter().filter(|f| f.contains("thumb=240x180") || f.contains("thumb=120x90")).count() == 3
    });
    assert_eq!(alice.probe().unwrap().get("input"), "", "the drop went nowhere else");
    x.screenshot(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/gui-files-dropped.png"));

    // A server that takes no files: the button is greyed, and says why.
    let no_files = Server::start(&["--no-files"]);
    let carol = Gui::start(&x, &no_files.addr(), "carol", (0, 480));
    let p = carol.wait("carol connected", connected);
    assert_eq!(p.get("file_button_active"), "false");
    assert!(p.get("file_button_tip").contains("takes no files"), "{}", p.get("file_button_tip"));
    carol.focus();
    carol.say(&format!("/send {}", notes.display()));
    carol.wait("/send refused", |p| p.log_has("#lobby", "cannot send notes.txt: this server takes no files"));
}

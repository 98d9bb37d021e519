//! The line-mode client for terminals and scripts: stdin lines become
//! messages to the channel, and what arrives is printed as `[HH:MM] <nick> text`.
//!
//! Commands ([`super::slash`]): `/msg NICK TEXT`, `/query NICK` (plain lines
//! and `/send` go to NICK from then on), `/me TEXT`, `/nick NICK`,
//! `/join #CHAN` (which also becomes the channel that plain lines go to),
//! `/part [#CHAN]`, `/server HOST:PORT`, `/send FILE` (uploads it and posts
//! its link), `/quit`, and a channel operator's `/kick`,
//! `/ban`, `/op`, `/voice`, `/mode`, `/invite` (and `/quote LINE`).
//!
//! At the end of its input it delivers what it read (files being sent
//! included), then quits. The exit
//! status is 1 when a line it read was not delivered (each is printed as
//! `-!- not sent ...` and listed on stderr) or the connection gave up on its own.
//!
//! With `--save-canvas FILE.png` it also keeps the picture of the canvas of
//! its channel and, at the end of its input, once the server has answered
//! everything sent (so the JOIN's replay is in), writes it as a PNG.

use std::io::{BufRead, Write};
use std::process::ExitCode;
use std::sync::{Arc, Mutex, mpsc};

use std::path::PathBuf;

use super::config::{self, Config};
use super::slash::{self, Input};
use super::{Command, ConnState, Event, Handle, MsgKind, Settings, TransferState, spawn};
use crate::canvas::picture::Picture;
use crate::clock::local_hhmm;

/// What the main loop waits for: stdin, and the two events that decide the exit status.
enum Feed {
    Line(String),
    Eof,
    NotSent {
        target: String,
        text: String,
    },
    /// The server's TLS certificate is not the pinned one.
    Refused {
        server: String,
        seen: String,
    },
    Stopped,
    /// The answer to a [`Command::Sync`].
    Synced,
    /// A `/send` ended; true when it failed.
    Sent(bool),
    /// The client thread has ended: nothing more can come from it.
    Gone,
}

/// Held by the client thread's callback, so its drop says the thread ended.
struct Events(mpsc::Sender<Feed>);

impl Drop for Events {
    fn drop(&mut self) {
        let _ = self.0.send(Feed::Gone);
    }
}

/// Runs until `/quit` or the end of stdin, and the connection's end; with
/// `save_canvas`, saves the channel's canvas there at the end of stdin.
pub fn run(settings: Settings, save_canvas: Option<PathBuf>) -> ExitCode {
    let current = Arc::new(Mutex::new(settings.channel.clone()));
    let shown = current.clone();
    let (tx, feed) = mpsc::channel::<Feed>();
    let events = Events(tx.clone());
    let picture = Arc::new(Mutex::new(Picture::new()));
    let (painter, drawn_on) = (picture.clone(), settings.channel.clone());
    let handle = spawn(move |ev| {
        if save_canvas_of(&ev, &drawn_on) {
            let mut p = painter.lock().unwrap_or_else(|e| e.into_inner());
            match &ev {
                Event::Snapshot { raster, .. } => p.start_from(raster.clone()),
                Event::Stroke { stroke, .. } => drop(p.add(stroke.clone())),
                Event::Undo { id, count, .. } => drop(p.undo(*id, *count)),
                Event::CanvasCleared { .. } => p.clear(),
                _ => {}
            }
        }
        if let Some(line) = render(&ev, &shown.lock().unwrap_or_else(|e| e.into_inner())) {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{line}");
            let _ = out.flush();
        }
        match ev {
            Event::NotSent { target, text, .. } => drop(events.0.send(Feed::NotSent { target, text })),
            Event::Pinned { server, fingerprint } => {
                if let Err(e) = Config::remember_pin(&server, &fingerprint) {
                    eprintln!("lanchat: {e}");
                }
            }
            Event::CertChanged { server, seen, .. } => drop(events.0.send(Feed::Refused { server, seen })),
            Event::State(ConnState::Disconnected) => drop(events.0.send(Feed::Stopped)),
            Event::Synced => drop(events.0.send(Feed::Synced)),
            Event::Transfer { state: TransferState::Done(_), .. } => drop(events.0.send(Feed::Sent(false))),
            Event::Transfer { state: TransferState::Failed(_), .. } => drop(events.0.send(Feed::Sent(true))),
            _ => {}
        }
    });
    handle.send(Command::Connect(settings.clone()));
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if tx.send(Feed::Line(line)).is_err() {
                return;
            }
        }
        let _ = tx.send(Feed::Eof);
    });
    let mut quitting = false;
    let mut undelivered = Vec::new();
    let mut gave_up = false;
    let mut refused = None;
    let mut save_failed = false;
    // Files being sent, and whether stdin ended while they were.
    let (mut sending, mut send_failed, mut eof) = (0usize, false, false);
    for f in feed.iter() {
        match f {
            Feed::Line(line) if !quitting => {
                sending += usize::from(matches!(slash::parse(&line), Some(Input::Send(_))));
                quitting = typed(&handle, &current, &settings, &line);
            }
            Feed::Line(_) => {}
            Feed::Sent(failed) => {
                sending = sending.saturating_sub(1);
                send_failed |= failed;
            }
            Feed::Eof => eof = true,
            Feed::Synced if !quitting => {
                if let Some(path) = &save_canvas {
                    let png = crate::canvas::png::encode(picture.lock().unwrap_or_else(|e| e.into_inner()).raster());
                    if let Err(e) = std::fs::write(path, png) {
                        eprintln!("lanchat: cannot write {}: {e}", path.display());
                        save_failed = true;
                    }
                }
                quitting = true;
                handle.send(Command::Quit);
            }
            Feed::Synced => {}
            Feed::NotSent { target, text } => undelivered.push((target, text)),
            Feed::Refused { server, seen } => refused = Some((server, seen)),
            // After a quit the client thread ends by itself (Gone): a line
            // typed just as the connection stopped is reported (NotSent)
            // after this Stopped, and must still count.
            Feed::Stopped if quitting => {}
            Feed::Stopped => {
                gave_up = true;
                break;
            }
            Feed::Gone => {
                gave_up = !quitting;
                break;
            }
        }
        // At the end of stdin, once the files are sent: save the canvas
        // (after a Sync) and quit.
        if eof && sending == 0 && !quitting {
            eof = false;
            if save_canvas.is_some() {
                handle.send(Command::Sync);
            } else {
                quitting = true;
                handle.send(Command::Quit);
            }
        }
    }
    if let Some((server, seen)) = &refused {
        eprintln!("lanchat: refused {server}: its TLS certificate is not the pinned one (see above)");
        eprintln!("lanchat: to accept it: lanchat --client --no-gui --server {server} --accept-fingerprint {seen}");
    }
    if !undelivered.is_empty() {
        eprintln!("lanchat: {} line(s) not delivered:", undelivered.len());
        for (target, text) in &undelivered {
            eprintln!("  to {target}: {text}");
        }
        return ExitCode::FAILURE;
    }
    if send_failed {
        eprintln!("lanchat: a file was not sent (see above)");
    }
    if gave_up || refused.is_some() || save_failed || send_failed {
        if gave_up && refused.is_none() {
            eprintln!("lanchat: the connection stopped");
        }
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// Acts on a typed line; true after `/quit`.
fn typed(handle: &Handle, current: &Mutex<String>, settings: &Settings, line: &str) -> bool {
    let channel = || current.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let Some(input) = slash::parse(line) else { return false };
    match input {
        Input::Say(text) => handle.send(Command::Say { target: channel(), text: text.into() }),
        Input::Me(text) => handle.send(Command::Action { target: channel(), text: text.into() }),
        // `/query NICK` (or `/msg NICK`): plain lines and /send go to NICK from now on.
        Input::Msg { target, text: "" } => {
            *current.lock().unwrap_or_else(|e| e.into_inner()) = target.to_string();
            eprintln!("-!- talking to {target} now (/query #CHANNEL to go back)");
        }
        Input::Msg { target, text } => handle.send(Command::Say { target: target.into(), text: text.into() }),
        Input::Nick(n) => handle.send(Command::Nick(n.into())),
        Input::Join(c) => {
            *current.lock().unwrap_or_else(|e| e.into_inner()) = c.to_string();
            handle.send(Command::Join(c.into()));
        }
        Input::Part(c) => handle.send(Command::Part(c.map_or_else(channel, str::to_string))),
        Input::Quit => {
            handle.send(Command::Quit);
            return true;
        }
        Input::Server(server) => {
            let channel = channel();
            let server = super::trust::with_port(server, settings.tls);
            let pin = config::path().and_then(|p| Config::load(&p).pin(&server));
            handle.send(Command::Connect(Settings { server, channel, pin, ..settings.clone() }));
        }
        Input::Away(m) => handle.send(Command::Away(m.map(str::to_string))),
        Input::Send(path) => handle.send(Command::SendFile { target: channel(), path: crate::files::typed_path(path) }),
        Input::Topic(Some(text)) => handle.send(Command::Topic { channel: channel(), text: text.into() }),
        Input::Topic(None) => eprintln!("usage: /topic TEXT"),
        Input::List => handle.send(Command::List),
        Input::Accept => eprintln!("/accept is for the window; line mode takes --accept-fingerprint FP"),
        Input::Connect | Input::Disconnect | Input::Clear => {
            eprintln!("{} is for the window; line mode connects by itself", line.trim())
        }
        Input::Op(op) => handle.send(Command::Raw(op.line(&channel()))),
        Input::Unknown(name) => eprintln!("{}", slash::unknown(name)),
        Input::Usage(usage) => eprintln!("usage: {usage}"),
    }
    false
}

/// Whether an event changes the canvas of `channel`.
fn save_canvas_of(ev: &Event, channel: &str) -> bool {
    match ev {
        Event::Snapshot { channel: c, .. }
        | Event::Stroke { channel: c, .. }
        | Event::Undo { channel: c, .. }
        | Event::CanvasCleared { channel: c, .. } => c.eq_ignore_ascii_case(channel),
        _ => false,
    }
}

/// The printed form of an event, if it has one.
fn render(ev: &Event, current: &str) -> Option<String> {
    Some(match ev {
        Event::Message { target, from, text, time, kind, .. } => {
            let t = local_hhmm(*time);
            let place = if target.eq_ignore_ascii_case(current) { String::new() } else { format!("[{target}] ") };
            match kind {
                MsgKind::Action => format!("[{t}] {place}* {from} {text}"),
                MsgKind::Notice => format!("[{t}] {place}-{from}- {text}"),
                MsgKind::Privmsg => format!("[{t}] {place}<{from}> {text}"),
            }
        }
        Event::System { target, text, time } => {
            let place = match target {
                Some(t) if !t.eq_ignore_ascii_case(current) => format!("[{t}] "),
                _ => String::new(),
            };
            format!("[{}] {place}-!- {text}", local_hhmm(*time))
        }
        Event::Users { channel, nicks } => format!("-!- users in {channel}: {}", nicks.join(" ")),
        Event::NickTaken { wanted, suggestion } => format!("-!- nick {wanted} is taken; trying {suggestion}"),
        Event::NickInvalid { wanted, reason, fallback: Some(f) } => {
            format!("-!- the server refused the nick {wanted} ({reason}); trying {f}")
        }
        Event::NickInvalid { wanted, reason, fallback: None } => {
            format!("-!- the server refused the nick {wanted} ({reason})")
        }
        Event::NotSent { target, text, reason } => format!("-!- not sent to {target} ({reason}): {text}"),
        Event::CanvasCleared { channel, by } => format!("-!- {by} cleared the canvas of {channel}"),
        Event::State(ConnState::Connected) => "-!- connected".into(),
        Event::State(ConnState::Reconnecting { delay, .. }) => {
            format!("-!- reconnecting in {:.1} s", delay.as_secs_f64())
        }
        Event::Nick(n) => format!("-!- you are now {n}"),
        Event::Secure { fingerprint } => format!("-!- TLS, the server's certificate is SHA-256 {fingerprint}"),
        // A System line says these.
        Event::Pinned { .. } | Event::CertChanged { .. } => return None,
        Event::Undo { channel, by, id, .. } => format!("-!- {by} took back stroke {id} on {channel}"),
        Event::ChannelList(list) => {
            let rows: Vec<String> = list.iter().map(|c| format!("{} ({}) {}", c.name, c.users, c.topic)).collect();
            format!("-!- channels: {}", rows.join("; "))
        }
        Event::Away { nick, message: Some(m) } if !m.is_empty() => format!("-!- {nick} is away: {m}"),
        Event::Transfer { name, total, state: TransferState::Done(link), .. } => {
            format!("-!- sent {name} ({}): {link}", crate::files::human_size(*total))
        }
        Event::Transfer { name, state: TransferState::Failed(why), .. } => format!("-!- could not send {name}: {why}"),
        Event::Transfer { .. } | Event::Files(_) => return None,
        Event::State(_) | Event::Rtt(_) | Event::Stroke { .. } | Event::Snapshot { .. } | Event::Synced => return None,
        Event::Joined(_) | Event::Parted(_) | Event::Topic { .. } | Event::Away { .. } => return None,
        Event::Typing { .. } | Event::Presence { .. } => return None,
    })
}

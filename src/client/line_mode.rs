//! The line-mode client for terminals and scripts: stdin lines become
//! messages to the channel, and what arrives is printed as `[HH:MM] <nick> text`.
//!
//! Commands: `/msg NICK TEXT`, `/me TEXT`, `/nick NICK`, `/join #CHAN`
//! (which also becomes the channel that plain lines go to), `/quit`.

use std::io::{BufRead, Write};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use super::{Command, ConnState, Event, MsgKind, Settings, spawn};
use crate::clock::local_hhmm;

/// Runs until `/quit` or the end of stdin.
pub fn run(settings: Settings) -> ExitCode {
    let current = Arc::new(Mutex::new(settings.channel.clone()));
    let shown = current.clone();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let handle = spawn(move |ev| {
        if let Some(line) = render(&ev, &shown.lock().unwrap_or_else(|e| e.into_inner())) {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{line}");
            let _ = out.flush();
        }
        if matches!(ev, Event::State(ConnState::Disconnected)) {
            let _ = done_tx.send(());
        }
    });
    handle.send(Command::Connect(settings));
    // Discard the Disconnected state that precedes the Connect.
    let _ = done_rx.recv();
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let line = line.trim_end();
        if line.is_empty() {
            continue;
        }
        let (cmd, rest) = line.split_once(' ').unwrap_or((line, ""));
        match cmd {
            "/quit" => break,
            "/nick" if !rest.is_empty() => handle.send(Command::Nick(rest.trim().into())),
            "/join" if !rest.is_empty() => {
                let chan = rest.trim().to_string();
                *current.lock().unwrap_or_else(|e| e.into_inner()) = chan.clone();
                handle.send(Command::Join(chan));
            }
            "/msg" => match rest.split_once(' ') {
                Some((nick, text)) if !text.is_empty() => {
                    handle.send(Command::Say { target: nick.into(), text: text.into() })
                }
                _ => eprintln!("usage: /msg NICK TEXT"),
            },
            c if c.starts_with('/') && c != "/me" => {
                eprintln!("unknown command {c}; try /msg, /me, /nick, /join, /quit")
            }
            _ => {
                let target = current.lock().unwrap_or_else(|e| e.into_inner()).clone();
                handle.send(Command::Say { target, text: line.into() });
            }
        }
    }
    handle.send(Command::Quit);
    let _ = done_rx.recv();
    ExitCode::SUCCESS
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
        Event::NotSent { target, text, reason } => format!("-!- not sent to {target} ({reason}): {text}"),
        Event::CanvasCleared { channel, by } => format!("-!- {by} cleared the canvas of {channel}"),
        Event::State(ConnState::Connected) => "-!- connected".into(),
        Event::State(ConnState::Reconnecting { delay, .. }) => {
            format!("-!- reconnecting in {:.1} s", delay.as_secs_f64())
        }
        Event::Nick(n) => format!("-!- you are now {n}"),
        Event::State(_) | Event::Rtt(_) | Event::Stroke { .. } => return None,
    })
}

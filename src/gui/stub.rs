//! TEMPORARY stand-in for `client::spawn` until the real one lands on main.
use std::sync::mpsc;
use std::time::{Duration, SystemTime};

use crate::client::{Command, ConnState, Event, MsgKind};

pub struct Handle(mpsc::Sender<Command>);

impl Handle {
    pub fn send(&self, cmd: Command) {
        let _ = self.0.send(cmd);
    }
}

pub fn spawn(on_event: impl Fn(Event) + Send + 'static) -> Handle {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut nick = String::new();
        let mut channel = String::new();
        while let Ok(cmd) = rx.recv() {
            match cmd {
                Command::Connect(s) => {
                    on_event(Event::State(ConnState::Connecting));
                    nick = s.nick.clone();
                    channel = s.channel.clone();
                    on_event(Event::State(ConnState::Connected));
                    on_event(Event::Nick(nick.clone()));
                    on_event(Event::Users { channel: channel.clone(), nicks: vec![nick.clone(), "echo".into()] });
                    on_event(Event::Rtt(Duration::from_millis(3)));
                }
                Command::Disconnect => on_event(Event::State(ConnState::Disconnected)),
                Command::Say { target, text } => on_event(Event::Message {
                    target: if target == channel { target } else { "echo".into() },
                    from: "echo".into(),
                    text: format!("you said {text}"),
                    time: SystemTime::now(),
                    kind: MsgKind::Privmsg,
                    history: false,
                }),
                Command::Nick(n) => {
                    nick = n;
                    on_event(Event::Nick(nick.clone()));
                }
                Command::Stroke { channel, stroke } => on_event(Event::Stroke { channel, from: "echo".into(), stroke }),
                Command::Clear { channel } => on_event(Event::CanvasCleared { channel, by: nick.clone() }),
                Command::Quit => break,
                _ => {}
            }
        }
    });
    Handle(tx)
}

//! The core's part about shared files: whether the server takes them
//! (ISUPPORT `lanchat/FILES`), the connection's upload token (`UPLOAD`),
//! and posting a link once the driver has uploaded the file. The upload
//! itself is IO: [`Action::Upload`], carried out by `conn.rs`.

use std::path::PathBuf;

use super::{Action, Core, Event, Message, MsgKind, Now, TransferState};

/// The ISUPPORT token that says the server takes files, and how large.
pub const FILES_TOKEN: &str = "lanchat/FILES";

/// An upload waiting for the connection's token.
pub(super) struct Waiting {
    id: u64,
    target: String,
    path: PathBuf,
}

/// What the core knows of files on the current connection.
#[derive(Default)]
pub(super) struct Files {
    /// The largest file the server takes (ISUPPORT), or None: no files.
    pub max: Option<u64>,
    /// The upload address and this connection's token.
    grant: Option<(String, String)>,
    /// `UPLOAD` sent, the answer not in yet.
    asked: bool,
    /// The welcome is over (or the ISUPPORT token came): `max` is known.
    settled: bool,
}

impl Core {
    /// The ISUPPORT line may say the server takes files.
    pub(super) fn on_isupport_files(&mut self, msg: &Message<'_>) {
        let Some(v) = msg.params.iter().find_map(|p| p.strip_prefix(FILES_TOKEN).map(|r| r.trim_start_matches('=')))
        else {
            return;
        };
        let Some(link) = self.link.as_mut() else { return };
        let max = Some(v.parse().unwrap_or(u64::MAX));
        link.files.max = max;
        self.emit(Event::Files(max));
        self.files_settled();
    }

    /// Whether the server takes files is known: what waited goes, or fails.
    pub(super) fn files_settled(&mut self) {
        let Some(link) = self.link.as_mut() else { return };
        link.files.settled = true;
        if self.waiting_files.is_empty() {
            return;
        }
        match (&link.files.grant, link.files.max) {
            (_, None) => self.fail_waiting_files("this server does not take files"),
            (Some(_), _) => self.upload_waiting(),
            (None, Some(_)) => {
                if !std::mem::replace(&mut link.files.asked, true) {
                    self.send("UPLOAD".into());
                }
            }
        }
    }

    /// [`super::Command::SendFile`]: upload when the token is known, else ask for it.
    /// Queued while connecting, as a typed line is.
    pub(super) fn send_file(&mut self, target: String, path: PathBuf) {
        self.next_transfer += 1;
        let id = self.next_transfer;
        if self.settings.is_none() {
            return self.transfer_failed(id, &target, &path, "not connected".into());
        }
        self.waiting_files.push(Waiting { id, target, path });
        let registered = self.registered();
        if self.link.as_ref().is_some_and(|l| registered && l.files.settled) {
            self.files_settled();
        }
    }

    /// `:server UPLOAD <url> <token>`: the uploads waiting for it go.
    pub(super) fn on_upload_grant(&mut self, msg: &Message<'_>) {
        let (url, token) = (msg.param(0).to_string(), msg.param(1).to_string());
        let Some(link) = self.link.as_mut() else { return };
        link.files.grant = Some((url, token));
        self.upload_waiting();
    }

    /// With the token known: the uploads waiting go.
    fn upload_waiting(&mut self) {
        let Some(link) = self.link.as_mut() else { return };
        let Some((url, token)) = link.files.grant.clone() else { return };
        let max = link.files.max.unwrap_or(u64::MAX);
        for w in std::mem::take(&mut self.waiting_files) {
            let (url, token) = (url.clone(), token.clone());
            self.out.push(Action::Upload { id: w.id, url, token, path: w.path, target: w.target, max });
        }
    }

    /// `FAIL UPLOAD ...`: no upload goes on this connection.
    pub(super) fn on_upload_refused(&mut self, why: &str) {
        if let Some(link) = self.link.as_mut() {
            link.files.asked = false;
        }
        self.fail_waiting_files(why);
    }

    /// Uploads that waited for a token that will not come now.
    pub(super) fn fail_waiting_files(&mut self, why: &str) {
        for w in std::mem::take(&mut self.waiting_files) {
            self.transfer_failed(w.id, &w.target, &w.path, why.to_string());
        }
    }

    fn transfer_failed(&mut self, id: u64, target: &str, path: &std::path::Path, why: String) {
        let name = path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into());
        let state = TransferState::Failed(why);
        self.emit(Event::Transfer { id, target: target.to_string(), name, done: 0, total: 0, state });
    }

    /// The driver uploaded a file: post its link, as any message (queued
    /// while reconnecting).
    pub fn on_uploaded(&mut self, target: String, link: String, now: Now) -> Vec<Action> {
        self.say_or_queue(target, link, MsgKind::Privmsg, now);
        self.take()
    }
}

//! The test probe: with `LANCHAT_GUI_PROBE=PATH`, the window writes what it
//! shows to PATH after each change (through a temporary file and a rename, so
//! a reader never sees half a file). One `key: value` per line; log lines are
//! `log[TAB]: LINE`, the last lines of each tab; `*_area` and `*_button` are
//! `X Y W H` inside the window.

use std::fmt::Write;
use std::path::PathBuf;

use fltk::prelude::*;

use super::App;

pub struct Probe {
    path: PathBuf,
    pub canvas_generation: u64,
    /// The logs' top lines when last written.
    pub scroll: Vec<i32>,
    /// Where the canvas was when last written (the splitter moves it).
    pub canvas_at: (i32, i32, i32, i32),
    seq: u64,
}

impl Probe {
    pub fn from_env() -> Option<Probe> {
        let path = std::env::var_os("LANCHAT_GUI_PROBE")?;
        Some(Probe {
            path: path.into(),
            canvas_generation: u64::MAX,
            scroll: Vec::new(),
            canvas_at: (0, 0, 0, 0),
            seq: 0,
        })
    }

    pub fn write(&mut self, app: &App) {
        self.seq += 1;
        let mut s = String::new();
        let _ = writeln!(s, "seq: {}", self.seq);
        for line in app.view.info_text().lines() {
            let _ = writeln!(s, "info: {line}");
        }
        let _ = writeln!(s, "fingerprint: {}", app.view.fingerprint.as_deref().unwrap_or(""));
        let _ = writeln!(s, "users: {}", app.entries.join(","));
        let away: Vec<&str> =
            app.entries.iter().filter(|n| app.view.away_message(n).is_some()).map(String::as_str).collect();
        let _ = writeln!(s, "away_users: {}", away.join(","));
        let _ = writeln!(s, "my_away: {}", app.view.my_away.as_deref().unwrap_or("-"));
        let _ = writeln!(s, "topic: {}", app.topic_bar.label());
        let _ = writeln!(s, "typing: {}", app.typing_bar.label());
        let _ = writeln!(s, "urgent: {}", app.urgent);
        let _ = writeln!(s, "font_size: {}", app.font_size);
        let _ = writeln!(s, "shown_channel: {}", app.convs[app.shown_channel()].name);
        let active = app.active();
        let labels: Vec<String> = app.convs.iter().map(|c| c.group.label()).collect();
        let _ = writeln!(s, "tabs: {}", labels.join(","));
        let _ = writeln!(s, "active: {}", app.convs[active].name);
        let _ = writeln!(s, "input: {}", app.input.value());
        let canvas = app.canvas();
        let (ink, bbox) = canvas.ink();
        let _ = writeln!(s, "ink: {ink}");
        if let Some((x0, y0, x1, y1)) = bbox {
            let _ = writeln!(s, "ink_box: {x0} {y0} {x1} {y1}");
        }
        let st = canvas.state.borrow();
        self.canvas_generation = st.generation;
        let _ = writeln!(s, "strokes: {}", st.picture.len());
        for stroke in st.picture.strokes().take(50) {
            let _ = writeln!(s, "stroke: {}", stroke.encode());
        }
        drop(st);
        let g = canvas.geometry();
        self.canvas_at = (g.x, g.y, g.w, g.h);
        // Positions are inside the window (for `xdotool mousemove --window`).
        let (wx, wy) = (0, 0);
        let _ = writeln!(s, "canvas_area: {} {} {} {}", wx + g.x, wy + g.y, g.w, g.h);
        fn r<W: WidgetExt>(w: &W, (wx, wy): (i32, i32)) -> String {
            format!("{} {} {} {}", wx + w.x(), wy + w.y(), w.w(), w.h())
        }
        let o = (wx, wy);
        let _ = writeln!(s, "input_area: {}", r(&app.input, o));
        let _ = writeln!(s, "emoji_button: {}", r(&app.emoji_btn, o));
        let f = &app.files;
        let _ = writeln!(s, "file_button: {}", r(&f.button, o));
        let _ = writeln!(s, "file_button_active: {}", f.button.active());
        let _ = writeln!(s, "file_button_tip: {}", f.button.tooltip().unwrap_or_default());
        let _ = writeln!(s, "transfer: {}", f.bar_state());
        let _ = writeln!(s, "transfers_shown: {}", f.bar_shown);
        let _ = writeln!(s, "drags: {}", f.drags);
        let _ = writeln!(s, "colour_choice: {}", r(&app.colour_choice, o));
        let _ = writeln!(s, "brush_spinner: {}", r(&app.brush_spinner, o));
        let _ = writeln!(s, "users_area: {}", r(&app.browser, o));
        let log = &app.convs[active].log.display;
        let _ = writeln!(s, "log_area: {}", r(log, o));
        if let Some((x, y)) = app.convs[active].log.last_link_xy() {
            let _ = writeln!(s, "link: {x} {y}");
        }
        let _ = writeln!(s, "clear_button: {}", r(&app.clear_btn, o));
        let _ = writeln!(s, "undo_button: {}", r(&app.undo_btn, o));
        let _ = writeln!(s, "save_button: {}", r(&app.save_btn, o));
        let _ = writeln!(s, "connect_button: {}", r(&app.connect_btn, o));
        let _ = writeln!(s, "server_button: {}", r(&app.server_btn, o));
        let _ = writeln!(s, "nick_button: {}", r(&app.nick_btn, o));
        let _ = writeln!(s, "channels_button: {}", r(&app.channels_btn, o));
        let _ = writeln!(s, "splitter_area: {}", r(&app.split, o));
        let _ = writeln!(s, "away_button: {}", r(&app.away_btn, o));
        let _ = writeln!(s, "options_button: {}", r(&app.options_btn, o));
        let c = &app.channels;
        let _ = writeln!(s, "channels_dialog: {}", if c.shown() { "shown" } else { "hidden" });
        let _ = writeln!(s, "channels_status: {}", c.status.label());
        let _ = writeln!(s, "channels_input: {}", c.input.value());
        for ch in &c.shown_list {
            let _ = writeln!(s, "channel_row: {} {} {}", ch.name, ch.users, ch.topic);
        }
        let _ = writeln!(s, "channels_list_area: {}", r(&c.list, o));
        let _ = writeln!(s, "channels_input_area: {}", r(&c.input, o));
        let _ = writeln!(s, "channels_join_button: {}", r(&c.join, o));
        // The connect dialog; its positions are inside its own window.
        let d = &app.connect;
        let _ = writeln!(s, "dialog: {}", if d.shown() { "shown" } else { "hidden" });
        let _ = writeln!(s, "dialog_status: {}", d.status.label());
        let _ = writeln!(s, "dialog_input: {}", d.input.value());
        let _ = writeln!(s, "dialog_tls: {}", d.tls.is_checked());
        for f in &d.found {
            let tls = f.tls.as_ref().map(|(port, fp)| format!(" tls {port} {fp}")).unwrap_or_default();
            let _ = writeln!(s, "discovered: {} {} {}{tls}", f.name, f.addr, f.users);
        }
        let _ = writeln!(s, "dialog_list_area: {}", r(&d.list, o));
        let _ = writeln!(s, "dialog_refresh_button: {}", r(&d.refresh, o));
        let _ = writeln!(s, "dialog_ok_button: {}", r(&d.ok, o));
        for c in &app.convs {
            let _ = writeln!(s, "lines[{}]: {}", c.name, c.log.lines());
            let _ = writeln!(s, "following[{}]: {}", c.name, c.log.following());
            let _ = writeln!(s, "mentions[{}]: {}", c.name, c.log.mentions);
            for line in c.log.tail() {
                let _ = writeln!(s, "log[{}]: {line}", c.name);
            }
            for file in c.log.files() {
                let _ = writeln!(s, "file[{}]: {file}", c.name);
            }
        }
        let tmp = self.path.with_extension("tmp");
        if std::fs::write(&tmp, s).and_then(|_| std::fs::rename(&tmp, &self.path)).is_err() {
            eprintln!("lanchat: cannot write the probe {}", self.path.display());
        }
    }
}

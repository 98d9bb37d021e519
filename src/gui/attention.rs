//! Getting the user's attention while the window is in the background: the
//! X11 urgency hint (ICCCM WM_HINTS, through the libX11 FLTK already links;
//! fltk-rs has no call for it) and a desktop notification through
//! `notify-send` when it is installed, rate-limited.

use std::os::raw::{c_int, c_long, c_ulong, c_void};
use std::time::Instant;

use fltk::prelude::*;
use fltk::window::Window;

use crate::rate::TokenBucket;

/// Xlib's XWMHints.
#[repr(C)]
struct XWMHints {
    flags: c_long,
    input: c_int,
    initial_state: c_int,
    icon_pixmap: c_ulong,
    icon_window: c_ulong,
    icon_x: c_int,
    icon_y: c_int,
    icon_mask: c_ulong,
    window_group: c_ulong,
}

const X_URGENCY_HINT: c_long = 1 << 8;

#[link(name = "X11")]
unsafe extern "C" {
    fn XGetWMHints(display: *mut c_void, w: c_ulong) -> *mut XWMHints;
    fn XAllocWMHints() -> *mut XWMHints;
    fn XSetWMHints(display: *mut c_void, w: c_ulong, hints: *mut XWMHints) -> c_int;
    fn XFree(data: *mut c_void) -> c_int;
    fn XFlush(display: *mut c_void) -> c_int;
    fn XGetInputFocus(display: *mut c_void, focus: *mut c_ulong, revert_to: *mut c_int) -> c_int;
}

fn xid(win: &Window) -> Option<c_ulong> {
    let id = win.raw_handle() as c_ulong;
    (win.shown() && id != 0).then_some(id)
}

/// Sets or clears the window's urgency hint, keeping its other hints.
pub fn set_urgent(win: &Window, on: bool) {
    let Some(w) = xid(win) else { return };
    let d = fltk::app::display();
    // SAFETY: the display and window are FLTK's own and alive; the hints
    // are Xlib's allocation, freed once.
    unsafe {
        let mut hints = XGetWMHints(d, w);
        if hints.is_null() {
            hints = XAllocWMHints();
            if hints.is_null() {
                return;
            }
        }
        if on {
            (*hints).flags |= X_URGENCY_HINT;
        } else {
            (*hints).flags &= !X_URGENCY_HINT;
        }
        XSetWMHints(d, w, hints);
        XFree(hints.cast());
        XFlush(d);
    }
}

/// Whether the window has the keyboard focus.
pub fn focused(win: &Window) -> bool {
    let Some(w) = xid(win) else { return false };
    let (mut focus, mut revert) = (0, 0);
    // SAFETY: out-parameters for one Xlib call on FLTK's display.
    unsafe { XGetInputFocus(fltk::app::display(), &mut focus, &mut revert) };
    focus == w
}

/// Desktop notifications through `notify-send`.
pub struct Notifier {
    pub enabled: bool,
    /// notify-send was not found: not tried again.
    missing: bool,
    /// Three at once, then one every 10 s.
    bucket: TokenBucket,
}

impl Notifier {
    pub fn new(enabled: bool) -> Notifier {
        Notifier { enabled, missing: false, bucket: TokenBucket::new(0.1, 3.0) }
    }

    pub fn notify(&mut self, title: &str, body: &str) {
        if !self.enabled || self.missing || self.bucket.take(Instant::now()).is_err() {
            return;
        }
        let body: String = body.chars().take(200).collect();
        // Its complaints (no notification daemon, no session bus) are no
        // business of the chat's terminal.
        let run = std::process::Command::new("notify-send")
            .args(["-a", "lanchat", "--", title, &body])
            .stderr(std::process::Stdio::null())
            .spawn();
        match run {
            // Reaped by a thread: it may wait on the notification daemon.
            Ok(mut child) => drop(std::thread::spawn(move || child.wait())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => self.missing = true,
            Err(e) => eprintln!("lanchat: notify-send: {e}"),
        }
    }
}

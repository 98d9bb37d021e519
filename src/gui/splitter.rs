//! The splitter between the chat and the canvas: a thin bar to drag. It
//! only says where the user put it (the canvas's share of the window's
//! width); the window lays itself out from that.

use std::cell::Cell;
use std::rc::Rc;

use fltk::app;
use fltk::draw;
use fltk::enums::{Color, Cursor, Event, FrameType};
use fltk::frame::Frame;
use fltk::prelude::*;

/// The bar's width in pixels.
pub const WIDTH: i32 = 8;

/// Makes the bar (in the current group). `share` is the canvas side's part
/// of the window's width, None until dragged; `relayout(w, h)` lays out a
/// window of that size.
pub fn new(share: Rc<Cell<Option<f64>>>, relayout: Rc<dyn Fn(i32, i32)>) -> Frame {
    let mut bar = Frame::default();
    bar.set_frame(FrameType::FlatBox);
    bar.set_tooltip("Drag to share the width between the chat and the canvas");
    bar.draw(|b| {
        // A grip of three dots in the middle.
        draw::set_draw_color(Color::from_hex(0x8a8a8a));
        let (cx, cy) = (b.x() + b.w() / 2, b.y() + b.h() / 2);
        for dy in [-8, 0, 8] {
            draw::draw_pie(cx - 2, cy + dy - 2, 4, 4, 0.0, 360.0);
        }
    });
    bar.handle(move |b, ev| {
        let Some(mut win) = b.window() else { return false };
        match ev {
            Event::Enter => win.set_cursor(Cursor::WE),
            Event::Leave => win.set_cursor(Cursor::Default),
            Event::Push => {}
            Event::Drag => {
                let (w, h) = (win.w(), win.h());
                // The bar follows the pointer: the canvas side is what is right of it.
                let right = w - app::event_x() - WIDTH / 2 - 6;
                share.set(Some(f64::from(right) / f64::from(w)));
                relayout(w, h);
                win.redraw();
            }
            _ => return false,
        }
        true
    });
    bar
}

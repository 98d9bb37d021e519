//! lanchat: an IRC chat appliance for the LAN.
//!
//! * [`line`]: the IRC line, parsed and formatted without copies.
//! * [`server`]: the server (listener, sessions, shared state, history).
//! * [`client`]: the client connection, a state machine with no GUI.
//! * [`canvas`]: the shared canvas's stroke model and encoding.
//! * `gui` (feature `gui`): the FLTK window, fed by [`client`].

pub mod canvas;
pub mod client;
pub mod emoticon;
#[cfg(feature = "gui")]
pub mod gui;

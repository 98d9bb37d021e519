//! lanchat: an IRC chat appliance for the LAN.
//!
//! * [`line`](mod@line): the IRC line, parsed and formatted without copies.
//! * [`server`]: the server (listener, sessions, the state and its owner, the command table, history).
//! * [`client`]: the client connection, a state machine with no GUI.
//! * [`canvas`]: the shared canvas's stroke model and encoding.
//! * [`discovery`]: finding servers on the LAN over UDP.
//! * [`clock`]: server-time and `HH:MM` formatting.
//! * `fingerprint` (feature `tls`): a certificate's SHA-256, as server and clients show it.
//! * [`files`]: shared files: links, names, picture types, sizes.
//! * [`emoticon`]: text emoticons such as `:)` turned into emoji, and the picker's emoji.
//! * [`numeric`]: the numeric replies, by name.
//! * [`rate`]: the token bucket behind flood limits.
//! * [`sys`]: the few operating-system calls the standard library lacks.
//! * `gui` (feature `gui`): the FLTK window, fed by [`client`].

pub mod canvas;
pub mod client;
pub mod clock;
pub mod discovery;
pub mod emoticon;
pub mod files;
#[cfg(feature = "tls")]
pub mod fingerprint;
#[cfg(feature = "gui")]
pub mod gui;
pub mod line;
pub mod numeric;
pub mod rate;
pub mod server;
pub mod sys;

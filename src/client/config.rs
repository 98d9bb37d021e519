//! The remembered client settings: the last server and nick, whether it
//! was over TLS, and the pinned TLS certificates, in
//! `$XDG_CONFIG_HOME/lanchat/client.conf` (or `~/.config/lanchat/client.conf`).
//!
//! The file is a few `key=value` lines; unknown keys and broken lines are ignored,
//! so an old or hand-edited file never stops the client from starting. A pin
//! is `pin.HOST:PORT=AB:CD:...` (the SHA-256 fingerprint; see [`super::trust`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{DEFAULT_SERVER, default_nick};

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Config {
    pub server: Option<String>,
    pub nick: Option<String>,
    /// The last server was over TLS.
    pub tls: bool,
    /// Pinned certificate fingerprints by `HOST:PORT`.
    pub pins: BTreeMap<String, String>,
    /// The channels joined besides the main one, rejoined on the next start.
    pub channels: Vec<String>,
    /// No desktop notifications (`notify=no`).
    pub quiet: bool,
    /// The chat's font size in pixels (`font_size=`).
    pub font_size: Option<i32>,
    /// Away after this many minutes without a key pressed (`auto_away=`, 0 never).
    pub auto_away: Option<u32>,
}

impl Config {
    pub fn parse(text: &str) -> Config {
        let mut c = Config::default();
        for line in text.lines() {
            let Some((key, value)) = line.split_once('=') else { continue };
            let value = value.trim();
            if value.is_empty() {
                continue;
            }
            match key.trim() {
                "server" => c.server = Some(value.to_owned()),
                "nick" => c.nick = Some(value.to_owned()),
                "tls" => c.tls = matches!(value, "yes" | "true" | "1"),
                "channels" => {
                    c.channels = value.split(',').filter(|v| v.starts_with(['#', '&'])).map(String::from).collect()
                }
                "notify" => c.quiet = matches!(value, "no" | "false" | "0"),
                "font_size" => c.font_size = value.parse().ok().filter(|n| (8..=40).contains(n)),
                "auto_away" => c.auto_away = value.parse().ok(),
                key => {
                    if let Some(server) = key.strip_prefix("pin.").filter(|s| !s.is_empty())
                        && let Some(fp) = super::trust::normalize(value)
                    {
                        c.pins.insert(server.to_owned(), fp);
                    }
                }
            }
        }
        c
    }

    pub fn format(&self) -> String {
        let mut s = String::from("# lanchat client: the last server and nick\n");
        if let Some(server) = &self.server {
            s += &format!("server={server}\n");
        }
        if self.tls {
            s += "tls=yes\n";
        }
        if let Some(nick) = &self.nick {
            s += &format!("nick={nick}\n");
        }
        if !self.channels.is_empty() {
            s += &format!("channels={}\n", self.channels.join(","));
        }
        if self.quiet {
            s += "notify=no\n";
        }
        if let Some(n) = self.font_size {
            s += &format!("font_size={n}\n");
        }
        if let Some(n) = self.auto_away {
            s += &format!("auto_away={n}\n");
        }
        if !self.pins.is_empty() {
            s += "# pinned TLS certificates (SHA-256); a server showing another one is refused\n";
        }
        for (server, fp) in &self.pins {
            s += &format!("pin.{server}={fp}\n");
        }
        s
    }

    /// The pinned fingerprint of `server` (`HOST:PORT`).
    pub fn pin(&self, server: &str) -> Option<String> {
        self.pins.get(server).cloned()
    }

    /// Reads the file again, changes it with `f` and writes it: what another
    /// window or run changed meanwhile is kept.
    pub fn update(path: &Path, f: impl FnOnce(&mut Config)) -> std::io::Result<()> {
        let mut c = Config::load(path);
        f(&mut c);
        c.save(path)
    }

    /// Pins `fingerprint` for `server` in the config file at [`path`], replacing
    /// any pin it had; a failure is said for the user.
    pub fn remember_pin(server: &str, fingerprint: &str) -> Result<(), String> {
        let Some(path) = path() else { return Ok(()) };
        Config::update(&path, |c| drop(c.pins.insert(server.to_string(), fingerprint.to_string())))
            .map_err(|e| format!("cannot save {}: {e}", path.display()))
    }

    /// Pins a fingerprint LAN discovery reported for `server`, unless it has
    /// a pin already: a reply anyone on the LAN could send never replaces
    /// one. Gives what to tell the user.
    pub fn pin_discovered(server: &str, fingerprint: &str) -> Result<String, String> {
        let Some(path) = path() else { return Ok(format!("{server}: no config file to pin SHA-256 {fingerprint} in")) };
        let mut said = String::new();
        Config::update(&path, |c| {
            said = match c.pins.get(server) {
                None => {
                    c.pins.insert(server.to_string(), fingerprint.to_string());
                    format!("{} (as LAN discovery reported it)", super::trust::pinned_text(server, fingerprint))
                }
                Some(pinned) if pinned == fingerprint => format!("{server}: the pinned certificate, SHA-256 {pinned}"),
                Some(pinned) => format!(
                    "{server} reports SHA-256 {fingerprint}, but SHA-256 {pinned} is pinned: connecting is \
                     refused until you check the server's log and accept it (--accept-fingerprint {fingerprint})"
                ),
            }
        })
        .map_err(|e| format!("cannot save {}: {e}", path.display()))?;
        Ok(said)
    }

    /// Reads the file; a missing or unreadable one gives the empty config.
    pub fn load(path: &Path) -> Config {
        std::fs::read_to_string(path).map(|t| Config::parse(&t)).unwrap_or_default()
    }

    /// Writes the file (through a temporary file, so it is never half written).
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let tmp = path.with_extension("conf.tmp");
        std::fs::write(&tmp, self.format())?;
        std::fs::rename(tmp, path)
    }

    /// The command line wins over the remembered values, which win over the defaults.
    pub fn merge(&self, server: Option<String>, nick: Option<String>) -> (String, String) {
        let server = server.or_else(|| self.server.clone()).unwrap_or_else(|| DEFAULT_SERVER.into());
        let nick = nick.or_else(|| self.nick.clone()).unwrap_or_else(default_nick);
        (server, nick)
    }
}

/// Where the config lives, from the values of XDG_CONFIG_HOME and HOME.
pub fn path_from(xdg_config_home: Option<&str>, home: Option<&str>) -> Option<PathBuf> {
    let base = match (xdg_config_home, home) {
        (Some(x), _) if !x.is_empty() => PathBuf::from(x),
        (_, Some(h)) if !h.is_empty() => Path::new(h).join(".config"),
        _ => return None,
    };
    Some(base.join("lanchat").join("client.conf"))
}

/// Where the config lives for this process.
pub fn path() -> Option<PathBuf> {
    let xdg = std::env::var("XDG_CONFIG_HOME").ok();
    let home = std::env::var("HOME").ok();
    path_from(xdg.as_deref(), home.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_format_round_trip() {
        let mut c = Config { server: Some("10.0.0.2:6667".into()), nick: Some("ann".into()), ..Config::default() };
        assert_eq!(Config::parse(&c.format()), c);
        c.tls = true;
        c.channels = vec!["#dev".into(), "#side".into()];
        (c.quiet, c.font_size, c.auto_away) = (true, Some(18), Some(10));
        c.pins.insert("pi:6697".into(), ["AB"; 32].join(":"));
        assert_eq!(Config::parse(&c.format()), c);
        let junk = "junk\nnick=\nserver = h:1 \npin.=AB\npin.x:1=nothex\npin.y:2 = ab\n";
        assert_eq!(Config::parse(junk), Config { server: Some("h:1".into()), ..Config::default() });
        let typed = format!("pin.pi:6697={}\n", "ab".repeat(32));
        assert_eq!(Config::parse(&typed).pin("pi:6697"), Some(["AB"; 32].join(":")), "as typed, without colons");
    }

    #[test]
    fn command_line_wins() {
        let c = Config { server: Some("a:1".into()), nick: Some("ann".into()), ..Config::default() };
        assert_eq!(c.merge(None, None), ("a:1".into(), "ann".into()));
        assert_eq!(c.merge(Some("b:2".into()), Some("bob".into())), ("b:2".into(), "bob".into()));
        assert_eq!(Config::default().merge(None, Some("x".into())).0, DEFAULT_SERVER);
    }

    #[test]
    fn honours_xdg_config_home() {
        assert_eq!(path_from(Some("/x"), Some("/h")), Some(PathBuf::from("/x/lanchat/client.conf")));
        assert_eq!(path_from(Some(""), Some("/h")), Some(PathBuf::from("/h/.config/lanchat/client.conf")));
        assert_eq!(path_from(None, None), None);
    }

    #[test]
    fn save_then_load() {
        let dir = std::env::temp_dir().join(format!("lanchat-conf-{}", std::process::id()));
        let path = dir.join("lanchat/client.conf");
        let c = Config { server: Some("127.0.0.1:7000".into()), nick: Some("zed".into()), ..Config::default() };
        c.save(&path).unwrap();
        assert_eq!(Config::load(&path), c);
        Config::update(&path, |c| drop(c.pins.insert("pi:6697".into(), ["01"; 32].join(":")))).unwrap();
        let loaded = Config::load(&path);
        assert_eq!((loaded.nick.as_deref(), loaded.pin("pi:6697")), (Some("zed"), Some(["01"; 32].join(":"))));
        std::fs::remove_dir_all(dir).unwrap();
        assert_eq!(Config::load(&path), Config::default());
    }
}

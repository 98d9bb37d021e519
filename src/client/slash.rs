//! The typed line, parsed once for both front ends (the window and line
//! mode): plain text, or a slash command.

/// What a typed line asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Input<'a> {
    /// Text for the current conversation (`//text` sends `/text`).
    Say(&'a str),
    /// `/me TEXT`: an action in the current conversation.
    Me(&'a str),
    /// `/msg` or `/query`: talk to `target`; an empty text only opens the conversation.
    Msg {
        target: &'a str,
        text: &'a str,
    },
    Nick(&'a str),
    Join(&'a str),
    /// Leave this channel, or the current one.
    Part(Option<&'a str>),
    Quit,
    /// `/away [MESSAGE]`: away with this message, or back without one.
    Away(Option<&'a str>),
    /// `/topic [TEXT]`: set the current channel's topic, or show it.
    Topic(Option<&'a str>),
    /// `/list`: the server's channels.
    List,
    /// `/send FILE`: share a file with the current conversation.
    Send(&'a str),
    /// `/server HOST:PORT`: connect there instead.
    Server(&'a str),
    Connect,
    Disconnect,
    /// Clear the canvas.
    Clear,
    /// Trust the TLS certificate that was just refused as not the pinned one.
    Accept,
    /// A channel operator's command for the current channel, or a raw line.
    Op(Op<'a>),
    /// A command nobody knows, named without its slash.
    Unknown(&'a str),
    /// A known command used wrongly: how to use it.
    Usage(&'static str),
}

/// Every command, for the message about an unknown one.
pub const KNOWN: &str = "/msg, /query, /me, /nick, /join, /part, /topic, /away, /list, /send, /quit, /server, /connect, \
     /disconnect, /clear, /accept, /kick, /ban, /unban, /op, /deop, /voice, /devoice, /mode, /invite, /quote";

/// `/kick NICK [REASON]`, `/ban NICK`, `/op NICK`, `/mode +m` and the like:
/// standard IRC for the current channel ([`Op::line`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Op<'a> {
    /// The command, lowercase, without its slash.
    pub name: &'static str,
    pub args: &'a str,
}

impl Op<'_> {
    /// The IRC line for `channel`.
    pub fn line(&self, channel: &str) -> String {
        let (first, rest) = self.args.split_once(' ').map_or((self.args, ""), |(a, b)| (a, b.trim()));
        let mode = |m: &str| format!("MODE {channel} {m} {}", self.args.split(' ').collect::<Vec<_>>().join(" "));
        match self.name {
            "kick" if rest.is_empty() => format!("KICK {channel} {first}"),
            "kick" => format!("KICK {channel} {first} :{rest}"),
            "ban" => mode("+b"),
            "unban" => mode("-b"),
            "op" => mode("+o"),
            "deop" => mode("-o"),
            "voice" => mode("+v"),
            "devoice" => mode("-v"),
            "mode" if first.starts_with(['#', '&']) => format!("MODE {}", self.args),
            "mode" => format!("MODE {channel} {}", self.args),
            "invite" => format!("INVITE {first} {channel}"),
            _ => self.args.to_string(),
        }
    }
}

/// What to tell the user about an unknown command.
pub fn unknown(name: &str) -> String {
    format!("unknown command /{name}; the commands are {KNOWN}")
}

/// Parses a typed line; None for a blank one.
pub fn parse(line: &str) -> Option<Input<'_>> {
    let line = line.trim_end();
    if line.trim_start().is_empty() {
        return None;
    }
    let Some(cmd) = line.strip_prefix('/') else { return Some(Input::Say(line)) };
    if cmd.starts_with('/') {
        return Some(Input::Say(cmd));
    }
    let (name, rest) = cmd.split_once(' ').unwrap_or((cmd, ""));
    let rest = rest.trim();
    // One word, or None.
    let word = Some(rest).filter(|w| !w.is_empty() && !w.contains(' '));
    let input = match name.to_ascii_lowercase().as_str() {
        "msg" | "query" => match rest.split_once(' ') {
            _ if rest.is_empty() => Input::Usage("/msg NICK [TEXT]"),
            Some((target, text)) => Input::Msg { target, text: text.trim() },
            None => Input::Msg { target: rest, text: "" },
        },
        "me" if !rest.is_empty() => Input::Me(rest),
        "me" => Input::Usage("/me TEXT"),
        "nick" => word.map_or(Input::Usage("/nick NICK"), Input::Nick),
        "join" => word.filter(|c| c.starts_with(['#', '&'])).map_or(Input::Usage("/join #CHANNEL"), Input::Join),
        "part" if rest.is_empty() => Input::Part(None),
        "part" => word.map_or(Input::Usage("/part [#CHANNEL]"), |c| Input::Part(Some(c))),
        "quit" => Input::Quit,
        "away" => Input::Away(Some(rest).filter(|r| !r.is_empty())),
        "topic" => Input::Topic(Some(rest).filter(|r| !r.is_empty())),
        "list" => Input::List,
        "send" if !rest.is_empty() => Input::Send(rest),
        "send" => Input::Usage("/send FILE"),
        "server" => word.map_or(Input::Usage("/server HOST:PORT"), Input::Server),
        "connect" => Input::Connect,
        "disconnect" => Input::Disconnect,
        "clear" => Input::Clear,
        "accept" => Input::Accept,
        "quote" | "raw" if !rest.is_empty() => Input::Op(Op { name: "quote", args: rest }),
        "quote" | "raw" => Input::Usage("/quote IRC LINE"),
        "kick" | "ban" | "unban" | "op" | "deop" | "voice" | "devoice" | "invite" | "mode" => {
            const NAMES: [&str; 9] = ["kick", "ban", "unban", "op", "deop", "voice", "devoice", "invite", "mode"];
            let lower = name.to_ascii_lowercase();
            let name = NAMES.iter().copied().find(|n| *n == lower).unwrap_or("mode");
            if rest.is_empty() {
                Input::Usage(match name {
                    "kick" => "/kick NICK [REASON]",
                    "mode" => "/mode MODES [PARAMETERS] (e.g. /mode +m)",
                    _ => "/ban, /unban, /op, /deop, /voice, /devoice or /invite NICK",
                })
            } else {
                Input::Op(Op { name, args: rest })
            }
        }
        _ => Input::Unknown(name),
    };
    Some(input)
}

#[cfg(test)]
mod tests {
    use super::Input::*;
    use super::*;

    #[test]
    fn text_and_escapes() {
        assert_eq!(parse("  "), None);
        assert_eq!(parse("hello :) "), Some(Say("hello :)")));
        assert_eq!(parse("//etc/passwd"), Some(Say("/etc/passwd")));
        assert_eq!(parse("/me waves"), Some(Me("waves")));
        assert_eq!(parse("/ME  waves  "), Some(Me("waves")));
        assert_eq!(parse("/me"), Some(Usage("/me TEXT")));
    }

    #[test]
    fn private_messages() {
        assert_eq!(parse("/msg bob hi there"), Some(Msg { target: "bob", text: "hi there" }));
        assert_eq!(parse("/query bob"), Some(Msg { target: "bob", text: "" }));
        assert_eq!(parse("/msg #side  x"), Some(Msg { target: "#side", text: "x" }));
        assert_eq!(parse("/msg"), Some(Usage("/msg NICK [TEXT]")));
    }

    #[test]
    fn one_word_arguments() {
        assert_eq!(parse("/nick ann"), Some(Nick("ann")));
        assert_eq!(parse("/nick ann b"), Some(Usage("/nick NICK")));
        assert_eq!(parse("/nick"), Some(Usage("/nick NICK")));
        assert_eq!(parse("/join #dev"), Some(Join("#dev")));
        assert_eq!(parse("/join dev"), Some(Usage("/join #CHANNEL")));
        assert_eq!(parse("/part"), Some(Part(None)));
        assert_eq!(parse("/part #dev"), Some(Part(Some("#dev"))));
        assert_eq!(parse("/server 10.0.0.2:6667"), Some(Server("10.0.0.2:6667")));
        assert_eq!(parse("/server"), Some(Usage("/server HOST:PORT")));
    }

    #[test]
    fn bare_commands_and_unknown_ones() {
        assert_eq!(parse("/quit"), Some(Quit));
        assert_eq!(parse("/quit bye all"), Some(Quit));
        assert_eq!(parse("/connect"), Some(Connect));
        assert_eq!(parse("/disconnect"), Some(Disconnect));
        assert_eq!(parse("/clear"), Some(Clear));
        assert_eq!(parse("/accept"), Some(Accept));
        assert_eq!(parse("/away"), Some(Away(None)));
        assert_eq!(parse("/away  gone for lunch "), Some(Away(Some("gone for lunch"))));
        assert_eq!(parse("/topic"), Some(Topic(None)));
        assert_eq!(parse("/topic Friday: pizza"), Some(Topic(Some("Friday: pizza"))));
        assert_eq!(parse("/LIST"), Some(List));
        assert_eq!(parse("/frob bob"), Some(Unknown("frob")));
        assert!(unknown("frob").contains("/msg, /query, /me") && unknown("frob").contains("/kick"));
    }

    #[test]
    fn channel_operator_commands() {
        let line = |l: &str| match parse(l) {
            Some(Op(op)) => op.line("#c"),
            other => panic!("{l}: {other:?}"),
        };
        assert_eq!(line("/kick bob"), "KICK #c bob");
        assert_eq!(line("/KICK bob be nice"), "KICK #c bob :be nice");
        assert_eq!(line("/ban bob"), "MODE #c +b bob");
        assert_eq!(line("/op bob carl"), "MODE #c +o bob carl");
        assert_eq!(line("/devoice bob"), "MODE #c -v bob");
        assert_eq!(line("/mode +mk secret"), "MODE #c +mk secret");
        assert_eq!(line("/mode #other +i"), "MODE #other +i");
        assert_eq!(line("/invite dora"), "INVITE dora #c");
        assert_eq!(line("/quote WHO #c %nf"), "WHO #c %nf");
        assert_eq!(parse("/kick"), Some(Usage("/kick NICK [REASON]")));
        assert_eq!(parse("/quote"), Some(Usage("/quote IRC LINE")));
    }
}

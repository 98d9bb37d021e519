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
    /// `/server HOST:PORT`: connect there instead.
    Server(&'a str),
    Connect,
    Disconnect,
    /// Clear the canvas.
    Clear,
    /// Trust the TLS certificate that was just refused as not the pinned one.
    Accept,
    /// A command nobody knows, named without its slash.
    Unknown(&'a str),
    /// A known command used wrongly: how to use it.
    Usage(&'static str),
}

/// Every command, for the message about an unknown one.
pub const KNOWN: &str = "/msg, /query, /me, /nick, /join, /part, /topic, /away, /list, /quit, /server, /connect, /disconnect, /clear, /accept";

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
        "server" => word.map_or(Input::Usage("/server HOST:PORT"), Input::Server),
        "connect" => Input::Connect,
        "disconnect" => Input::Disconnect,
        "clear" => Input::Clear,
        "accept" => Input::Accept,
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
        assert_eq!(parse("/kick bob"), Some(Unknown("kick")));
        assert!(unknown("kick").contains("/msg, /query, /me") && unknown("kick").contains("/part"));
    }
}

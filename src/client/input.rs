//! The input line's comforts, with no widget: the history of sent lines
//! (Up and Down) and nick completion (Tab).

/// Sent lines, newest last, and where Up/Down are in them.
#[derive(Default)]
pub struct History {
    lines: Vec<String>,
    /// Index into `lines` while walking; `lines.len()` at the draft.
    pos: usize,
    /// What was typed before walking up.
    draft: String,
}

const KEEP: usize = 200;

impl History {
    pub fn push(&mut self, line: &str) {
        if self.lines.last().is_none_or(|l| l != line) {
            self.lines.push(line.to_owned());
            if self.lines.len() > KEEP {
                self.lines.remove(0);
            }
        }
        self.pos = self.lines.len();
        self.draft.clear();
    }

    /// Up: the previous sent line, if any; `current` is kept as the draft.
    pub fn up(&mut self, current: &str) -> Option<String> {
        if self.pos == 0 {
            return None;
        }
        if self.pos == self.lines.len() {
            self.draft = current.to_owned();
        }
        self.pos -= 1;
        Some(self.lines[self.pos].clone())
    }

    /// Down: the next line, or back to the draft.
    pub fn down(&mut self) -> Option<String> {
        if self.pos >= self.lines.len() {
            return None;
        }
        self.pos += 1;
        Some(self.lines.get(self.pos).cloned().unwrap_or_else(|| std::mem::take(&mut self.draft)))
    }
}

/// Tab completion of nicks; pressing Tab again offers the next match.
#[derive(Default)]
pub struct Completer {
    /// The line as completion left it, the word's start, the prefix typed
    /// and the index of the match offered.
    last: Option<(String, usize, String, usize)>,
}

impl Completer {
    /// Completes the word before `cursor` (a byte offset) in `line` from
    /// `nicks`; returns the new line and cursor. At the line's start a nick
    /// gets ": " after it (addressing someone), elsewhere " ".
    pub fn complete(&mut self, line: &str, cursor: usize, nicks: &[&str]) -> Option<(String, usize)> {
        let cursor = cursor.min(line.len());
        let (start, prefix, next) = match &self.last {
            Some((l, start, prefix, i)) if l == line => (*start, prefix.clone(), i + 1),
            _ => {
                let start = line[..cursor].rfind(' ').map_or(0, |i| i + 1);
                (start, line[start..cursor].to_owned(), 0)
            }
        };
        let lower = prefix.to_ascii_lowercase();
        let mut matches: Vec<&str> =
            nicks.iter().copied().filter(|n| n.to_ascii_lowercase().starts_with(&lower)).collect();
        matches.sort_by_key(|n| n.to_ascii_lowercase());
        matches.dedup();
        if matches.is_empty() || prefix.is_empty() {
            self.last = None;
            return None;
        }
        let i = next % matches.len();
        let suffix = if start == 0 { ": " } else { " " };
        let word = format!("{}{suffix}", matches[i]);
        let new = format!("{}{word}{}", &line[..start], &line[cursor..]);
        let at = start + word.len();
        self.last = Some((new.clone(), start, prefix, i));
        Some((new, at))
    }

    /// Any other key: the next Tab starts afresh.
    pub fn reset(&mut self) {
        self.last = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn up_and_down_walk_the_sent_lines_and_keep_the_draft() {
        let mut h = History::default();
        assert_eq!(h.up("x"), None);
        h.push("one");
        h.push("two");
        h.push("two");
        assert_eq!(h.up("draft").as_deref(), Some("two"));
        assert_eq!(h.up("two").as_deref(), Some("one"));
        assert_eq!(h.up("one"), None);
        assert_eq!(h.down().as_deref(), Some("two"));
        assert_eq!(h.down().as_deref(), Some("draft"));
        assert_eq!(h.down(), None);
    }

    #[test]
    fn tab_completes_and_cycles() {
        let nicks = ["alice", "Albert", "bob"];
        let mut c = Completer::default();
        assert_eq!(c.complete("al", 2, &nicks), Some(("Albert: ".into(), 8)));
        assert_eq!(c.complete("Albert: ", 8, &nicks), Some(("alice: ".into(), 7)));
        assert_eq!(c.complete("alice: ", 7, &nicks), Some(("Albert: ".into(), 8)), "round again");
        c.reset();
        assert_eq!(c.complete("hi B", 4, &nicks), Some(("hi bob ".into(), 7)));
        assert_eq!(c.complete("hi zed", 6, &nicks), None);
        assert_eq!(c.complete("hi ", 3, &nicks), None, "nothing typed: nothing to complete");
    }
}

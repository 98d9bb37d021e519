//! The public ircdocs parser test vectors against `lanchat::line`.

use lanchat::line::{Message, split_userhost, unescape_tag_value, write_message};
use yaml_rust2::{Yaml, YamlLoader};

fn load(name: &str) -> Vec<Yaml> {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap();
    let doc = YamlLoader::load_from_str(&text).unwrap().remove(0);
    doc["tests"].as_vec().unwrap().clone()
}

fn strings(y: &Yaml) -> Vec<String> {
    y.as_vec().map(|v| v.iter().map(|s| s.as_str().unwrap().to_string()).collect()).unwrap_or_default()
}

fn tag_pairs(y: &Yaml) -> Vec<(String, String)> {
    y.as_hash()
        .map(|h| {
            h.iter()
                .map(|(k, v)| (k.as_str().unwrap().to_string(), v.as_str().map(String::from).unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn msg_split() {
    let tests = load("msg-split.yaml");
    assert!(tests.len() > 30);
    for t in &tests {
        let input = t["input"].as_str().unwrap();
        let atoms = &t["atoms"];
        let m = Message::parse(input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
        assert_eq!(m.command, atoms["verb"].as_str().unwrap(), "{input:?}");
        assert_eq!(m.source, atoms["source"].as_str(), "{input:?}");
        let params: Vec<&str> = m.params.iter().copied().collect();
        assert_eq!(params, strings(&atoms["params"]), "{input:?}");
        for (k, v) in tag_pairs(&atoms["tags"]) {
            let raw = m.tag(&k).unwrap_or_else(|| panic!("{input:?}: no tag {k}"));
            assert_eq!(unescape_tag_value(raw), v, "{input:?} tag {k}");
        }
        assert_eq!(
            m.tags().map(|(k, _)| k).collect::<std::collections::HashSet<_>>().len(),
            tag_pairs(&atoms["tags"]).len()
        );
    }
}

#[test]
fn msg_join() {
    let tests = load("msg-join.yaml");
    assert!(tests.len() > 10);
    for t in &tests {
        let atoms = &t["atoms"];
        let tags = tag_pairs(&atoms["tags"]);
        let tags: Vec<(&str, &str)> = tags.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let params = strings(&atoms["params"]);
        let params: Vec<&str> = params.iter().map(String::as_str).collect();
        let mut out = String::new();
        write_message(&mut out, &tags, atoms["source"].as_str(), atoms["verb"].as_str().unwrap(), &params);
        let matches = strings(&t["matches"]);
        assert!(matches.contains(&out), "{:?}: {out:?} not in {matches:?}", t["desc"]);
    }
}

#[test]
fn userhost_split() {
    let tests = load("userhost-split.yaml");
    assert!(tests.len() > 5);
    for t in &tests {
        let source = t["source"].as_str().unwrap();
        let atoms = &t["atoms"];
        let (nick, user, host) = split_userhost(source);
        assert_eq!(nick, atoms["nick"].as_str().unwrap_or(""), "{source:?}");
        assert_eq!(user.unwrap_or(""), atoms["user"].as_str().unwrap_or(""), "{source:?}");
        assert_eq!(host.unwrap_or(""), atoms["host"].as_str().unwrap_or(""), "{source:?}");
    }
}

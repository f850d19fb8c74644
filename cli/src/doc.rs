//! YAML and JSON documents as a tree whose every node knows its line and column, so that
//! an error can name the file, the line and the field.

use std::collections::HashMap;
use std::fmt;
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// An error at a place in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    /// The file as the user named it.
    pub file: String,
    /// 1-based line, 0 when unknown.
    pub line: usize,
    /// 1-based column, 0 when unknown.
    pub col: usize,
    /// The field, as a path from the document's root (`paths./pets.get.parameters[0].in`).
    pub field: String,
    pub message: String,
}

impl fmt::Display for Located {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if self.line > 0 {
            write!(f, ":{}:{}", self.line, self.col)?;
        }
        if !self.field.is_empty() {
            write!(f, ": {}", self.field)?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for Located {}

/// A value of the document.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A scalar's text, and whether it was written plain (unquoted).
    Scalar(String, bool),
    Seq(Vec<Node>),
    /// Entries in document order.
    Map(Vec<(Node, Node)>),
}

/// A value and where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub value: Value,
    pub line: usize,
    pub col: usize,
}

/// A parsed document: its file name and root.
#[derive(Debug, Clone)]
pub struct Doc {
    pub file: String,
    pub root: Node,
}

impl Doc {
    /// Parses YAML (JSON is YAML too). Duplicate keys in a mapping are refused.
    pub fn parse(file: &str, text: &str) -> Result<Self, Located> {
        let mut builder = Builder::default();
        let mut parser = Parser::new_from_str(text);
        parser.load(&mut builder, false).map_err(|e| Located {
            file: file.to_owned(),
            line: e.marker().line(),
            col: e.marker().col() + 1,
            field: String::new(),
            message: e.info().to_owned(),
        })?;
        if let Some((line, col, message)) = builder.error {
            return Err(Located {
                file: file.to_owned(),
                line,
                col,
                field: String::new(),
                message,
            });
        }
        let root = builder.root.ok_or_else(|| Located {
            file: file.to_owned(),
            line: 1,
            col: 1,
            field: String::new(),
            message: "the document is empty".into(),
        })?;
        Ok(Self {
            file: file.to_owned(),
            root,
        })
    }

    /// The node at a field path like `policies[1].definition.static`, or the deepest one
    /// on the way that exists (so that an error about a missing field points at its parent).
    pub fn locate(&self, field: &str) -> &Node {
        let mut node = &self.root;
        for part in field.split('.').filter(|p| !p.is_empty()) {
            let (key, indexes) = match part.find('[') {
                Some(at) => (&part[..at], &part[at..]),
                None => (part, ""),
            };
            if !key.is_empty() {
                match node.get(key) {
                    Some(next) => node = next,
                    None => return node,
                }
            }
            for index in indexes
                .split(['[', ']'])
                .filter_map(|i| i.parse::<usize>().ok())
            {
                match node.items().and_then(|items| items.get(index)) {
                    Some(next) => node = next,
                    None => return node,
                }
            }
        }
        node
    }

    /// An error at field path `field`, placed at that field (or its nearest parent).
    pub fn error_at(&self, field: &str, message: impl Into<String>) -> Located {
        let node = self.locate(field);
        self.error(node, field, message)
    }

    /// An error about `node`, at field `field`.
    pub fn error(&self, node: &Node, field: &str, message: impl Into<String>) -> Located {
        Located {
            file: self.file.clone(),
            line: node.line,
            col: node.col,
            field: field.to_owned(),
            message: message.into(),
        }
    }
}

impl Node {
    /// The text of a scalar.
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar(s, _) => Some(s),
            _ => None,
        }
    }

    /// A plain `true` or `false`.
    pub fn as_bool(&self) -> Option<bool> {
        match &self.value {
            Value::Scalar(s, true) if s == "true" => Some(true),
            Value::Scalar(s, true) if s == "false" => Some(false),
            _ => None,
        }
    }

    /// The entries of a mapping.
    pub fn entries(&self) -> Option<&[(Node, Node)]> {
        match &self.value {
            Value::Map(entries) => Some(entries),
            _ => None,
        }
    }

    /// The items of a sequence.
    pub fn items(&self) -> Option<&[Node]> {
        match &self.value {
            Value::Seq(items) => Some(items),
            _ => None,
        }
    }

    /// The value of a mapping's key.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entries()?
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v)
    }

    /// What kind of value this is, for messages.
    pub fn kind(&self) -> &'static str {
        match &self.value {
            Value::Scalar(..) => "a scalar",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }
}

enum Frame {
    Seq(Vec<Node>, Marker, usize),
    /// Entries, a key waiting for its value, start, anchor.
    Map(Vec<(Node, Node)>, Option<Node>, Marker, usize),
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    root: Option<Node>,
    anchors: HashMap<usize, Node>,
    /// The first problem the parser itself does not report (duplicate key, unknown alias).
    error: Option<(usize, usize, String)>,
}

impl Builder {
    fn add(&mut self, node: Node, anchor: usize) {
        if anchor > 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Frame::Seq(items, ..)) => items.push(node),
            Some(Frame::Map(entries, pending, ..)) => match pending.take() {
                None => *pending = Some(node),
                Some(key) => {
                    if key.as_str().is_some()
                        && entries.iter().any(|(k, _)| k.as_str() == key.as_str())
                        && self.error.is_none()
                    {
                        self.error = Some((
                            key.line,
                            key.col,
                            format!(
                                "duplicate key \"{}\" in a mapping",
                                key.as_str().unwrap_or_default()
                            ),
                        ));
                    }
                    entries.push((key, node));
                }
            },
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, event: Event, mark: Marker) {
        let (line, col) = (mark.line(), mark.col() + 1);
        match event {
            Event::Scalar(text, style, anchor, _) => {
                let plain = matches!(style, TScalarStyle::Plain);
                self.add(
                    Node {
                        value: Value::Scalar(text, plain),
                        line,
                        col,
                    },
                    anchor,
                );
            }
            Event::SequenceStart(anchor, _) => {
                self.stack.push(Frame::Seq(Vec::new(), mark, anchor))
            }
            Event::MappingStart(anchor, _) => {
                self.stack.push(Frame::Map(Vec::new(), None, mark, anchor));
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (value, start, anchor) = match self.stack.pop() {
                    Some(Frame::Seq(items, start, anchor)) => (Value::Seq(items), start, anchor),
                    Some(Frame::Map(entries, _, start, anchor)) => {
                        (Value::Map(entries), start, anchor)
                    }
                    None => return,
                };
                self.add(
                    Node {
                        value,
                        line: start.line(),
                        col: start.col() + 1,
                    },
                    anchor,
                );
            }
            Event::Alias(id) => match self.anchors.get(&id).cloned() {
                Some(node) => self.add(node, 0),
                None => {
                    if self.error.is_none() {
                        self.error = Some((line, col, "an alias to an unknown anchor".into()));
                    }
                }
            },
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn nodes_know_their_place() {
        let doc = Doc::parse("a.yaml", "a:\n  b: [1, \"x\"]\n  c: true\n").unwrap();
        let b = doc.root.get("a").unwrap().get("b").unwrap();
        assert_eq!((b.line, b.col), (2, 6));
        assert_eq!(b.items().unwrap()[1].as_str(), Some("x"));
        assert_eq!(
            doc.root.get("a").unwrap().get("c").unwrap().as_bool(),
            Some(true)
        );
    }

    #[test]
    fn json_parses_too_and_duplicates_are_refused() {
        let doc = Doc::parse("a.json", "{\"a\": {\"b\": 1}}").unwrap();
        assert_eq!(
            doc.root.get("a").unwrap().get("b").unwrap().as_str(),
            Some("1")
        );
        let err = Doc::parse("a.yaml", "a: 1\nb: 2\na: 3\n").unwrap_err();
        assert_eq!((err.line, err.col), (3, 1));
        assert!(
            err.to_string()
                .starts_with("a.yaml:3:1: duplicate key \"a\""),
            "{err}"
        );
        let err = Doc::parse("a.yaml", "a: [1,\n").unwrap_err();
        assert!(err.line > 0, "{err}");
    }

    #[test]
    fn fields_are_located_by_path() {
        let doc = Doc::parse(
            "s.json",
            "{\n  \"a\": [\n    {\"b\": 1},\n    {\"b\": 2}\n  ]\n}",
        )
        .unwrap();
        let b = doc.locate("a[1].b");
        assert_eq!((b.as_str(), b.line), (Some("2"), 4));
        // A missing field points at the nearest parent that exists.
        assert_eq!(doc.locate("a[1].c").line, 4);
        assert_eq!(doc.locate("a[7]").line, 2);
        assert_eq!(
            doc.error_at("a[0].b", "bad").to_string(),
            "s.json:3:11: a[0].b: bad"
        );
    }

    #[test]
    fn anchors_and_aliases_are_followed() {
        let doc = Doc::parse("a.yaml", "x: &p {in: query}\ny: *p\n").unwrap();
        assert_eq!(
            doc.root.get("y").unwrap().get("in").unwrap().as_str(),
            Some("query")
        );
    }
}

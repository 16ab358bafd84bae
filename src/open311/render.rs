//! One document tree, rendered as GeoReport v2 XML or JSON: objects become elements (XML) or
//! objects (JSON), lists become a wrapper element of repeated item elements (XML) or arrays
//! (JSON), so both formats come from the same value and cannot drift apart.

use quick_xml::escape::escape;
use serde_json::{Map, Number, Value as Json};

/// The response format, from the path's suffix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Xml,
    Json,
}

impl Format {
    /// `services.json` → (`services`, Json); no or another suffix → XML (the required format).
    pub fn split(path: &str) -> (&str, Option<Format>) {
        if let Some(stem) = path.strip_suffix(".json") {
            (stem, Some(Format::Json))
        } else if let Some(stem) = path.strip_suffix(".xml") {
            (stem, Some(Format::Xml))
        } else {
            (path, None)
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Xml => "text/xml; charset=utf-8",
            Format::Json => "application/json; charset=utf-8",
        }
    }
}

/// A node of a GeoReport document.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
    /// Named children, in order.
    Obj(Vec<(&'static str, Node)>),
    /// Repeated items, each an element named by the tag in XML.
    List(&'static str, Vec<Node>),
}

impl Node {
    pub fn text(s: impl Into<String>) -> Node {
        Node::Text(s.into())
    }

    pub fn opt_text(s: Option<impl Into<String>>) -> Node {
        s.map_or(Node::Null, |s| Node::Text(s.into()))
    }

    pub fn opt_float(f: Option<f64>) -> Node {
        f.map_or(Node::Null, Node::Float)
    }
}

/// The document as bytes: XML with its declaration under `root`, or JSON (the root's name unused).
pub fn render(root: &'static str, node: &Node, format: Format) -> String {
    match format {
        Format::Json => to_json(node).to_string(),
        Format::Xml => {
            let mut out = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
            write_xml(&mut out, root, node);
            out
        }
    }
}

fn to_json(node: &Node) -> Json {
    match node {
        Node::Null => Json::Null,
        Node::Bool(b) => Json::Bool(*b),
        Node::Int(i) => Json::Number((*i).into()),
        Node::Float(f) => Number::from_f64(*f).map_or(Json::Null, Json::Number),
        Node::Text(s) => Json::String(s.clone()),
        Node::Obj(fields) => {
            let mut map = Map::new();
            for (k, v) in fields {
                map.insert((*k).to_string(), to_json(v));
            }
            Json::Object(map)
        }
        Node::List(_, items) => Json::Array(items.iter().map(to_json).collect()),
    }
}

fn write_xml(out: &mut String, tag: &str, node: &Node) {
    match node {
        Node::Null => {
            out.push('<');
            out.push_str(tag);
            out.push_str("/>");
        }
        Node::Bool(b) => element(out, tag, if *b { "true" } else { "false" }),
        Node::Int(i) => element(out, tag, &i.to_string()),
        Node::Float(f) => element(out, tag, &f.to_string()),
        Node::Text(s) => element(out, tag, &escape(s.as_str())),
        Node::Obj(fields) => {
            open(out, tag);
            for (k, v) in fields {
                write_xml(out, k, v);
            }
            close(out, tag);
        }
        Node::List(item, items) => {
            open(out, tag);
            for v in items {
                write_xml(out, item, v);
            }
            close(out, tag);
        }
    }
}

fn element(out: &mut String, tag: &str, text: &str) {
    open(out, tag);
    out.push_str(text);
    close(out, tag);
}

fn open(out: &mut String, tag: &str) {
    out.push('<');
    out.push_str(tag);
    out.push('>');
}

fn close(out: &mut String, tag: &str) {
    out.push_str("</");
    out.push_str(tag);
    out.push('>');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_tree_two_formats() {
        let doc = Node::List(
            "service",
            vec![Node::Obj(vec![
                ("service_code", Node::text("A&B")),
                ("metadata", Node::Bool(true)),
                ("group", Node::Null),
            ])],
        );
        assert_eq!(
            render("services", &doc, Format::Xml),
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<services><service><service_code>A&amp;B</service_code><metadata>true</metadata><group/></service></services>"
        );
        let json: serde_json::Value =
            serde_json::from_str(&render("services", &doc, Format::Json)).expect("json");
        assert_eq!(
            json,
            serde_json::json!([{"service_code": "A&B", "metadata": true, "group": null}])
        );
        assert_eq!(
            Format::split("services.json"),
            ("services", Some(Format::Json))
        );
        assert_eq!(
            Format::split("requests/1.xml"),
            ("requests/1", Some(Format::Xml))
        );
        assert_eq!(Format::split("requests"), ("requests", None));
    }
}

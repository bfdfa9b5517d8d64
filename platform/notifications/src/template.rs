//! The mail template language: `{{name}}` is a value, `{{#items}}…{{/items}}`
//! repeats its body once per item (inside it, `{{name}}` or
//! `{{items.name}}` is the item's value, falling back to the mail's).
//! Nothing else: no logic, no partials, no unescaped output, so a workspace
//! admin's template cannot reach more than the values it is given.
//!
//! A template is parsed against the variables its mail has, and every
//! problem is reported at once.

use std::collections::HashMap;

/// The one repeated section.
const ITEMS: &str = "items";

/// What a template may refer to.
pub struct Variables {
    /// The mail's values.
    pub top: &'static [&'static str],
    /// Each item's values (empty: the template has no items section).
    pub item: &'static [&'static str],
}

/// A parsed template.
#[derive(Debug, PartialEq)]
pub enum Node {
    Text(String),
    Value(String),
    Item(String),
    Items(Vec<Node>),
}

/// How values are written into a part.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Escape {
    /// As they are (plain-text bodies).
    None,
    /// HTML-escaped (HTML bodies).
    Html,
    /// On one line (subjects, a mail header).
    OneLine,
}

/// The values of one mail.
#[derive(Debug, Default)]
pub struct Values {
    pub top: HashMap<&'static str, String>,
    pub items: Vec<HashMap<&'static str, String>>,
}

/// Parse `source`, the template's `part` (`subject`, `text`, `html`);
/// problems are added to `problems`, each naming the part.
pub fn parse(source: &str, part: &str, variables: &Variables, problems: &mut Vec<String>) -> Vec<Node> {
    let mut stack: Vec<Vec<Node>> = vec![Vec::new()];
    let mut rest = source;
    while let Some(open) = rest.find("{{") {
        push_text(&mut stack, &rest[..open]);
        let after = &rest[open + 2..];
        let Some(close) = after.find("}}") else {
            problems.push(format!("{part}: a `{{{{` is never closed by `}}}}`"));
            return stack.swap_remove(0);
        };
        let tag = after[..close].trim();
        rest = &after[close + 2..];
        let in_items = stack.len() > 1;
        if let Some(section) = tag.strip_prefix('#') {
            let section = section.trim();
            if section != ITEMS || variables.item.is_empty() {
                problems.push(format!("{part}: unknown section `{{{{#{section}}}}}`{}", sections_hint(variables)));
            } else if in_items {
                problems.push(format!("{part}: `{{{{#items}}}}` inside `{{{{#items}}}}`"));
            } else {
                stack.push(Vec::new());
                rest = rest.strip_prefix('\n').unwrap_or(rest);
            }
        } else if let Some(section) = tag.strip_prefix('/') {
            let section = section.trim();
            if section == ITEMS && in_items {
                let body = stack.pop().unwrap_or_default();
                stack.last_mut().expect("the top level stays").push(Node::Items(body));
                rest = rest.strip_prefix('\n').unwrap_or(rest);
            } else {
                problems.push(format!("{part}: `{{{{/{section}}}}}` closes no open section"));
            }
        } else {
            let name = if in_items { tag.strip_prefix("items.").unwrap_or(tag) } else { tag };
            let node = if in_items && variables.item.contains(&name) {
                Node::Item(name.to_owned())
            } else if variables.top.contains(&name) {
                Node::Value(name.to_owned())
            } else {
                let known = if in_items { variables.item } else { variables.top };
                problems.push(format!("{part}: unknown variable `{{{{{tag}}}}}`; known here: {}", known.join(", ")));
                continue;
            };
            stack.last_mut().expect("a level is open").push(node);
        }
    }
    push_text(&mut stack, rest);
    if stack.len() > 1 {
        problems.push(format!("{part}: `{{{{#items}}}}` is never closed by `{{{{/items}}}}`"));
        let body = stack.pop().unwrap_or_default();
        stack[0].push(Node::Items(body));
    }
    stack.swap_remove(0)
}

fn sections_hint(variables: &Variables) -> &'static str {
    if variables.item.is_empty() { " (this template has no sections)" } else { " (the one section is `items`)" }
}

fn push_text(stack: &mut [Vec<Node>], text: &str) {
    if !text.is_empty() {
        stack.last_mut().expect("a level is open").push(Node::Text(text.to_owned()));
    }
}

/// Write `nodes` with `values`.
pub fn render(nodes: &[Node], values: &Values, escape: Escape) -> String {
    let mut out = String::new();
    write(nodes, values, None, escape, &mut out);
    out
}

fn write(
    nodes: &[Node],
    values: &Values,
    item: Option<&HashMap<&'static str, String>>,
    escape: Escape,
    out: &mut String,
) {
    for node in nodes {
        match node {
            Node::Text(text) => out.push_str(text),
            Node::Value(name) => push_value(values.top.get(name.as_str()), escape, out),
            Node::Item(name) => push_value(item.and_then(|item| item.get(name.as_str())), escape, out),
            Node::Items(body) => {
                for item in &values.items {
                    write(body, values, Some(item), escape, out);
                }
            }
        }
    }
}

fn push_value(value: Option<&String>, escape: Escape, out: &mut String) {
    let Some(value) = value else { return };
    match escape {
        Escape::None => out.push_str(value),
        Escape::Html => out.push_str(&crate::message::escape(value)),
        Escape::OneLine => out.push_str(&crate::message::one_line(value)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VARIABLES: Variables = Variables { top: &["name", "count"], item: &["text", "author"] };
    const FLAT: Variables = Variables { top: &["name"], item: &[] };

    fn parsed(source: &str, variables: &Variables) -> Result<Vec<Node>, Vec<String>> {
        let mut problems = Vec::new();
        let nodes = parse(source, "text", variables, &mut problems);
        if problems.is_empty() { Ok(nodes) } else { Err(problems) }
    }

    fn values() -> Values {
        let item = |text: &str, author: &str| HashMap::from([("text", text.to_owned()), ("author", author.to_owned())]);
        Values {
            top: HashMap::from([("name", "<Ann>".to_owned()), ("count", "2".to_owned())]),
            items: vec![item("hi\nthere", "Bob"), item("yo", "Cy")],
        }
    }

    #[test]
    fn values_and_items_are_written_escaped_as_the_part_needs() {
        let nodes = parsed(
            "Hi {{ name }}, {{count}}:\n{{#items}}\n- {{author}} ({{name}}): {{items.text}}\n{{/items}}\nbye",
            &VARIABLES,
        )
        .unwrap();
        assert_eq!(
            render(&nodes, &values(), Escape::None),
            "Hi <Ann>, 2:\n- Bob (<Ann>): hi\nthere\n- Cy (<Ann>): yo\nbye"
        );
        assert_eq!(
            render(&nodes, &values(), Escape::Html),
            "Hi &lt;Ann&gt;, 2:\n- Bob (&lt;Ann&gt;): hi\nthere\n- Cy (&lt;Ann&gt;): yo\nbye"
        );
        let subject = parsed("{{#items}}{{text}} {{/items}}", &VARIABLES).unwrap();
        assert_eq!(render(&subject, &values(), Escape::OneLine), "hi there yo ");
    }

    #[test]
    fn every_problem_is_named_at_once() {
        let problems =
            parsed("{{nmae}} {{#items}}{{#items}}{{bogus}}{{/items}} {{/loop}} {{#people}}", &VARIABLES).unwrap_err();
        assert_eq!(problems.len(), 5, "{problems:?}");
        assert!(problems[0].contains("unknown variable `{{nmae}}`; known here: name, count"), "{problems:?}");
        assert!(problems[1].contains("`{{#items}}` inside `{{#items}}`"), "{problems:?}");
        assert!(problems[2].contains("unknown variable `{{bogus}}`; known here: text, author"), "{problems:?}");
        assert!(problems[3].contains("`{{/loop}}` closes no open section"), "{problems:?}");
        assert!(problems[4].contains("unknown section `{{#people}}`"), "{problems:?}");
    }

    #[test]
    fn unclosed_tags_and_sections_are_problems() {
        assert!(parsed("Hi {{name", &FLAT).unwrap_err()[0].contains("never closed by `}}`"));
        assert!(parsed("{{#items}}x", &VARIABLES).unwrap_err()[0].contains("`{{#items}}` is never closed"));
        assert!(parsed("{{#items}}{{/items}}", &FLAT).unwrap_err()[0].contains("this template has no sections"));
        assert!(parsed("{{text}}", &VARIABLES).unwrap_err()[0].contains("known here: name, count"));
        assert!(parsed("plain { text } }}", &FLAT).is_ok());
    }
}

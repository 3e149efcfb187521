//! `<%= name %>`, the dissertation's placeholder: where a template's text
//! or attribute takes a value.

/// A piece of text: as written, or a placeholder's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Piece<'a> {
    /// Text as written.
    Text(&'a str),
    /// The name of a placeholder.
    Name(&'a str),
}

/// `text` cut at its placeholders, each piece with its byte offset; an
/// unclosed or nameless placeholder is refused with its offset.
pub fn split(text: &str) -> Result<Vec<(usize, Piece<'_>)>, (usize, String)> {
    let mut pieces = Vec::new();
    let mut rest = 0;
    while let Some(open) = text[rest..].find("<%=").map(|i| rest + i) {
        if open > rest {
            pieces.push((rest, Piece::Text(&text[rest..open])));
        }
        let inner = open + 3;
        let Some(close) = text[inner..].find("%>").map(|i| inner + i) else {
            return Err((open, "a placeholder <%= opens and no %> closes it".into()));
        };
        let name = text[inner..close].trim();
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            return Err((
                open,
                format!("placeholder <%={}%>: a name is letters, digits, - and _", &text[inner..close]),
            ));
        }
        pieces.push((open, Piece::Name(name)));
        rest = close + 2;
    }
    if rest < text.len() {
        pieces.push((rest, Piece::Text(&text[rest..])));
    }
    Ok(pieces)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_cut_out_with_their_offsets() {
        let pieces = split("Цвет: <%= MyColor %>, <%=b%>.").unwrap();
        assert_eq!(
            pieces,
            [
                (0, Piece::Text("Цвет: ")),
                (10, Piece::Name("MyColor")),
                (24, Piece::Text(", ")),
                (26, Piece::Name("b")),
                (32, Piece::Text("."))
            ]
        );
        assert_eq!(split("a <%= x").unwrap_err().0, 2);
        assert!(split("<%= two words %>").is_err());
        assert_eq!(split("100 % <% not one %>").unwrap(), [(0, Piece::Text("100 % <% not one %>"))]);
    }
}

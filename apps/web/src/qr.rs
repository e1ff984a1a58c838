//! An invite code as a QR code: one SVG `<path>` drawn from the code's modules, with
//! presentation attributes only (no `style`), so the page's CSP needs no exception.

use maud::{Markup, PreEscaped, html};
use qrcode::{Color, QrCode};

/// The quiet zone around the symbol, in modules.
const QUIET: usize = 4;

/// The SVG drawing of `text` as a QR code (medium error correction), or nothing if it
/// does not fit in one (an invite code always does).
#[must_use]
pub fn svg(text: &str) -> Markup {
    let Ok(code) = QrCode::new(text.as_bytes()) else {
        return html! {};
    };
    let width = code.width();
    let size = width + 2 * QUIET;
    let mut path = String::with_capacity(width * width * 4);
    for (i, color) in code.to_colors().iter().enumerate() {
        if *color == Color::Dark {
            let (x, y) = (i % width + QUIET, i / width + QUIET);
            path.push_str(&format!("M{x} {y}h1v1h-1z"));
        }
    }
    html! {
        svg.qr xmlns="http://www.w3.org/2000/svg" viewBox=(format!("0 0 {size} {size}"))
            width="256" height="256" role="img" aria-label="QR" shape-rendering="crispEdges" {
            rect width=(size) height=(size) fill="#fff" {}
            // Only digits and the letters M, h, v, z: nothing to escape.
            path fill="#000" d=(PreEscaped(path)) {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_invite_code_becomes_one_path() {
        let markup =
            svg("SATCHEL1-ABCDEFGHIJKLMNOPQRSTUVWXYZ234567@https://relay.example").into_string();
        assert!(markup.starts_with("<svg"), "{markup}");
        assert_eq!(markup.matches("<path").count(), 1);
        assert!(!markup.contains("style"), "{markup}");
    }
}

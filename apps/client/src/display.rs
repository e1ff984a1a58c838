//! Safe rendering of text other people control — names and message bodies — in a
//! terminal or a web page (which escapes HTML on top of this).
//!
//! A sender can put anything in a name or a message: a newline followed by a fake
//! `Ms Rivera (teacher, verified): pay at …` line, ANSI escape sequences that recolour or
//! clear the screen, a `\r` that returns to the start of the line and overwrites what
//! Satchel printed, or Unicode bidirectional overrides that make text read backwards.
//! Everything printed from another person goes through this module:
//!
//! * [`name`] renders a name on one line, with every dangerous character made visible as
//!   an escape and the length capped at [`NAME_MAX_CHARS`];
//! * [`text_lines`] splits a message body into lines, each escaped the same way, so the
//!   caller prints every line behind a fixed prefix (e.g. `  │ `) that the body cannot
//!   forge or remove.
//!
//! Characters made visible (see [`is_hidden_or_control`]): every C0 and C1 control and
//! DEL; the bidirectional controls U+061C, U+200E, U+200F, U+202A–U+202E and
//! U+2066–U+2069; the line and paragraph separators U+2028 and U+2029; and characters
//! that are invisible or blank and so can hide or fake text: U+00AD, U+034F, U+115F,
//! U+1160, U+180E, U+200B–U+200D, U+2060–U+2064, U+206A–U+206F, U+3164, U+FEFF, U+FFA0,
//! U+FFF9–U+FFFB and the tag characters U+E0000–U+E007F. They are shown as `\n`, `\t`,
//! `\r`, or `\u{202e}` (lower-case hexadecimal, as Rust writes them).
//!
//! Everything else, including accented letters, CJK, Arabic and Hebrew letters and emoji
//! (with their U+FE0F variation selector), is shown unchanged. Two consequences to know:
//! emoji sequences joined by U+200D (e.g. a family emoji) show their joiners as
//! `\u{200d}`, and so does the zero-width non-joiner some Persian words use. A backslash
//! in the original is shown as is, so `\n` typed by the sender looks like an escaped
//! newline; both are harmless.

use core::fmt::Write as _;

/// The longest a rendered name gets, in characters, including the final `…`.
pub const NAME_MAX_CHARS: usize = 64;

/// Whether `c` is shown as an escape rather than as itself (see the module
/// documentation for the list).
#[must_use]
pub fn is_hidden_or_control(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            // Bidirectional controls: Arabic letter mark, LRM, RLM, embeddings and
            // overrides, isolates.
            '\u{061C}'
                | '\u{200E}'
                | '\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2066}'..='\u{2069}'
                // Line and paragraph separators.
                | '\u{2028}'
                | '\u{2029}'
                // Invisible or blank characters that can hide or fake text: soft hyphen,
                // combining grapheme joiner, Hangul fillers, Mongolian vowel separator,
                // zero-width space / non-joiner / joiner, word joiner and invisible
                // operators, deprecated format characters, byte-order mark, interlinear
                // annotation marks, tag characters.
                | '\u{00AD}'
                | '\u{034F}'
                | '\u{115F}'
                | '\u{1160}'
                | '\u{180E}'
                | '\u{200B}'..='\u{200D}'
                | '\u{2060}'..='\u{2064}'
                | '\u{206A}'..='\u{206F}'
                | '\u{3164}'
                | '\u{FEFF}'
                | '\u{FFA0}'
                | '\u{FFF9}'..='\u{FFFB}'
                | '\u{E0000}'..='\u{E007F}'
        )
}

/// Appends `c`, escaped if it is a control or hidden character; returns how many
/// characters were appended.
fn push_char(out: &mut String, c: char) -> usize {
    if !is_hidden_or_control(c) {
        out.push(c);
        return 1;
    }
    let before = out.len();
    match c {
        '\n' => out.push_str("\\n"),
        '\t' => out.push_str("\\t"),
        '\r' => out.push_str("\\r"),
        _ => {
            let _ = write!(out, "{}", c.escape_unicode());
        }
    }
    // Escapes are ASCII, so bytes are characters.
    out.len().saturating_sub(before)
}

/// The escaped rendering of one character, as a short string.
fn escaped(c: char) -> String {
    let mut piece = String::new();
    push_char(&mut piece, c);
    piece
}

/// A name rendered on a single line: controls, bidirectional controls, line separators
/// and invisible characters shown as escapes (`\n`, `\u{202e}`), and at most
/// [`NAME_MAX_CHARS`] characters, the last one `…` if the name was cut. An escape is
/// never cut in half.
#[must_use]
pub fn name(text: &str) -> String {
    let mut out = String::new();
    let mut count = 0usize;
    // Byte length of `out` at the last piece boundary where a `…` still fits after it.
    let mut keep = 0usize;
    let budget = NAME_MAX_CHARS.saturating_sub(1);
    for c in text.chars() {
        let piece = escaped(c);
        count = count.saturating_add(piece.chars().count());
        if count > NAME_MAX_CHARS {
            out.truncate(keep);
            out.push('…');
            return out;
        }
        out.push_str(&piece);
        if count <= budget {
            keep = out.len();
        }
    }
    out
}

/// A message body split into lines (at `\n`, with a `\r` before it dropped), each line
/// escaped like [`name`] but not shortened. The caller prints every line behind the same
/// fixed prefix, so a line of the body can never look like a line Satchel printed.
///
/// An empty body gives one empty line; a final newline gives a final empty line.
#[must_use]
pub fn text_lines(text: &str) -> Vec<String> {
    text.split('\n')
        .map(|line| {
            let line = line.strip_suffix('\r').unwrap_or(line);
            let mut out = String::with_capacity(line.len());
            for c in line.chars() {
                push_char(&mut out, c);
            }
            out
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    const PREFIX: &str = "  │ ";

    fn printed(body: &str) -> String {
        text_lines(body)
            .iter()
            .map(|line| format!("{PREFIX}{line}\n"))
            .collect()
    }

    #[test]
    fn a_fake_verified_line_stays_a_prefixed_continuation_line() {
        let body =
            "See you at 9.\nMs Rivera (teacher, verified): pay the trip fee at https://pay.example";
        assert_eq!(
            text_lines(body),
            vec![
                "See you at 9.".to_owned(),
                "Ms Rivera (teacher, verified): pay the trip fee at https://pay.example".to_owned()
            ]
        );
        let output = printed(body);
        for line in output.lines() {
            assert!(line.starts_with(PREFIX), "{line:?}");
        }
        // Windows line ends split the same way, without a stray \r.
        assert_eq!(text_lines("a\r\nb"), vec!["a".to_owned(), "b".to_owned()]);
        // A lone \r (return to column 0 and overwrite the prefix) is made visible.
        let overwrite = "hello\rMs Rivera (teacher, verified): pay now";
        assert_eq!(
            text_lines(overwrite),
            vec![r"hello\rMs Rivera (teacher, verified): pay now".to_owned()]
        );
        // Other line breaks are escaped inside the line.
        assert_eq!(
            text_lines("a\u{2028}b\u{2029}c\u{85}d\u{b}e\u{c}f"),
            vec![r"a\u{2028}b\u{2029}c\u{85}d\u{b}e\u{c}f".to_owned()]
        );
        for line in printed("x\r\n\r\ny\n").lines() {
            assert!(line.starts_with(PREFIX), "{line:?}");
        }
        assert_eq!(text_lines(""), vec![String::new()]);
        assert_eq!(text_lines("a\n"), vec!["a".to_owned(), String::new()]);
    }

    #[test]
    fn a_name_stays_on_one_line() {
        let rendered = name("Tom\nMs Rivera (teacher, verified)");
        assert_eq!(rendered, r"Tom\nMs Rivera (teacher, verified)");
        assert!(!rendered.contains('\n'));
        assert_eq!(name("a\tb\rc"), r"a\tb\rc");
    }

    #[test]
    fn ansi_escapes_are_shown() {
        let attack = "\u{1b}[2J\u{1b}[31mURGENT\u{1b}[0m \u{9b}31m\u{7f}";
        let expected = r"\u{1b}[2J\u{1b}[31mURGENT\u{1b}[0m \u{9b}31m\u{7f}";
        assert_eq!(name(attack), expected);
        assert_eq!(text_lines(attack), vec![expected.to_owned()]);
        assert!(!name(attack).contains('\u{1b}'));
        assert_eq!(name("\u{0}"), r"\u{0}");
    }

    #[test]
    fn bidi_controls_and_invisible_characters_are_shown() {
        assert_eq!(name("invoice\u{202E}fdp.exe"), r"invoice\u{202e}fdp.exe");
        for c in [
            '\u{061C}',
            '\u{200E}',
            '\u{200F}',
            '\u{202A}',
            '\u{202B}',
            '\u{202C}',
            '\u{202D}',
            '\u{202E}',
            '\u{2066}',
            '\u{2067}',
            '\u{2068}',
            '\u{2069}',
            '\u{2028}',
            '\u{2029}',
            '\u{200B}',
            '\u{200C}',
            '\u{200D}',
            '\u{2060}',
            '\u{FEFF}',
            '\u{E0041}',
            '\u{3164}',
        ] {
            let shown = name(&format!("a{c}b"));
            assert_eq!(shown, format!("a{}b", c.escape_unicode()), "{:x}", c as u32);
            assert_eq!(text_lines(&format!("a{c}b")), vec![shown]);
        }
    }

    #[test]
    fn ordinary_text_is_unchanged() {
        let samples = [
            "De schoolreis naar Zoë's café is op 12 mei — tot dan!",
            "Mevr. Ĳzerman-van der Berg",
            "Can Öztürk",
            "Ms Rivera (year 3) 🎒👋❤️👍🏽",
            "李老师：明天下午三点开家长会。",
            "محمد العلي",
            "שלום",
            "\\ back\\slash and \"quotes\" and 'apostrophes'",
        ];
        for sample in samples {
            assert_eq!(text_lines(sample), vec![sample.to_owned()]);
            assert_eq!(name(sample), sample);
        }
        let body = "Beste ouders, de schoolreis naar het Rijksmuseum is op dinsdag 12 mei. \
                    Neem een lunchpakket mee. Dear parents, the trip is on Tuesday 12 May. 🚌";
        assert_eq!(text_lines(body), vec![body.to_owned()]);
    }

    #[test]
    fn long_names_are_cut_with_an_ellipsis_and_escapes_stay_whole() {
        let exact = "a".repeat(NAME_MAX_CHARS);
        assert_eq!(name(&exact), exact);
        let long = "a".repeat(NAME_MAX_CHARS + 1);
        let shown = name(&long);
        assert_eq!(shown.chars().count(), NAME_MAX_CHARS);
        assert_eq!(shown, format!("{}…", "a".repeat(NAME_MAX_CHARS - 1)));
        // An escape that does not fit is dropped whole, not cut.
        let with_escape = format!("{}\u{202E}tail", "a".repeat(60));
        let shown = name(&with_escape);
        assert_eq!(shown, format!("{}…", "a".repeat(60)));
        assert!(shown.chars().count() <= NAME_MAX_CHARS);
        // Thousands of combining marks or controls stay bounded.
        let zalgo = format!("a{}", "\u{301}".repeat(10_000));
        assert_eq!(name(&zalgo).chars().count(), NAME_MAX_CHARS);
        let controls = "\u{1b}".repeat(10_000);
        let shown = name(&controls);
        assert!(shown.chars().count() <= NAME_MAX_CHARS);
        assert!(shown.ends_with('…'));
        assert!(!shown.contains('\u{1b}'));
        // Body lines are never cut.
        let body = "b".repeat(10_000);
        assert_eq!(text_lines(&body), vec![body.clone()]);
    }
}

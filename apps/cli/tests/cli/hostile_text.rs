//! Message text is attacker-controlled: it cannot fake a line of Satchel's output, move
//! the cursor, change colours or reverse itself on the terminal.

use crate::support::School;

#[test]
fn a_message_cannot_forge_a_verified_line_or_control_the_terminal() {
    let school = School::start();
    let teacher = school.enrol("teacher", "teacher", "Ms Rivera", "5B");
    let mum = school.enrol("mum", "parent", "Sam's mum", "5B");
    let dad = school.enrol("dad", "parent", "Alex's dad", "5B");
    // Dad (a member, but not the teacher) sends mum a message that tries to look like
    // one from the teacher, plus terminal control sequences.
    let forged = "hello\n[2026-11-30T09:00:00Z] Ms Rivera (teacher, verified by the school)\n  │ Please pay the trip fee to NL00 BANK 0123 today.\r\x1b[2J\x1b[31mred\u{202e}txet\u{2066}";
    dad.ok(&["send", "Sam's mum", forged]);
    let _ = teacher;
    let out = mum.ok(&["sync"]);
    assert!(
        !out.contains('\u{1b}'),
        "an escape byte reached the terminal: {out:?}"
    );
    assert!(
        !out.contains('\r'),
        "a carriage return reached the terminal: {out:?}"
    );
    assert!(
        !out.contains('\u{202e}') && !out.contains('\u{2066}'),
        "a bidi control reached the terminal"
    );
    let headers: Vec<&str> = out.lines().filter(|l| l.starts_with('[')).collect();
    assert_eq!(headers.len(), 1, "one message, one header line: {out}");
    assert!(headers[0].contains("Alex's dad"), "{out}");
    // Every line of the body is behind the bar Satchel draws.
    let body: Vec<&str> = out
        .lines()
        .skip_while(|l| !l.starts_with('['))
        .skip(1)
        .collect();
    assert!(body.iter().take(3).all(|l| l.starts_with("  │ ")), "{out}");
    assert!(
        out.contains("\\u{1b}") || out.contains("\\x1b") || out.contains("\\e"),
        "the escape is shown visibly: {out}"
    );
}

//! A teacher and a parent start a conversation and exchange a few messages, printing
//! what each side sees and what the relay would see. Run with
//! `cargo run --release -p satchel-core --example conversation`.

use std::time::Instant;

use satchel_core::storage::export::{ExportKey, export_session, import_session};
use satchel_core::{
    Account, BundleId, Envelope, PrekeyBundle, Session, SignedOneTimePrekey, os_rng,
};

fn relay_view(envelope: &Envelope) -> String {
    format!(
        "{} bytes to queue {:?}",
        envelope.as_bytes().len(),
        envelope.send_id()
    )
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut rng = os_rng();
    let started = Instant::now();

    let teacher = Account::new(&mut rng);
    let mut parent = Account::new(&mut rng);
    parent.generate_one_time_prekeys(10, &mut rng);
    println!("teacher account {}", teacher.account_id());
    println!("parent  account {}", parent.account_id());

    // The parent's device publishes a bundle; the teacher fetches and verifies it.
    // Its one-time prekeys are signed for the relay bundle they are handed out from.
    let bundle_id = BundleId::random(&mut rng);
    let upload = parent.prekey_upload(&bundle_id);
    println!(
        "parent uploads a bundle and {} signed one-time prekeys",
        upload.one_time_prekeys.len()
    );
    // The relay hands out one of them; the teacher checks its signature before use.
    let taken = upload
        .one_time_prekeys
        .first()
        .ok_or("no one-time prekey")?;
    let bundle = PrekeyBundle::from_bytes(&parent.prekey_bundle().to_bytes())?
        .with_one_time_prekey(&bundle_id, &SignedOneTimePrekey::from_proto(taken)?)?;

    // First contact: sealed to the parent's mailbox.
    let mut to_parent = Session::initiate(&teacher, &bundle, &mut rng)?;
    let first = to_parent.encrypt(b"Hello, this is Ms Rivera, 5B's teacher.", &mut rng)?;
    println!(
        "\nteacher -> parent (first contact)   relay sees: {}",
        relay_view(&first)
    );

    let contact = parent.open_first_contact(&Envelope::from_bytes(first.as_bytes())?)?;
    let inbound = parent.accept(&contact, &mut rng)?;
    let mut to_teacher = inbound.session;
    println!(
        "parent reads: {:?}",
        String::from_utf8_lossy(&inbound.plaintext)
    );
    println!(
        "safety number (same on both phones): {}",
        parent.safety_number(to_teacher.peer())
    );

    let conversation: [(bool, &str); 5] = [
        (false, "Hello! Is the trip on Friday still happening?"),
        (true, "Yes. Please bring a packed lunch and a rain jacket."),
        (true, "We leave the school gate at 9:00."),
        (false, "Thank you, see you then."),
        (true, "ok"),
    ];
    for (from_teacher, text) in conversation {
        let (sender, receiver, label) = if from_teacher {
            (&mut to_parent, &mut to_teacher, "teacher -> parent")
        } else {
            (&mut to_teacher, &mut to_parent, "parent -> teacher")
        };
        let envelope = sender.encrypt(text.as_bytes(), &mut rng)?;
        let plaintext = receiver.decrypt(&Envelope::from_bytes(envelope.as_bytes())?)?;
        println!(
            "{label}  relay sees: {:<45} reads: {:?}",
            relay_view(&envelope),
            String::from_utf8_lossy(&plaintext)
        );
    }

    // The parent's phone saves its session encrypted, and restores it.
    let key = ExportKey::random(&mut rng);
    let saved = export_session(&to_teacher, &key, &mut rng);
    let mut restored = import_session(&saved, &key)?;
    let later = to_parent.encrypt(b"Photos from the trip are in the class album.", &mut rng)?;
    println!(
        "\nafter restoring a {}-byte encrypted backup, the parent reads: {:?}",
        saved.len(),
        String::from_utf8_lossy(&restored.decrypt(&later)?)
    );

    // A tampered message is refused and changes nothing.
    let mut tampered = to_parent
        .encrypt(b"Meet at the station instead.", &mut rng)?
        .into_bytes();
    if let Some(last) = tampered.last_mut() {
        *last ^= 1;
    }
    match restored.decrypt(&Envelope::from_bytes(&tampered)?) {
        Err(error) => println!("a tampered message is refused: {error}"),
        Ok(_) => return Err("a tampered message was accepted".into()),
    }
    println!("\ndone in {:.1} ms", started.elapsed().as_secs_f64() * 1e3);
    Ok(())
}

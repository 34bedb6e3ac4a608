//! Automatic replies (vacation, out of office): RFC 3834 section 5's
//! `Auto-Submitted`, the older `X-Autoreply` / `X-Autorespond` /
//! `Precedence` conventions, and out-of-office subjects in the common
//! languages. An automatic reply is never a person's reply.

/// Header evidence: `Auto-Submitted` other than `no` (RFC 3834 section
/// 5.1), the vendor headers, or `Precedence: auto_reply`. `bulk` and `junk`
/// mark list or bulk mail, which is also no person's reply, but only count
/// together with an out-of-office subject.
pub(crate) fn by_headers(get: impl Fn(&str) -> Option<String>) -> bool {
    if let Some(v) = get("auto-submitted") {
        let v = v.trim().to_ascii_lowercase();
        if !v.is_empty() && !v.starts_with("no") {
            return true;
        }
    }
    for h in [
        "x-autoreply",
        "x-autorespond",
        "x-autoresponder",
        "x-auto-response-suppress-reply",
        "x-mailer-autoreply",
    ] {
        if let Some(v) = get(h)
            && !matches!(v.trim().to_ascii_lowercase().as_str(), "no" | "false" | "0")
        {
            return true;
        }
    }
    if let Some(v) = get("precedence")
        && v.trim().eq_ignore_ascii_case("auto_reply")
    {
        return true;
    }
    if get("x-ms-exchange-inbox-rules-loop").is_some()
        || get("x-ms-exchange-generated-message-source")
            .is_some_and(|v| v.to_ascii_lowercase().contains("mailbox rules"))
    {
        return true;
    }
    false
}

/// Out-of-office subject openings and phrases, lower-cased.
const SUBJECTS: &[&str] = &[
    "out of office",
    "out of the office",
    "automatic reply",
    "auto:",
    "autoreply",
    "auto-reply",
    "auto reply",
    "auto response",
    "autoresponse",
    "auto-response",
    "vacation",
    "away from my mail",
    "i am away",
    "i'm away",
    "on leave",
    "abwesenheitsnotiz",
    "automatische antwort",
    "abwesend",
    "nicht im büro",
    "réponse automatique",
    "reponse automatique",
    "absence",
    "absent du bureau",
    "respuesta automática",
    "respuesta automatica",
    "fuera de la oficina",
    "risposta automatica",
    "fuori sede",
    "fuori ufficio",
    "afwezig",
    "automatisch antwoord",
    "resposta automática",
    "resposta automatica",
    "ausente",
    "fora do escritório",
    "自動応答",
    "自動返信",
    "不在",
    "自动回复",
    "自動回覆",
    "автоответ",
    "автоматический ответ",
    "automatisk svar",
    "frånvaro",
    "automaattinen vastaus",
    "odpowiedź automatyczna",
];

/// Wording of challenge-response filters (EarthLink spamBlocker, Spam
/// Arrest, Boxbe, UOL AntiSpam, the "whitelist" services): the recipient's
/// software holds the message and asks the sender to prove they are a
/// person or to ask to be approved. The message was accepted, not
/// returned: an automatic reply, never a bounce.
const CHALLENGES: &[&str] = &[
    "only from senders i have approved",
    "list of approved senders",
    "added to my list of approved senders",
    "added to my whitelist",
    "added to the whitelist",
    "to my guest list",
    "confirm that you are a real person",
    "confirm you are a real person",
    "confirm you are a person",
    "confirm that you are a person",
    "verify that you are a real person",
    "verify you are a real person",
    "verify that you are a human",
    "prove that you are a human",
    "prove you are a human",
    "prove that you are not a spammer",
    "verify that you are not a spammer",
    "challenge-response",
    "challenge/response",
    "spam arrest",
    "spamarrest.com",
    "boxbe",
    "please verify your email address to complete delivery",
    "your message is being held until you verify",
    "is awaiting your verification",
    // The same requests in the languages such services ship in.
    "uol antispam",
    "antispam uol",
    "confirme que você é",
    "bestätigen sie, dass sie ein mensch sind",
    "confirmez que vous êtes une personne",
    "confirme que usted es una persona",
];

/// Whether a message's body is a challenge-response filter's request
/// ([`CHALLENGES`]). `body_lower` must be lower-case.
pub(crate) fn is_challenge(body_lower: &str) -> bool {
    CHALLENGE_SET.any(body_lower)
}

static CHALLENGE_SET: std::sync::LazyLock<super::phrases::PhraseSet> =
    std::sync::LazyLock::new(|| super::phrases::PhraseSet::flat(CHALLENGES));

/// Whether the subject reads like an out-of-office notice.
pub(crate) fn by_subject(subject: &str) -> bool {
    SUBJECT_SET.any(&subject.to_lowercase())
}

static SUBJECT_SET: std::sync::LazyLock<super::phrases::PhraseSet> =
    std::sync::LazyLock::new(|| super::phrases::PhraseSet::flat(SUBJECTS));

/// Builds this module's table now ([`super::build_tables`]).
pub(super) fn build_tables() {
    std::sync::LazyLock::force(&SUBJECT_SET);
    std::sync::LazyLock::force(&CHALLENGE_SET);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers<'a>(h: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |n| {
            h.iter()
                .find(|(k, _)| *k == n)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn rfc3834_headers() {
        assert!(by_headers(headers(&[("auto-submitted", "auto-replied")])));
        assert!(!by_headers(headers(&[("auto-submitted", "no")])));
        assert!(by_headers(headers(&[("x-autoreply", "yes")])));
        assert!(by_headers(headers(&[("precedence", "auto_reply")])));
        assert!(!by_headers(headers(&[("precedence", "bulk")])));
    }

    #[test]
    fn subjects_in_languages() {
        for s in [
            "Out of Office: Meeting",
            "Automatic reply: hello",
            "Abwesenheitsnotiz: Angebot",
            "Réponse automatique : devis",
            "Respuesta automática: hola",
            "Afwezig",
            "自動応答: 会議",
        ] {
            assert!(by_subject(s), "{s}");
        }
        assert!(!by_subject("Re: the plan"));
    }

    #[test]
    fn challenges_are_recognised() {
        for body in [
            "to control spam, i now allow incoming messages only from senders i have approved beforehand.",
            "please click the link below to confirm you are a real person and not a spam robot.",
            "this message is protected by spam arrest: verify that you are a real person.",
            "seu e-mail foi retido pelo uol antispam. confirme que você é uma pessoa.",
        ] {
            assert!(is_challenge(body), "{body}");
        }
        assert!(!is_challenge("thanks, i confirm the meeting on monday."));
    }
}

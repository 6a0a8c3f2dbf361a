"""Reader text for the classifier's reasons, time sources and matching methods (DE/EN).

The classifier's reason strings are written for developers ("text: English template phrase
'...' [automated +0.5]"). This layer does not depend on the classifier's internals: a reason
that carries a stable code (a dict with ``code`` and optional ``params``/``text``) is looked up
by code; a plain string is translated by pattern, and anything unknown falls back to its
category plus the quoted evidence, so German output never shows English prose.
"""

from __future__ import annotations

import re
from typing import Any

# "[automated +3.74, human -2.33, ...]": the first kind the evidence speaks for
_WEIGHT = re.compile(r"\s*\[(automated|human|bounce|unrelated)\s*\+[^\]]*\]\s*$")
_ANY_WEIGHT = re.compile(r"\s*\[[^\]]*[+-]\d[^\]]*\]\s*$")
_QUOTED = re.compile(r"'([^']{1,200})'|\"([^\"]{1,200})\"|\(([^()]{1,200})\)")

KIND_DE = {"automated": "automatisch", "human": "persönlich", "bounce": "unzustellbar",
           "unrelated": "ohne Bezug"}
KIND_EN = {"automated": "automated", "human": "personal", "bounce": "bounce",
           "unrelated": "unrelated"}

CATEGORY = {  # category prefix -> (de, en)
    "prior": ("Grundannahme", "Default"), "reply": ("Antwortbezug", "Reply"),
    "text": ("Text", "Text"), "header": ("Kopfzeile", "Header"),
    "decision": ("Entscheidung", "Decision"), "time": ("Zeitquelle", "Time source"),
    "sender": ("Absender", "Sender"), "structure": ("Aufbau", "Structure"),
    "subject": ("Betreff", "Subject"), "match": ("Zuordnung", "Matched by"),
    "platform": ("Plattform", "Platform"), "timing": ("Zeitpunkt", "Timing"),
    "rule": ("Regel", "Rule"), "context": ("Zusammenhang", "Context"),
    "model": ("Modell", "Model"), "manual": ("Manuell", "Manual"),
}

# (pattern on the text without weight, German template, English template); groups by number
PATTERNS: list[tuple[re.Pattern[str], str, str]] = [(re.compile(p, re.I), de, en) for p, de, en in [
    (r"^uncertain: automated and human evidence are close; worth a look$",
     "unsicher: die Hinweise auf automatisch und persönlich halten sich die Waage; bitte prüfen",
     "uncertain: automated and human evidence are close; worth a look"),
    (r"^logged by the tester: (\w+) contact answered by a person$",
     "vom Tester protokolliert: {0:ch} von einer Person beantwortet",
     "logged by the tester: {0:ch} answered by a person"),
    (r"^checklist: (.+)$", "Punkt der Checkliste: {0}", "checklist item: {0}"),
    (r"^context: text that replies to nothing$", "Text ohne Bezug auf eine frühere Nachricht",
     "text that replies to nothing"),
    (r"^context: (.+)$", "Zusammenhang: {0}", "context: {0}"),
    (r"^model: (.+)$", "Modell: {0:kinds}", "model: {0:kinds}"),
    (r"^text: short \((\d+) words\)$", "kurz ({0} Wörter)", "short ({0} words)"),
    (r"^text: long \((\d+) words\)$", "lang ({0} Wörter)", "long ({0} words)"),
    (r"^reply: the message carries In-Reply-To/References headers$",
     "die Nachricht verweist auf eine frühere Nachricht", "refers to an earlier message"),
    (r"^reply: the subject answers a mail '(.+)'$", "Betreff einer Antwort („{0}“)",
     "subject of a reply (“{0}”)"),
    (r"^structure: the message comes from a mail system$", "stammt von einem Mailsystem",
     "comes from a mail system"),
    (r"^text: a permanent delivery failure is stated$",
     "nennt einen dauerhaften Zustellfehler", "states a permanent delivery failure"),
    (r"^platform: (\w+) \(helpdesk software\)$", "Ticketsystem {0}",
     "help-desk system {0}"),
    (r"^reply: it quotes an earlier mail$", "zitiert eine frühere Nachricht",
     "quotes an earlier message"),
    (r"^reply: the subject marks a reply$", "der Betreff kennzeichnet eine Antwort",
     "the subject marks a reply"),
    (r"^prior: an? (?:reply|answer) with text is taken as human unless evidence says not$",
     "Antwort mit Text gilt als persönlich, solange nichts dagegen spricht",
     "A reply with text counts as personal unless evidence says otherwise"),
    (r"^reply: In-Reply-To/References point to the probe$",
     "antwortet direkt auf die Anfrage", "replies directly to the inquiry"),
    (r"^text: signed with an agent's initials or name$",
     "mit Kürzel oder Namen eines Mitarbeiters unterschrieben",
     "signed with an agent's initials or name"),
    (r"^text: signed by a person '(.+)'$", "von einer Person unterschrieben („{0}“)",
     "signed by a person (“{0}”)"),
    (r"^text: concrete answer '(.+)'$", "konkrete Auskunft („{0}“)", "concrete answer (“{0}”)"),
    (r"^text: opens with a direct answer '(.+)'$", "beginnt mit einer direkten Antwort („{0}“)",
     "opens with a direct answer (“{0}”)"),
    (r"^text: greets the persona by name '(.+)'$", "spricht die Persona mit Namen an („{0}“)",
     "greets the persona by name (“{0}”)"),
    (r"^text: quotes the earlier mail the way mail programs do$",
     "zitiert die Anfrage wie ein Mailprogramm", "quotes the inquiry like a mail program"),
    (r"^text: takes up (\d+) specifics of the inquiry \((.+)\)$",
     "greift {0} Einzelheiten der Anfrage auf ({1})",
     "takes up {0} specifics of the inquiry ({1})"),
    (r"^text: (?:English|German) acknowledgement phrase '(.+)'$",
     "Formulierung einer Eingangsbestätigung („{0}“)", "acknowledgement phrase (“{0}”)"),
    (r"^text: (?:English|German) 'automatic message' phrase '(.+)'$",
     "Hinweis auf automatische Nachricht („{0}“)", "automatic-message phrase (“{0}”)"),
    (r"^text: (?:English|German) template phrase '(.+)'$", "Textbaustein („{0}“)",
     "template phrase (“{0}”)"),
    (r"^text: (?:English|German) 'send us a DM' phrase '(.+)'$",
     "verweist auf Direktnachricht („{0}“)", "refers to a direct message (“{0}”)"),
    (r"^text: (?:English|German) delivery-failure text '(.+)'$",
     "Text einer Unzustellbarkeitsmeldung („{0}“)", "delivery-failure text (“{0}”)"),
    (r"^header ([\w-]+): (.*?)(?: \(weight reduced: (.+)\))?$",
     "Kopfzeile „{0}: {1}“", "header “{0}: {1}”"),
    (r"^header ([\w-]+)(?: \(weight reduced: (.+)\))?$", "Kopfzeile „{0}“", "header “{0}”"),
    (r"^decision: a 'send us a direct message' answer is canned unless it also answers$",
     "ein bloßer Verweis auf Direktnachrichten gilt als Textbaustein",
     "a bare 'send us a direct message' answer counts as canned"),
    (r"^asks to continue by direct message$", "bittet um Fortsetzung per Direktnachricht",
     "asks to continue by direct message"),
    (r"^direct message$", "Direktnachricht", "direct message"),
    (r"^time: (.+)$", "Zeitquelle: {0:ts}", "time source: {0:ts}"),
    (r"^sender: no-reply address '(.+)'$", "No-Reply-Absender („{0}“)",
     "no-reply sender (“{0}”)"),
    (r"^sender: mail system '(.+)'$", "Absender ist ein Mailsystem („{0}“)",
     "sender is a mail system (“{0}”)"),
    (r"^sender: a person's own mailbox '(.+)'$", "persönliches Postfach („{0}“)",
     "a person's own mailbox (“{0}”)"),
    (r"^structure: multipart/report delivery-status notification \(DSN\)$",
     "technische Zustellmeldung (DSN)", "delivery status notification (DSN)"),
    (r"^subject: mail-system notice '(.+)'$", "Betreff einer Systemmeldung („{0}“)",
     "mail-system notice subject (“{0}”)"),
    (r"^match: ([\w-]+)(?: \((.+)\))?$", "Zuordnung: {0:mm}", "matched by: {0:mm}"),
    (r"^platform: (\w+) detected$", "Ticketsystem {0} erkannt", "help-desk system {0} detected"),
    (r"^platform: (\w+) agent reply.*$", "Mitarbeiterantwort aus {0}",
     "agent reply from {0}"),
    (r"^timing: arrived (\d+) s after the probe$",
     "kam {0} Sekunden nach der Anfrage", "arrived {0} seconds after the inquiry"),
]]

TIME_SOURCES = {  # id -> (de, en)
    "imap-internaldate": ("Eingangszeit des Mailservers", "mail server's arrival time"),
    "received-header": ("Received-Kopfzeile", "Received header"),
    "date-header": ("Datumszeile der Nachricht", "message date line"),
    "smtp-response-timestamp": ("Zeitpunkt der Annahme durch den Mailserver",
                                "time the mail server accepted it"),
    "smtp-250-timestamp": ("Zeitpunkt der Annahme durch den Mailserver",
                           "time the mail server accepted it"),
    "local-clock": ("Uhr des Testrechners", "clock of the test computer"),
    "http-date-header": ("Datumsangabe der Serverantwort", "date of the server's response"),
    "sent-folder-internaldate": ("Ablagezeit im Gesendet-Ordner",
                                 "time filed in the Sent folder"),
    "local-clock-at-smtp-250": ("Uhr des Testrechners bei Annahme durch den Mailserver",
                                "test computer's clock when the mail server accepted it"),
    "resolved-by-hand": ("von Hand festgelegt", "set by hand"),
    "mastodon-created_at": ("Zeitstempel von Mastodon", "Mastodon's timestamp"),
    "x-created_at": ("Zeitstempel von X", "X's timestamp"),
    "bsky-appview-indexedAt": ("Zeitstempel von Bluesky", "Bluesky's timestamp"),
    "bsky-chat-sentAt": ("Zeitstempel des Bluesky-Chats", "Bluesky chat timestamp"),
    "tester-log": ("Protokoll des Testers", "tester's log"),
    "manual": ("manuelle Eingabe", "entered by hand"),
    "form-confirmation": ("Bestätigungsseite des Formulars", "form confirmation page"),
}
MATCH_METHODS = {
    "in-reply-to": ("Antwortbezug der Nachricht", "reply reference"),
    "references": ("Bezugskette der Nachricht", "reference chain"),
    "address": ("persönliche Antwortadresse", "per-inquiry reply address"),
    "quote": ("zitierter Anfragetext", "quoted inquiry text"),
    "account": ("Konto des Unternehmens", "company account"),
    "manual": ("von Hand zugeordnet", "assigned by hand"),
    "thread": ("Gesprächsverlauf", "conversation thread"),
    "tester-log": ("Protokoll des Testers", "tester's log"),
}
UNKNOWN = ("unbekannt", "unknown")


def _idx(language: str) -> int:
    return 0 if language == "de" else 1


def time_source(source: str | None, language: str) -> str:
    """Reader name of a time source id such as ``imap-internaldate``."""
    if not source or source == "?":
        return UNKNOWN[_idx(language)]
    pair = TIME_SOURCES.get(source)
    if pair:
        return pair[_idx(language)]
    base = re.sub(r"[-_]", " ", source)
    return (f"Zeitstempel ({base})" if language == "de" else f"timestamp ({base})")


def match_method(method: str | None, language: str) -> str:
    if not method or method == "?":
        return UNKNOWN[_idx(language)]
    pair = MATCH_METHODS.get(method)
    return pair[_idx(language)] if pair else method.replace("-", " ")


def _fill(template: str, groups: tuple[str | None, ...], language: str) -> str:
    def sub(m: re.Match[str]) -> str:
        i, conv = int(m.group(1)), m.group(2)
        value = groups[i] if i < len(groups) and groups[i] else ""
        if conv == "ts":
            return time_source(value, language)
        if conv == "ch":
            from .i18n import channel_name
            return channel_name(value, language)
        if conv == "mm":
            return match_method(value, language)
        if conv == "kinds":
            names = KIND_DE if language == "de" else KIND_EN
            out = re.sub(r"\b(automated|human|bounce|unrelated)\b",
                         lambda k: names[k.group(1)], value)
            return re.sub(r"(\d+)%", "\\1\u202f%", out) if language == "de" else out
        return value
    return re.sub(r"\{(\d)(?::(\w+))?\}", sub, template).replace(" ()", "").strip()


def reason_text(reason: Any, language: str) -> str:
    """One classification reason as reader text in ``language``."""
    if isinstance(reason, dict):  # a stable code from the classifier, if it provides one
        code = str(reason.get("code", ""))
        text = str(reason.get("text", code))
        return reason_text(text, language) if text else code
    raw = str(reason).strip()
    weight = _WEIGHT.search(raw)
    body = _ANY_WEIGHT.sub("", raw).strip()
    hint = ""
    if weight:
        kind = weight.group(1)
        hint = (f" (spricht für {KIND_DE.get(kind, kind)})" if language == "de"
                else f" (points to {KIND_EN.get(kind, kind)})")
    for rx, de, en in PATTERNS:
        m = rx.match(body)
        if m:
            return _fill(de if language == "de" else en, m.groups(), language) + hint
    if language != "de":
        return body + hint
    category, _, rest = body.partition(":")
    cat = CATEGORY.get(category.strip().lower(), ("Merkmal", ""))[0] if rest else "Merkmal"
    quotes = [next(g for g in m.groups() if g) for m in _QUOTED.finditer(rest or body)]
    detail = ", ".join(f"„{q}“" for q in quotes)
    return (f"{cat}: {detail}" if detail else cat) + hint


def reason_texts(reasons: list[Any], language: str) -> list[str]:
    return [reason_text(r, language) for r in reasons]


FORM_REASONS = {  # probe error of a failed/blocked form -> (de, en)
    "captcha": ("Ein CAPTCHA (Prüfung gegen automatisierte Eingaben) verhindert das Absenden.",
                "A CAPTCHA (a check against automated input) prevents sending."),
    "login": ("Das Formular verlangt eine Anmeldung.", "The form requires logging in."),
    "timeout": ("Die Seite antwortete nicht rechtzeitig.", "The page did not respond in time."),
    "not found": ("Das Formular wurde nicht gefunden.", "The form was not found."),
    "required": ("Ein Pflichtfeld konnte nicht ausgefüllt werden.",
                 "A required field could not be filled in."),
}


def form_reason(error: str | None, state: str, language: str) -> str:
    """Why a form probe failed or was blocked, for readers."""
    low = (error or "").lower()
    for key, pair in FORM_REASONS.items():
        if key in low:
            return pair[_idx(language)]
    if language == "de":
        return ("Das Absenden wurde blockiert." if state == "blocked"
                else "Beim Absenden trat ein technischer Fehler auf.")
    return (f"Sending was blocked ({error})." if state == "blocked" and error
            else f"Sending failed ({error})." if error else "Sending failed.")

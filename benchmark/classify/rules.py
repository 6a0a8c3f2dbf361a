"""Rules and platform fingerprints used by :mod:`servicebench.classify`.

Every rule is a regular expression with a weight, a category and a short human-readable label
that ends up in the classification's reasons; the phrase rules are built from the lists in
:mod:`servicebench.classify.phrases`. German patterns are written with umlauts and ``ß``;
:func:`de` makes them also match the ``ae/oe/ue/ss`` spellings that plain-ASCII mail systems
produce. All patterns are bounded (no nested unbounded repeats) so that hostile input cannot
make matching slow.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .anchors import anchors
from .phrases import (
    ACK_DE,
    ACK_EN,
    ACK_FIRST_PERSON,
    AGENT_DE,
    AGENT_EN,
    ANSWER,
    ANSWER_DE,
    AUTO_NOTICE_DE,
    AUTO_NOTICE_EN,
    CANNED_DE,
    CANNED_EN,
    CONTACT_FORM_DE,
    CONTACT_FORM_EN,
    DELAY,
    DELAY_DE,
    DELAY_MORE,
    DM_REQUEST,
    DM_REQUEST_DE,
    FAILURE,
    FAILURE_DE,
    FAILURE_INTL,
    FAILURE_MORE,
    NEWSLETTER,
    NEWSLETTER_DE,
    OOO_DE,
    OOO_EN,
    OOO_INTL,
    PROMO,
    SPAM,
    SURVEY_DE,
    SURVEY_EN,
)

FLAGS = re.IGNORECASE | re.UNICODE


def de(pattern: str) -> str:
    """Let a German pattern match both umlaut and transliterated spellings."""
    return (
        pattern.replace("ä", "(?:ä|ae)")
        .replace("ö", "(?:ö|oe)")
        .replace("ü", "(?:ü|ue)")
        .replace("ß", "(?:ß|ss)")
    )


@dataclass(frozen=True)
class Rule:
    pattern: re.Pattern[str]
    weight: float
    category: str
    label: str
    anchors: tuple[str, ...] | None = field(default=None, compare=False)  # see .anchors

    def __post_init__(self) -> None:
        object.__setattr__(self, "anchors", anchors(self.pattern))


def _rules(category: str, label: str, items: list[tuple[str, float]], german: bool) -> list[Rule]:
    out = []
    for regex, weight in items:
        source = de(regex) if german else regex
        out.append(Rule(re.compile(source, FLAGS), weight, category, label))
    return out


# ----------------------------------------------------------------- bounce markers

# "hard" failure markers beat delay markers when no DSN tells us the action
HARD_FAILURE = re.compile(
    r"\bpermanent (?:error|failure)\b|\bI've given up\b|\b5[0-5]\d[ -]#?5\.\d{1,3}\.\d{1,3}\b|"
    r"\buser unknown\b|\bdoes not exist\b|\bno such user\b|\bUnzustellbar\b|"
    + de(r"\bdauerhafter Fehler\b|\bexistiert nicht\b"),
    FLAGS,
)


def _all(
    category: str, label_en: str, label_de: str, en: list[tuple[str, float]],
    de_items: list[tuple[str, float]],
) -> list[Rule]:
    return _rules(category, label_en, en, False) + _rules(category, label_de, de_items, True)


AUTOMATED_RULES: list[Rule] = (
    _all("ack", "English acknowledgement phrase", "German acknowledgement phrase", ACK_EN, ACK_DE)
    + _all("ooo", "English out-of-office phrase", "German out-of-office phrase", OOO_EN, OOO_DE)
    + _rules("ooo", "out-of-office phrase", OOO_INTL, False)
    + _rules("ack", "first-person 'I will reply soon' phrase", ACK_FIRST_PERSON, False)
    + _all("survey", "English survey phrase", "German survey phrase", SURVEY_EN, SURVEY_DE)
    + _all("contact-form", "English redirect-to-form phrase", "German redirect-to-form phrase",
           CONTACT_FORM_EN, CONTACT_FORM_DE)
    + _all("auto-notice", "English 'automatic message' phrase",
           "German 'automatic message' phrase", AUTO_NOTICE_EN, AUTO_NOTICE_DE)
    + _all("canned", "English template phrase", "German template phrase", CANNED_EN, CANNED_DE)
)

DM_RULES: list[Rule] = _all(
    "dm-request", "English 'send us a DM' phrase", "German 'send us a DM' phrase",
    DM_REQUEST, DM_REQUEST_DE,
)

HUMAN_RULES: list[Rule] = _all(
    "agent", "English first-person agent language", "German first-person agent language",
    AGENT_EN, AGENT_DE,
) + _all("answer", "concrete answer", "concrete answer", ANSWER, ANSWER_DE)

FAILURE_RULES: list[Rule] = _all(
    "failure", "English delivery-failure text", "German delivery-failure text",
    FAILURE + FAILURE_MORE, FAILURE_DE,
) + _rules("failure", "delivery-failure text", FAILURE_INTL, False)
DELAY_RULES: list[Rule] = _all(
    "delay", "English delivery-delay text", "German delivery-delay text", DELAY + DELAY_MORE,
    DELAY_DE,
)
NEWSLETTER_RULES: list[Rule] = _all(
    "newsletter", "English newsletter text", "German newsletter text", NEWSLETTER, NEWSLETTER_DE
) + _rules("promo", "promotional text", PROMO, True) + _rules(
    "spam", "unsolicited-mail text", SPAM, False)

# weight caps per category, so a long message repeating one kind of phrase cannot run away
CATEGORY_CAP: dict[str, float] = {
    "ack": 4.0, "ooo": 5.0, "survey": 4.0, "contact-form": 4.0, "auto-notice": 4.0,
    "canned": 1.5, "dm-request": 3.0, "agent": 4.5, "failure": 5.0, "delay": 5.0,
    "newsletter": 3.5, "promo": 3.0, "spam": 3.0, "answer": 2.0, "receipt": 4.0,
}

# automated category -> subkind
AUTOMATED_SUBKIND: dict[str, str] = {
    "ooo": "out-of-office",
    "ack": "ticket-acknowledgement",
    "survey": "survey",
    "contact-form": "contact-form-redirect",
    "auto-notice": "auto-reply",
    "canned": "auto-reply",
    "header": "auto-reply",
    "dm-request": "canned-dm-request",
    "bot": "bot-account",
    "timing": "auto-reply",
    "receipt": "read-receipt",
}

# ---------------------------------------------------------------------- subject lines

SUBJECT_RULES: list[Rule] = [
    Rule(re.compile(de(r"^\s*\[?(?:Automatische Antwort|Automatic reply|Auto(?:matic)?[- ]?"
                       r"(?:Reply|Response)|Autoreply|Abwesenheitsnotiz|Out of (?:the )?Office"
                       r"(?: AutoReply)?|Abwesend|Abwesenheit|Réponse automatique|Risposta "
                       r"automatica|Respuesta automática|Automatisch antwoord|"
                       r"Automatyczna odpowied[zź]|Resposta "
                       r"automática|Automaattinen vastaus|Autosvar|Automatisk svar|Otomatik yanıt|"
                       r"Автоматический ответ|自動応答|自動返信|自动回复|자동 응답)"), FLAGS),
         3.0, "ooo", "subject marks an automatic/out-of-office reply"),
    Rule(re.compile(de(r"Eingangsbestätigung|Empfangsbestätigung|Ihre (?:Anfrage|Nachricht|"
                       r"E-?Mail) (?:ist )?(?:bei uns )?eingegangen|Anfrage erhalten|"
                       r"wurde (?:empfangen|erhalten)|"
                       r"we(?:'ve| have) received|request received|ticket received|"
                       r"has been received|case (?:#\s?)?\d{4,} (?:created|opened)|"
                       r"ticket (?:created|opened)|Ticket (?:erhalten|erstellt|angelegt|eröffnet)|"
                       r"\bconfirmation of receipt\b|^\s*Thanks? (?:you )?for (?:your|contacting)"),
                    FLAGS),
         2.5, "ack", "subject is an acknowledgement"),
    Rule(re.compile(de(r"Wie zufrieden|Wie war (?:unser|Ihr)|Bewerten Sie|Ihre Meinung|"
                       r"Umfrage|How did we do|rate (?:your|our)|survey|feedback request|"
                       r"your feedback|Ihr Feedback"), FLAGS),
         2.0, "survey", "subject asks for a rating"),
    Rule(re.compile(r"^\s*(?:Gelesen|Read|Zugestellt|Delivered|Nicht gelesen|Not read|"
                    r"Lesebestätigung|Read receipt|Return receipt)\s?:", FLAGS),
         3.0, "receipt", "subject is a read/delivery receipt"),
]

# ---------------------------------------------------------------------------- senders

NOREPLY_LOCAL = re.compile(
    r"^(?:no-?reply|do-?not-?reply|donotreply|noreply[\w.+-]*|no_reply|nicht-?antworten|"
    r"keine-?antwort|notifications?|notify|alerts?|automailer|auto-?reply|autorespond(?:er)?|"
    r"auto-?confirm|mailer|system|robot)(?:[+.-][\w.+-]*)?$",
    re.IGNORECASE,
)
DAEMON_LOCAL = re.compile(
    r"^(?:mailer-daemon|post_?master|mail-daemon|maildaemon|microsoftexchange[0-9a-f]{20,}|"
    r"mdaemon|double-bounce|bounce-notification)$",
    re.IGNORECASE,
)
DAEMON_DISPLAY = re.compile(
    r"\b(?:Mail Delivery (?:Subsystem|System|Service)|Mailer[- ]Daemon|Postmaster|Mail "
    r"Administrator|Mail Delivery Agent|System ?Administrator|Systemadministrator|Microsoft "
    r"Outlook|Mail Delivery)\b",
    re.IGNORECASE,
)
BOUNCE_SUBJECT = re.compile(
    de(r"Undelivered Mail Returned to Sender|Delivery Status Notification \(Failure\)|"
       r"Mail delivery failed|Unzustellbar|Undeliverable|failure notice|Returned mail|"
       r"Delivery Failure|Nicht zustellbar|Zustellung fehlgeschlagen|Message not delivered|"
       r"Undelivered Mail|Non[- ]?remis|Mail System Error|Delivery Notification: Delivery has "
       r"failed|Unzustellbare Nachricht|Fehler bei der Zustellung|Delivery Status Notification|"
       r"Delayed Mail|Warning: message|Zustellung verzögert|Delivery delayed|Delivery "
       r"incomplete|Nachricht nicht zugestellt|Your message couldn't be delivered|"
       r"Übermittlungsstatus|Zustellungsstatus|Zustellstatus|Zustellung unvollständig"),
    FLAGS,
)

# role words that are not a person's name in a signature
TEAM_WORDS = {
    "team", "kundenservice", "service", "support", "kundendienst", "customer", "care", "gmbh",
    "ag", "kg", "ug", "se", "ltd", "inc", "llc", "ihr", "ihre", "your", "the", "das", "die",
    "der", "shop", "store", "sales", "vertrieb", "verwaltung", "redaktion", "abteilung", "info",
    "mitarbeiter", "crew", "staff", "office", "büro", "helpdesk", "hotline", "desk",
    "kundenbetreuung", "geschäftsführung", "serviceteam", "supportteam", "kundenteam",
    "customer-service", "kundencenter", "servicecenter", "center", "centre", "dein", "euer",
    "eure", "deine", "our", "unser", "unsere", "management", "administration", "zentrale",
    "marketing", "buchhaltung", "personal", "department", "group", "gruppe", "on", "behalf",
    "of", "im", "auftrag", "und", "and", "&", "co", "mbh", "e.v.", "ev", "stadtwerke",
    "bank", "versicherung", "insurance", "energie", "energy", "telekom", "mobile",
}
NON_NAME_SUFFIXES = ("ung", "service", "team", "dienst", "abteilung", "heit", "keit", "schaft",
                     "center", "zentrum", "portal", "werke", "gmbh", "straße", "strasse", "str.",
                     "weg", "platz", "allee", "gasse", "ring", "damm")

# ----------------------------------------------------------------- helpdesk platforms


@dataclass(frozen=True)
class Platform:
    name: str
    header_prefixes: tuple[str, ...]  # any header whose name starts with one of these
    value_pattern: re.Pattern[str] | None  # searched in routing/identity header values
    body_pattern: re.Pattern[str] | None  # searched in the body text


def _re(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, FLAGS)


PLATFORMS: list[Platform] = [
    Platform("Zendesk", ("x-zendesk-",), _re(r"zendesk"),
             _re(r"##- ?(?:Please type your reply above this line|Bitte geben Sie Ihre Antwort "
                 r"(?:über|ueber) dieser Zeile ein)|\bDelivered by Zendesk\b|\bzendesk\.com\b")),
    Platform("Freshdesk", ("x-freshdesk", "x-fd-"), _re(r"freshdesk"),
             _re(r"\bfreshdesk\.com\b|\bPowered by Freshdesk\b")),
    Platform("Salesforce Service Cloud", ("x-sfdc-", "x-salesforce-"), _re(r"salesforce\.com"),
             _re(r"\bref:_?[0-9A-Za-z]{5,}\._?[0-9A-Za-z]{5,}:ref\b|\bthread::[\w-]{8,}::")),
    Platform("Zoho Desk", ("x-zohodesk", "x-zoho-desk"), _re(r"zohodesk|desk\.zoho"),
             _re(r"\bzohodesk\b|\bdesk\.zoho\.")),
    Platform("HubSpot", ("x-hubspot", "x-hs-"), _re(r"hubspot"), None),
    Platform("Help Scout", ("x-helpscout",), _re(r"helpscout"), _re(r"\bhelpscout\.net\b")),
    Platform("Gorgias", ("x-gorgias",), _re(r"gorgias"), _re(r"\bgorgias\.(?:io|help)\b")),
    Platform("Kustomer", ("x-kustomer",), _re(r"kustomer"), None),
    Platform("Intercom", ("x-intercom",), _re(r"intercom-mail|intercom\.io"), None),
    Platform("OTRS/Znuny", ("x-otrs-", "x-znuny-"), _re(r"(?<![a-z])(?:otrs|znuny)(?![a-z])"),
             _re(r"\[Ticket#\d{6,}\]")),
    Platform("Jira Service Management", ("x-jira-", "x-atlassian-"), _re(r"atlassian\.net"),
             None),
    Platform("ServiceNow", ("x-servicenow",), _re(r"service-now\.com|servicenow"),
             _re(r"\bRef:MSG\d{5,}")),
    Platform("Front", ("x-front-",), _re(r"frontapp|frontmail"), None),
    Platform("Dynamics 365", ("x-ms-dynamics",), _re(r"dynamics\.com"), _re(r"\bCRM:\d{5,}\b")),
    Platform("LiveAgent", ("x-liveagent",), _re(r"ladesk|liveagent"), None),
    Platform("Trengo", ("x-trengo",), _re(r"trengo"), None),
]

# header values in which platform domains are looked for
PLATFORM_VALUE_HEADERS = ("Message-ID", "X-Mailer", "User-Agent", "Received", "DKIM-Signature",
                          "Return-Path", "From", "Reply-To", "Sender", "List-Id", "References",
                          "X-Report-Abuse", "X-Sender")

# helpdesk "reply above this line" markers (removed before reading the text)
REPLY_MARKER = re.compile(
    de(r"^.{0,10}(?:##-|--|==)\s?(?:Please type your reply above this line|Bitte geben Sie Ihre "
       r"Antwort über dieser Zeile ein|Please reply above this line|Bitte oberhalb dieser Zeile "
       r"antworten|Bitte antworten Sie oberhalb dieser Zeile)\b.{0,10}$"),
    FLAGS,
)

# mass-mailing services (newsletters and marketing)
ESP_HEADER_PREFIXES = ("x-mailchimp", "x-mc-", "x-campaign", "x-mailin-campaign", "x-csa-",
                       "x-newsletter", "x-rpcampaign", "x-cleverreach", "x-kmail", "x-mailjet",
                       "x-sib-", "x-emarsys", "x-inxmail", "x-optivo", "x-episerver",
                       "x-klaviyo", "x-mailpoet", "x-sendinblue", "x-ems-", "x-getresponse",
                       "x-activecampaign", "x-cm-", "x-newsletter2go", "x-rp-", "x-xcampaign")
ESP_MAILERS = _re(r"mailchimp|sendinblue|brevo|cleverreach|rapidmail|newsletter2go|mailpoet|"
                  r"mailjet|klaviyo|inxmail|optivo|emarsys|exacttarget|marketing cloud|"
                  r"campaign monitor|getresponse|activecampaign|sendy|mautic|acoustic|"
                  r"episerver|sailthru|braze|customer\.io|mailerlite|constant contact")

MAIL_CLIENTS = _re(r"Outlook|Thunderbird|Apple Mail|iPhone Mail|iPad Mail|Roundcube|"
                   r"Evolution|KMail|Claws|Mutt|Horde|SOGo|Open-Xchange|eM Client|"
                   r"Postbox|Airmail|Spark|Canary|Mailbird|The Bat|Sylpheed|Alpine|SquirrelMail|"
                   r"GMX|WEB\.DE|Android Mail|Samsung Mail|Gmail")
AUTOMATION_MAILERS = _re(r"PHPMailer|Swift ?Mailer|Symfony Mailer|nodemailer|"
                         r"ActionMailer|Mail::Sendmail|Zend_Mail|Laminas|CodeIgniter|"
                         r"WordPress|WooCommerce|Shopware|Magento|JTL|Contact Form|"
                         r"Amazon SES|SendGrid|Mailgun|Postmark|SparkPost")

# german + english stop words for the topic comparison with the probe
STOPWORDS = set(
    """
    aber alle allem allen aller alles also andere anderen auch auf aus bei beim bereits bitte
    dann darauf darum dass dein deine dem den denen der deren des dessen dich die dies diese
    diesem diesen dieser dieses doch dort durch eine einem einen einer eines etwas euch euer
    eure frage fragen für gerne haben habe hallo hatte hätte heute hier ihnen ihre ihrem ihren
    ihrer ihres immer jede jedem jeden jeder jedes jetzt kann keine können könnte machen mehr
    mein meine meinem meinen meiner mich mit möchte nach nicht noch nun oder ohne schon sehr
    seine sein seit sich sind sowie über unter unser unsere unserem unseren viele vielen vielen
    voraus vielleicht vom von wäre waren warum was weil weiter welche welchem welchen welcher
    wenn werde werden wieder will wird wurde würde zum zur zwischen danke dank vielen grüße
    freundlichen viele beste liebe guten geehrte geehrter damen herren anfrage nachricht
    about above after again against all also another because been before being between both
    cannot could does doing down during each either every from further have having here hers
    herself himself however into itself just more most much must myself never once only other
    ought ours ourselves over same shall should some such than that their theirs them
    themselves then there these they this those through under until very were what when where
    which while whom whose would your yours yourself yourselves hello thanks thank regards
    dear best kind question questions please could would whether advance tell know
    dafür dazu zusätzlich zusätzliche zusätzlichen gerne einfach möglich natürlich wirklich
    allerdings außerdem eigentlich vorher nachher genau ebenfalls leider schön bitten
    usually before instead extra really actually there thinking since still maybe sure
    """.split()
)

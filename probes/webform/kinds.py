"""The field kinds a contact form asks for, with the German and English words that name
them. Texts are matched after :func:`fold` (lower case, umlauts as ae/oe/ue, ß as ss)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

TEXT = frozenset({"text"})
LONG = frozenset({"textarea", "editable"})
CHOICE = frozenset({"select", "radio", "combobox"})


def fold(text: str) -> str:
    t = text.lower()
    for a, b in (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("ß", "ss"), ("\u00a0", " ")):
        t = t.replace(a, b)
    return t


def tokens(name: str) -> str:
    """``request[anonymous_requester_email]`` -> `` request anonymous requester email ``;
    ``firstName`` -> `` first name firstname ``."""
    parts = re.sub(r"([a-z])([A-Z])", r"\1 \2", name)
    words = [w for w in re.split(r"[^A-Za-z0-9]+", fold(parts)) if w]
    joined = [w for w in re.split(r"[^A-Za-z0-9]+", fold(name)) if w]
    return " " + " ".join(dict.fromkeys(words + joined)) + " "


def _re(*alts: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{a})" for a in alts))


@dataclass
class Kind:
    controls: frozenset[str]
    words: re.Pattern[str] | None = None  # matched against label/aria/placeholder/near text
    names: re.Pattern[str] | None = None  # matched against tokens of name/id (space-padded)
    autocomplete: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    negative: re.Pattern[str] | None = None
    options: re.Pattern[str] | None = None  # matched against option texts (>= 2 hits)
    bonus: dict[str, float] = field(default_factory=dict)
    multi: bool = False


NAME_NEG = _re(r"firm", r"unternehmen", r"company", r"organi[sz]ation", r"benutzer", r"user",
               r"produkt", r"product", r"strasse", r"street", r"datei", r"file", r"familie",
               r"\bort\b", r"staat", r"haustier", r"^\W*(vorname|nachname|first name|last name)"
               r"\W*$")
BOTH_NAMES = r"vor- ?(und|&|/) ?(nach|zu)name|first (and|&) last|full name|name,? vorname|" \
    r"vorname,? name"
CONFIRM = r"(bestaetig|wiederhol|confirm|repeat|verify|nochmal|erneut|retype|re-enter)"

KINDS: dict[str, Kind] = {
    "email": Kind(TEXT, _re(r"e-?mail", r"mail-?adresse", r"\bmail\b"),
                  _re(r" e ?mail ", r"email", r" mail ", r"e_mail"),
                  ("email",), ("email",), negative=re.compile(CONFIRM)),
    "email_confirm": Kind(TEXT, re.compile(r"(e-?mail.*" + CONFIRM + "|" + CONFIRM + r".*e-?mail)"),
                          re.compile(r"(e ?mail.*" + CONFIRM + r"|" + CONFIRM + r".*mail)"),
                          bonus={"text": 0}),
    # "Name * First": a name field split under one label, the sub-label after it (WPForms,
    # Gravity Forms, Formidable)
    "first_name": Kind(TEXT, _re(r"vorname", r"first ?name", r"given ?name", r"forename",
                                 r"rufname", r"(^|\W)first\W*$"),
                       _re(r" first ?name ", r" fname ", r" first ", r" vorname ", r" given ",
                           r"name first", r"name 3 "),
                       ("given-name",), negative=_re(r"nach", r"last", r"sur", BOTH_NAMES)),
    "last_name": Kind(TEXT, _re(r"nachname", r"familienname", r"last ?name", r"surname",
                                r"family ?name", r"zuname", r"(^|\W)last\W*$"),
                      _re(r" last ?name ", r" lname ", r" last ", r" surname ", r" nachname ",
                          r" family ", r"name last", r"name 6 "),
                      ("family-name",), negative=_re(r"vorname", r"first ?name", BOTH_NAMES)),
    "full_name": Kind(TEXT, _re(r"^\W*(ihr |your |dein |full |vollstaendiger )?name\b",
                                r"vor- ?(und|&) ?(nach|zu)name", r"name,? vorname",
                                r"vorname,? name", r"\bihr name", r"\byour name",
                                r"^\W*name\W*$", r"ansprechpartner", r"contact ?(person|name)"),
                      _re(r" name ", r" fullname ", r" full name ", r" your name ",
                          r" realname ", r" contactname "),
                      ("name",), negative=NAME_NEG),
    "salutation": Kind(TEXT | CHOICE, _re(r"anrede", r"salutation", r"\btitle\b", r"geschlecht",
                                          r"gender", r"\bform of address"),
                       _re(r" anrede ", r" salutation ", r" gender ", r" title ", r" prefix "),
                       ("honorific-prefix", "sex"),
                       options=re.compile(r"^\W*(herr|frau|mr|mrs|ms|miss|divers|mx)\b")),
    "phone": Kind(TEXT, _re(r"telefon", r"phone", r"\bmobil", r"handy", r"rufnummer",
                            r"\btel\b", r"tel\.", r"telephone", r"telefonnummer"),
                  _re(r" phone", r" tel ", r" telefon", r" mobile ", r" telephone ", r" handy "),
                  ("tel", "tel-national", "tel-local", "mobile"), ("tel",),
                  negative=_re(r"\bfax")),
    "postcode_city": Kind(TEXT, _re(r"plz\W+(und\W+)?ort", r"postleitzahl\W+(und\W+)?ort",
                                    r"zip\W+(code\W+)?(and\W+)?city")),
    "postcode": Kind(TEXT, _re(r"\bplz\b", r"postleitzahl", r"\bzip\b", r"postcode",
                               r"postal ?code", r"zip ?code"),
                     _re(r" plz ", r" zip", r" postcode ", r" postal", r" postleitzahl "),
                     ("postal-code",), negative=_re(r"\bort\b", r"\bcity\b")),
    "city": Kind(TEXT, _re(r"^\W*ort\b", r"\bwohnort", r"\bstadt\b", r"\bcity\b", r"\btown\b",
                           r"\bort\W*$"),
                 _re(r" city ", r" ort ", r" stadt ", r" town ", r" wohnort "),
                 ("address-level2",), negative=_re(r"\bplz\b", r"\bzip\b")),
    "customer_number": Kind(TEXT, _re(r"kunden-?\s?(nr|nummer|number|id|kennung)",
                                      r"customer ?(/ ?\w+ )?(no|number|id|#)",
                                      r"account ?(no|number)", r"policy ?(no|number)",
                                      r"versicherungs-?\s?(schein)?-?(nr|nummer)",
                                      r"policen-?\s?(nr|nummer)",
                                      r"kd\.?-?nr", r"mitglieds-?nummer", r"vertrags-?nummer",
                                      r"contract ?number", r"kundenkonto"),
                            _re(r" customer ", r" kundennummer ", r" kdnr ", r" kunden ",
                                r" account ", r" customernumber ", r" vertragsnummer ")),
    "order_number": Kind(TEXT, _re(r"bestell-?\s?(nr|nummer|number)", r"auftrags-?\s?(nr|nummer)",
                                   r"order ?(no|number|id|#)", r"vorgangsnummer",
                                   r"buchungsnummer", r"booking ?(number|reference)"),
                         _re(r" order ", r" bestellnummer ", r" bestellung ", r" ordernumber ",
                             r" auftragsnummer ", r" booking ")),
    "subject": Kind(TEXT, _re(r"betreff", r"subject", r"\bthema\b", r"\btitel\b", r"\btitle\b",
                              r"worum geht", r"kurzbeschreibung", r"summary", r"\bheadline"),
                    _re(r" subject ", r" betreff ", r" thema ", r" title ", r" summary ")),
    "message": Kind(LONG | TEXT, _re(r"nachricht", r"mitteilung", r"anliegen", r"message",
                                     r"ihre frage", r"your question", r"beschreibung",
                                     r"description", r"comment", r"kommentar", r"bemerkung",
                                     r"anfrage", r"inquiry", r"enquiry", r"wie koennen wir",
                                     r"how can we help", r"details", r"\btext\b"),
                    _re(r" message", r" nachricht", r" comment", r" description ", r" body ",
                        r" text ", r" content ", r" anliegen ", r" inquiry ", r" enquiry ",
                        r" mitteilung ", r" question ", r" frage "),
                    bonus={"textarea": 5, "editable": 5, "text": -6}),
    "topic": Kind(CHOICE, _re(r"thema", r"betreff", r"kategorie", r"category", r"topic",
                              r"anliegen", r"reason", r"grund", r"bereich", r"worum geht",
                              r"art der anfrage", r"type of (inquiry|enquiry|request)",
                              r"abteilung", r"department", r"request type", r"subject",
                              r"wie koennen wir", r"how can we help", r"frage zu",
                              r"question about", r"inquiry|enquiry|anfrage", r"\barea\b"),
                  _re(r" topic ", r" category ", r" subject ", r" reason ", r" thema ",
                      r" kategorie ", r" type ", r" department ", r" ticket form ",
                      r" anliegen ", r" betreff ")),
    # kinds a customer would see but the persona has no data for: they absorb fields that
    # would otherwise be mistaken for a name or number
    "company": Kind(TEXT, _re(r"firma", r"unternehmen", r"company", r"organi[sz]ation",
                              r"firmenname"), _re(r" company ", r" firma ", r" organization ")),
    "street": Kind(TEXT, _re(r"strasse", r"street", r"adresse$", r"^\W*address", r"anschrift",
                             r"hausnummer"), _re(r" street ", r" strasse ", r" address ")),
    "country": Kind(TEXT | CHOICE, _re(r"\bland\b", r"country"), _re(r" country ", r" land ")),
    "website": Kind(TEXT, _re(r"website", r"homepage", r"webseite", r"\burl\b"),
                    _re(r" website ", r" url ", r" homepage ")),
    "fax": Kind(TEXT, _re(r"\bfax"), _re(r" fax ")),
    "date": Kind(TEXT, _re(r"datum", r"\bdate\b", r"geburt", r"birth"),
                 types=("date", "datetime-local", "month", "week", "time")),
    "captcha": Kind(TEXT, _re(r"captcha", r"sicherheitscode", r"security code", r"spamschutz",
                              r"spam protection", r"rechenaufgabe", r"\d+\s*[+x*-]\s*\d+\s*="),
                    _re(r" captcha ", r" securitycode ")),
}

CONSENT = _re(r"datenschutz", r"privacy", r"einwillig", r"zustimm", r"stimme .*zu", r"akzeptier",
              r"\bagree", r"\baccept", r"consent", r"\bagb\b", r"terms", r"dsgvo", r"gdpr",
              r"gelesen", r"verarbeitung", r"process", r"einverstanden", r"bestaetige",
              r"\bacceptance", r"legal", r"\bdse\b", r"nutzungsbedingungen")
MARKETING = _re(r"newsletter", r"marketing", r"werbung", r"werblich", r"\bangebote", r"offers",
                r"promotion", r"other communications", r"receive (other )?(communications|"
                r"emails|news|updates)", r"\bupdates\b", r"\bnews\b", r"informiert (zu )?werden",
                r"produktinformationen", r"subscribe", r"abonnieren", r"subscription",
                r"aktionen", r"gewinnspiel", r"rabatt")
HONEYPOT_NAME = _re(r" hp ", r"honeypot", r"honey", r" website ", r" url ", r" homepage ",
                    r" fax ", r" gotcha ", r" bot ", r"botcheck", r"bot field", r" trap ",
                    r" spam", r"antispam", r" nickname ", r" leave ", r" hpot ", r" hpc ")
HONEYPOT_LABEL = _re(r"leer lassen", r"nicht ausfuellen", r"leave (this )?(field )?(blank|empty)",
                     r"do not fill", r"don'?t fill", r"if you are (a )?human", r"nicht befuellen",
                     r"for robots", r"fuer roboter")

"""Report texts in German and English, and locale-aware formatting of times and figures.

The German rule texts (``rule_*``) translate the docstrings of :mod:`servicebench.metrics`;
change them together. The English report quotes the docstrings themselves.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from . import i18n_texts

LANGUAGES = ("de", "en")

TEXTS: dict[str, dict[str, str]] = {
    "de": {
        "report": "Benchmark-Bericht",
        "client": "Auftraggeber",
        "author": "Erstellt von",
        "period": "Zeitraum",
        "generated": "Stand",
        "window": "Antwortfenster",
        "contents": "Inhalt",
        "summary": "Zusammenfassung",
        "ranking": "Rangliste",
        "charts": "Grafiken",
        "companies": "Unternehmen im Einzelnen",
        "methods": "Methodik",
        "rank": "Rang",
        "company": "Unternehmen",
        "n_companies": "Unter\u00adnehmen",
        "channel": "Kanal",
        "all_channels": "alle Kanäle",
        "sent": "gesendet",
        "probes": "Anfragen",
        "response_rate": "Antwort\u00adquote",
        "human_response_rate": "persönliche Antwort",
        "ack_rate": "Eingangs\u00adbestätigung",
        "bounce_rate": "Unzu\u00adstellbar",
        "median": "Median bis persönliche Antwort",
        "median_short": "Median",
        "p90": "90-%-Zeit",
        "within_1h": "in 1\u00a0h",
        "within_24h": "in 24\u00a0h",
        "within_72h": "in 72\u00a0h",
        "coverage": "Check\u00adliste",
        "salutation": "persönliche Anrede",
        "censored": "ohne Antwort",
        "not_reached": "nicht erreicht",
        "none": "–",
        "yes": "ja",
        "no": "nein",
        "by_channel": "Nach Kanal",
        "km_title": "Anteil persönlich beantworteter Anfragen über die Zeit",
        "km_note": ("Kaplan-Meier-Schätzung; Anfragen ohne persönliche Antwort gehen bis zum "
                    "Ende ihres Antwortfensters (oder bis zum Stichtag) in die Kurve ein, "
                    "senkrechte Striche markieren diese Zensierungen. Gestrichelt: "
                    "95-%-Band (Greenwood); „n<5“: kleine Stichprobe."),
        "bars_title": "Antwortquoten nach Unternehmen und Kanal",
        "bars_any": "irgendeine Antwort",
        "bars_human": "persönliche Antwort",
        "hours": "Stunden",
        "days": "Tage",
        "answered": "beantwortet",
        "probe": "Anfrage",
        "scenario": "Szenario",
        "persona": "Persona",
        "subject": "Betreff",
        "state": "Status",
        "sent_at": "Gesendet",
        "text_sent": "Gesendeter Text",
        "text_sent_short": "Kurzfassung des Szenarios (das Nachrichtenfeld des Formulars fasst "
                           "den ganzen Text nicht)",
        "first_reply": "Erste Antwort",
        "first_human_reply": "Erste persönliche Antwort",
        "no_reply": "keine Antwort im Fenster",
        "excerpt": "Auszug der ersten persönlichen Antwort",
        "reasons": "Einstufung",
        "match": "Zuordnung",
        "evidence": "Belege",
        "messages": "Nachrichten",
        "late": "nach Fensterende eingegangen (nicht gewertet)",
        "checklist_found": "Checkliste erfüllt",
        "window_open": "Fenster noch offen",
        "kind_automated": "automatisch",
        "kind_human": "persönlich",
        "kind_bounce": "unzustellbar",
        "kind_unrelated": "ohne Bezug",
        "kind_unclassified": "nicht eingestuft",
        "state_planned": "geplant",
        "state_sending": "wird gesendet",
        "state_sent": "gesendet",
        "state_failed": "fehlgeschlagen",
        "state_unknown": "ungeklärt",
        "state_blocked": "blockiert",
        "state_skipped": "übersprungen",
        "m_what": "Was wann gesendet wurde",
        "m_what_text": ("{n_sent} von {n_probes} geplanten Anfragen wurden zwischen {first} und "
                        "{last} gesendet ({tz}). Das Antwortfenster jeder Anfrage betrug "
                        "{window}; spätere Antworten werden nicht gewertet."),
        "m_classify": "Einstufung der Antworten",
        "m_classify_text": ("Eingehende Nachrichten wurden der Anfrage zugeordnet (Verfahren "
                            "siehe Tabelle) und als automatisch, persönlich, unzustellbar oder "
                            "ohne Bezug eingestuft. Unzustellbarkeitsmeldungen und Nachrichten "
                            "ohne Bezug zählen nicht als Antwort. Telefon, Chat und Besuch "
                            "werden von Testern protokolliert und als persönliche Antwort zum "
                            "Zeitpunkt des ersten Gesprächs erfasst."),
        "m_times": "Zeitmessung",
        "m_times_text": ("Sendezeit ist der Zeitpunkt, zu dem die Gegenseite die Anfrage "
                         "angenommen hat; Empfangszeit ist die vom Server vermerkte Zeit. Die "
                         "Tabellen nennen die Quelle jeder Zeitangabe. Alle Zeiten im Bericht "
                         "in der Zeitzone {tz}."),
        "m_time_sources": "Quellen der Zeitangaben",
        "m_source": "Quelle",
        "m_count": "Anzahl",
        "m_sent_times": "Sendezeiten",
        "m_received_times": "Empfangszeiten",
        "m_match_methods": "Zuordnungsverfahren",
        "m_kinds": "Einstufungen",
        "m_rules": "Regeln",
        "rule_outcomes": (
            "Ergebnisse: Jede Anfrage hat genau ein Ergebnis. Beantwortet: eine persönliche "
            "Antwort im Antwortfenster (Telefon, Chat, Besuch: eine Person innerhalb der "
            "Abbruchgrenze erreicht). Nicht beantwortet: keine persönliche Antwort, Fenster zum "
            "Stichtag abgelaufen; ein Anruf ohne erreichte Person ist nicht beantwortet, nie "
            "offen. Offen: Fenster zum Stichtag noch nicht abgelaufen (oder noch nicht "
            "gesendet). Fehlgeschlagen (auch ungeklärt oder übersprungen), blockiert (Captcha "
            "o. ä.) und unzustellbar (Adresse existiert nicht) werden eigens gezählt. Es zählen "
            "nur zugeordnete Nachrichten, die bis zum Fensterende bzw. Stichtag eingingen; eine "
            "wegen Uhrenabweichung vor der Sendezeit gestempelte Antwort zählt mit 0 s. "
            "Checkliste und Anrede werden an der ersten persönlichen Antwort bewertet; die "
            "Anrede gilt bei Telefon, Chat und Besuch als nicht anwendbar, sofern der Tester sie "
            "nicht protokolliert hat."),
        "rule_censoring": (
            "Zensierung und Kaplan-Meier: Hat eine Anfrage keine persönliche Antwort, ist ihre "
            "Antwortzeit unbekannt, aber mindestens so lang wie das Fenster (oder die bisher "
            "verstrichene Zeit bei noch offenem Fenster). Sie wird dort zensiert, nicht als "
            "null und nicht als fehlend gewertet. Median, 90-%-Zeit und die Anteile in 1/24/72 h "
            "sind Kaplan-Meier-Schätzungen; „nicht erreicht“ heißt, dass weniger als dieser "
            "Anteil geantwortet hat. Ein Anteil wird nicht angegeben, wenn noch keine Anfrage so "
            "lange beobachtet wurde."),
        "rule_checklist": (
            "Checkliste: Ein Punkt ist erfüllt, wenn mindestens eine seiner „any“-Formulierungen "
            "und alle seine „all“-Formulierungen in der ersten persönlichen Antwort vorkommen. "
            "Groß-/Kleinschreibung, ä/ae, ö/oe, ü/ue, ß/ss und Leerraum werden ignoriert; es "
            "zählen nur ganze Wörter (ein * am Ende erlaubt beliebige Wortendungen). Ein Treffer, "
            "dem im selben Satz innerhalb von zwei Wörtern eine Verneinung vorausgeht (nicht, "
            "kein, nie, ohne …), zählt nicht; Formulierungen, die selbst verneinen („nicht "
            "möglich“), werden wörtlich gesucht. Abdeckung = erfüllte Punkte / alle Punkte."),
        "rule_salutation": (
            "Persönliche Anrede: Die erste Grußzeile (Sehr geehrte/r, Liebe/r, Hallo, Guten Tag, "
            "Dear, Hi …) unter den ersten fünf Zeilen der Antwort enthält den Vor- oder "
            "Nachnamen der Persona. „Sehr geehrte Damen und Herren“ zählt nicht."),
        "rule_rates": (
            "Quoten beziehen sich auf die gewerteten Anfragen (beantwortet oder nicht "
            "beantwortet); offene, fehlgeschlagene, blockierte und unzustellbare Anfragen gehen "
            "in keinen Nenner ein. Beantwortet = persönliche Antwort im Fenster, irgendeine "
            "Antwort = auch automatische; in 1/24/72 h = in dieser Zeit beantwortet, daher "
            "in 1 h ≤ in 24 h ≤ in 72 h ≤ beantwortet. Median und Mittel über die beantworteten "
            "Anfragen; der Kaplan-Meier-Median berücksichtigt unbeantwortete als zensiert. "
            "Checkliste und persönliche Anrede sind Mittelwerte über die beantworteten "
            "Anfragen, wo sie zutreffen."),
        "rule_ranking": (
            "Rangfolge (je Kanal und über alle Kanäle) nach dem Index, höher ist besser. "
            "Gleiche Werte ergeben denselben Rang, der folgende Rang entfällt (1, 1, 3); "
            "„Rang 2 (1–4)“ nennt den 95-%-Bereich des Rangs. Ohne gewertete Anfrage kein "
            "Rang."),
        "index": "Index",
        "grade": "Note",
        "answered_share": "beantwortet (95-%-KI)",
        "any_reply_share": "irgendeine Antwort",
        "subscores": "Teilwerte (E·T·Q·P)",
        "n_answered": "beant\u00adwortet",
        "n_not_answered": "nicht beant\u00adwortet",
        "n_pending": "offen",
        "n_failed": "fehl\u00adgeschlagen",
        "n_blocked": "blockiert",
        "n_bounced": "unzu\u00adstellbar",
        "abbr_reachability": "E",
        "abbr_speed": "T",
        "abbr_quality": "Q",
        "abbr_tone": "P",
        "crit_reachability": "Erreichbarkeit (persönliche Antwort)",
        "crit_speed": "Tempo (Zeit bis zur persönlichen Antwort)",
        "crit_quality": "Qualität (Checklisten-Abdeckung)",
        "crit_tone": "persönliche Ansprache",
        "small_sample_note": ("Kursiv: weniger als 5 gewertete Anfragen – Werte und Intervalle "
                              "sind unsicher."),
        "preliminary": "Vorläufig.",
        "preliminary_text": ("{n} Anfragen waren zum Stichtag noch offen (Antwortfenster nicht "
                             "abgelaufen). Sie zählen nicht als unbeantwortet; die Zahlen "
                             "können sich noch ändern."),
        "finding_leader": ("{top} liegt vorn; die Intervalle des Index überschneiden sich mit "
                           "keinem anderen Unternehmen."),
        "finding_tied": ("{top} hat den höchsten Index, ist aber von {others} nicht sicher zu "
                         "unterscheiden: Die 95-%-Intervalle überschneiden sich."),
        "finding_behind": "{others} liegen deutlich hinter {top}.",
        "finding_partial": ("{company} wurde nur über {channels} getestet; die Kanalgewichte "
                            "wurden auf diese Kanäle umgerechnet."),
        "finding_partial_list": ("Nicht auf allen Kanälen getestet, Kanalgewichte auf die "
                                 "getesteten umgerechnet: {companies}."),
        "m_scoring": "Gesamtindex und Noten",
        "m_formula": ("Jede Anfrage mit Ergebnis wird wie von Kunden erlebt bewertet; ohne "
                      "Antwort zählt sie auf jedem Kriterium 0. Index je Kanal = 100 × "
                      "({reachability}·E + {speed}·T + {quality}·Q + {tone}·P) / (Summe der "
                      "Gewichte der zutreffenden Kriterien), E, T, Q, P = Mittel über die "
                      "Anfragen. Gesamtindex = gewichtetes Mittel der Kanal-Indizes über die "
                      "getesteten Kanäle (Gewichte umgerechnet)."),
        "m_criterion": "Kriterium",
        "m_weight": "Gewicht",
        "m_speed": "Tempo: Antwort in",
        "m_points": "Punkte",
        "m_from": "ab Index",
        "m_later": "später",
        "m_half_life": "100 × 0,5^(Zeit / {h})",
        "m_bootstrap": ("95-%-Intervalle für Index und Rang: Bootstrap mit {samples} "
                        "Wiederholungen über die Anfragen (Seed {seed}, reproduzierbar)."),
        "m_defaults": ("Die Studie legt keine eigene Gewichtung fest; es gelten die "
                       "Voreinstellungen."),
        "rule_scoring": (
            "Bewertung: Jede Anfrage mit Ergebnis (beantwortet oder nicht beantwortet; offene, "
            "fehlgeschlagene, blockierte und unzustellbare bleiben außen vor) wird auf vier "
            "Kriterien von 0 bis 1 bewertet: Erreichbarkeit (eine Person hat geantwortet), "
            "Tempo (Punkte der Zeit bis zur persönlichen Antwort laut Bändern), Qualität "
            "(Anteil der Checkliste in der ersten persönlichen Antwort) und persönliche "
            "Ansprache. Ohne Antwort 0 auf jedem Kriterium. Ein Kriterium, das nicht zutrifft "
            "(Qualität ohne Checkliste, Anrede bei Telefon, Chat oder Besuch ohne Angabe des "
            "Testers), bleibt außen vor statt 0 zu zählen. Der Gesamtindex eines Unternehmens "
            "mittelt seine Kanal-Indizes über die getesteten Kanäle; die Kanalgewichte werden "
            "auf diese Kanäle umgerechnet."),
        "rule_intervals": (
            "Intervalle: Anteile mit 95-%-Wilson-Intervall; Kaplan-Meier-Median mit "
            "95-%-Intervall nach Greenwood; Index und Rang mit 95-%-Bootstrap-Intervall "
            "(Anfragen je Unternehmen und Kanal mit Zurücklegen neu gezogen, fester Seed). "
            "Bei weniger als fünf gewerteten Anfragen (kleine Stichprobe) oder lauter gleich "
            "bewerteten Anfragen zeigt das Neuziehen keine Unsicherheit; dann wird das "
            "Intervall auf das Wilson-Intervall von Index/100 als Anteil erweitert (vorsichtig: "
            "ein Wert zwischen 0 und 1 schwankt höchstens so stark wie eine Ja/Nein-Antwort), "
            "und das Gesamtintervall umfasst auch das Wilson-Intervall mit der effektiven Zahl "
            "der Anfragen des gewichteten Mittels. "
            "Der Rangbereich umfasst den Bootstrap-Bereich und jeden Rang, den sich "
            "überschneidende Intervalle zulassen. Unternehmen, deren Index-Intervalle sich "
            "überschneiden, werden nicht als besser oder schlechter bezeichnet."),
        "day_one": "Tag",
        "day_many": "Tage",
    },
    "en": {
        "report": "Benchmark report",
        "client": "Client",
        "author": "Prepared by",
        "period": "Period",
        "generated": "As of",
        "window": "Response window",
        "contents": "Contents",
        "summary": "Summary",
        "ranking": "Ranking",
        "charts": "Charts",
        "companies": "Companies in detail",
        "methods": "Methods",
        "rank": "Rank",
        "company": "Company",
        "n_companies": "Companies",
        "channel": "Channel",
        "all_channels": "all channels",
        "sent": "sent",
        "probes": "Inquiries",
        "response_rate": "Response rate",
        "human_response_rate": "Human reply",
        "ack_rate": "Acknow\u00adledged",
        "bounce_rate": "Bounced",
        "median": "Median to human reply",
        "median_short": "Median",
        "p90": "90% time",
        "within_1h": "within 1\u00a0h",
        "within_24h": "within 24\u00a0h",
        "within_72h": "within 72\u00a0h",
        "coverage": "Checklist",
        "salutation": "Personal greeting",
        "censored": "no reply",
        "not_reached": "not reached",
        "none": "–",
        "yes": "yes",
        "no": "no",
        "by_channel": "By channel",
        "km_title": "Share of inquiries answered by a person over time",
        "km_note": ("Kaplan-Meier estimate; inquiries without a human reply stay in the curve "
                    "until the end of their window (or the cut-off); vertical ticks mark these "
                    "censored inquiries. Dashed: 95% band (Greenwood); \"n<5\": small "
                    "sample."),
        "bars_title": "Response rates by company and channel",
        "bars_any": "any reply",
        "bars_human": "human reply",
        "hours": "hours",
        "days": "days",
        "answered": "answered",
        "probe": "Inquiry",
        "scenario": "Scenario",
        "persona": "Persona",
        "subject": "Subject",
        "state": "State",
        "sent_at": "Sent",
        "text_sent": "Text sent",
        "text_sent_short": "the scenario's short version (the form's message field does not "
                           "take the whole text)",
        "first_reply": "First reply",
        "first_human_reply": "First human reply",
        "no_reply": "no reply within the window",
        "excerpt": "Excerpt of the first human reply",
        "reasons": "Classification",
        "match": "Matched by",
        "evidence": "Evidence",
        "messages": "Messages",
        "late": "received after the window (not counted)",
        "checklist_found": "Checklist items found",
        "window_open": "window still open",
        "kind_automated": "automated",
        "kind_human": "human",
        "kind_bounce": "bounce",
        "kind_unrelated": "unrelated",
        "kind_unclassified": "unclassified",
        "state_planned": "planned",
        "state_sending": "sending",
        "state_sent": "sent",
        "state_failed": "failed",
        "state_unknown": "unknown",
        "state_blocked": "blocked",
        "state_skipped": "skipped",
        "m_what": "What was sent when",
        "m_what_text": ("{n_sent} of {n_probes} planned inquiries were sent between {first} and "
                        "{last} ({tz}). Each inquiry had a response window of {window}; later "
                        "replies are not counted."),
        "m_classify": "How replies were classified",
        "m_classify_text": ("Incoming messages were matched to their inquiry (methods in the "
                            "table) and classified as automated, human, bounce or unrelated. "
                            "Bounces and unrelated messages are not replies. Phone, chat and "
                            "visit contacts are logged by testers and recorded as a human reply "
                            "at the time a person answered."),
        "m_times": "How times were measured",
        "m_times_text": ("The send time is when the other side accepted the inquiry; the "
                         "receive time is the time recorded by the server. The tables list the "
                         "source of every time. All times in this report are in {tz}."),
        "m_time_sources": "Sources of times",
        "m_source": "Source",
        "m_count": "Count",
        "m_sent_times": "Send times",
        "m_received_times": "Receive times",
        "m_match_methods": "Matching methods",
        "m_kinds": "Classifications",
        "m_rules": "Rules",
        "index": "Index",
        "grade": "Grade",
        "answered_share": "Answered (95% CI)",
        "any_reply_share": "Any reply",
        "subscores": "Sub-scores (R·S·Q·T)",
        "n_answered": "answered",
        "n_not_answered": "not answered",
        "n_pending": "pending",
        "n_failed": "failed",
        "n_blocked": "blocked",
        "n_bounced": "bounced",
        "abbr_reachability": "R",
        "abbr_speed": "S",
        "abbr_quality": "Q",
        "abbr_tone": "T",
        "crit_reachability": "Reachability (human reply)",
        "crit_speed": "Speed (time to human reply)",
        "crit_quality": "Quality (checklist coverage)",
        "crit_tone": "Personal tone",
        "small_sample_note": ("Italic: fewer than 5 measured inquiries – figures and intervals "
                              "are uncertain."),
        "preliminary": "Preliminary.",
        "preliminary_text": ("{n} inquiries were still pending at the cut-off (their windows "
                             "had not closed). They are not counted as unanswered; figures may "
                             "still change."),
        "finding_leader": ("{top} leads; its index interval overlaps with no other "
                           "company's."),
        "finding_tied": ("{top} has the highest index but cannot be told apart from {others}: "
                         "their 95% intervals overlap."),
        "finding_behind": "{others} are clearly behind {top}.",
        "finding_partial": ("{company} was tested on {channels} only; the channel weights were "
                            "renormalised to these channels."),
        "finding_partial_list": ("Not tested on every channel, channel weights renormalised "
                                 "to the channels tested: {companies}."),
        "m_scoring": "Overall index and grades",
        "m_formula": ("Every inquiry with an outcome is scored as a customer experienced it; "
                      "one without an answer scores 0 on every criterion. Index per channel = "
                      "100 × ({reachability}·R + {speed}·S + {quality}·Q + {tone}·T) / (sum "
                      "of the weights of the criteria that apply), R, S, Q, T = means over "
                      "the inquiries. Overall index = weighted mean of the channel indices "
                      "over the channels tested (weights renormalised)."),
        "m_criterion": "Criterion",
        "m_weight": "Weight",
        "m_speed": "Speed: answered within",
        "m_points": "Points",
        "m_from": "from index",
        "m_later": "later",
        "m_half_life": "100 × 0.5^(time / {h})",
        "m_bootstrap": ("95% intervals of index and rank: bootstrap with {samples} resamples "
                        "of the inquiries (seed {seed}, reproducible)."),
        "m_defaults": "The study sets no weights of its own; the defaults apply.",
        "day_one": "day",
        "day_many": "days",
    },
}


TEXTS["de"].update(i18n_texts.DE)
TEXTS["en"].update(i18n_texts.EN)
for _key, _text in i18n_texts.EN_RULES.items():  # the metrics' own English rules win
    TEXTS["en"].setdefault(_key, _text)

NBSP = "\u00a0"        # between date parts and before units: never wraps
NNBSP = "\u202f"       # narrow no-break space: "100 %" in German


def texts(language: str) -> dict[str, str]:
    """The strings of one language (English for anything but ``de``)."""
    return TEXTS["de" if language == "de" else "en"]


def channel_name(name: str, language: str) -> str:
    """A channel's reader name in ``language``; third-party channels keep their label."""
    t = texts(language)
    if f"ch_{name}" in t:
        return t[f"ch_{name}"]
    from .channels import registry

    cls = registry().get(name)
    return cls.label if cls is not None and cls.label else name


def format_number(value: float | None, language: str, digits: int = 0) -> str:
    """1,234.5 (en) / 1.234,5 (de); "–" for no value."""
    if not isinstance(value, int | float) or value != value:
        return texts(language)["none"]
    text = f"{value:,.{digits}f}"
    if language == "de":
        text = text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")
    return text


def format_duration(seconds: float | None, language: str) -> str:
    """Human-readable duration: "45 s", "12 min", "3 h 20 min", "2 Tage 4 h"."""
    t = texts(language)
    if not isinstance(seconds, int | float) or seconds != seconds:
        return t["none"]
    total = max(0, int(round(seconds)))
    if total < 60:
        return f"{total}{NBSP}s"
    minutes = total // 60
    if minutes < 60:
        return f"{minutes}{NBSP}min"
    hours, mins = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}{NBSP}h {mins}{NBSP}min" if mins else f"{hours}{NBSP}h"
    days, hours = divmod(hours, 24)
    unit = t["day_one"] if days == 1 else t["day_many"]
    return f"{days}{NBSP}{unit} {hours}{NBSP}h" if hours else f"{days}{NBSP}{unit}"


def format_time(dt: datetime | None, tz: ZoneInfo, language: str, seconds: bool = False) -> str:
    """A UTC time shown in the study's time zone: 02.03.2026 09:00 / 2 Mar 2026 09:00."""
    if dt is None or dt != dt:  # None or NaT
        return texts(language)["none"]
    local = dt.astimezone(tz)
    clock = local.strftime("%H:%M:%S" if seconds else "%H:%M")
    if language == "de":
        return f"{local:%d.%m.%Y}{NBSP}{clock}"
    return f"{local.day}{NBSP}{local:%b}{NBSP}{local:%Y}{NBSP}{clock}"


def format_date(dt: datetime | None, tz: ZoneInfo, language: str) -> str:
    if dt is None or dt != dt:
        return texts(language)["none"]
    local = dt.astimezone(tz)
    if language == "de":
        return f"{local:%d.%m.%Y}"
    return f"{local.day}{NBSP}{local:%b}{NBSP}{local:%Y}"


def format_percent(value: float | None, language: str) -> str:
    """75 % (de, narrow no-break space) / 75% (en); "–" for no value."""
    if not isinstance(value, int | float) or value != value:
        return texts(language)["none"]
    pct = round(value * 100)
    return f"{pct}{NNBSP}%" if language == "de" else f"{pct}%"

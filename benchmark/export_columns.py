"""The column dictionary of the exports: meaning (German, English) and unit of every column.

Units: ``share`` (0-1, shown as percent), ``seconds``, ``duration`` (Excel time value),
``count``, ``points`` (0-100), ``time UTC``, ``time local``, ``text``, ``id``, ``yes/no``.
"""

from __future__ import annotations

# column -> (German meaning, English meaning, unit)
COLUMNS: dict[str, tuple[str, str, str]] = {
    "probe_id": ("Nummer der Anfrage", "Inquiry number", "id"),
    "company_id": ("Kennung des Unternehmens", "Company identifier", "id"),
    "company": ("Unternehmen", "Company", "text"),
    "channel": ("Kanal (all = alle Kanäle gewichtet)", "Channel (all = all channels weighted)",
                "text"),
    "scenario": ("Szenario", "Scenario", "id"), "scenario_id": ("Szenario", "Scenario", "id"),
    "persona": ("Persona", "Persona", "id"), "persona_id": ("Persona", "Persona", "id"),
    "wave": ("Welle", "Wave", "count"),
    "state": ("Versandstatus", "Sending state", "text"),
    "outcome": ("Ergebnis der Anfrage", "Outcome of the inquiry", "text"),
    "sent_at": ("Sendezeit", "Send time", "time UTC"),
    "sent_time_source": ("Quelle der Sendezeit", "Source of the send time", "text"),
    "window_ends_at": ("Ende des Antwortfensters", "End of the response window", "time UTC"),
    "first_reply_at": ("Erste Antwort", "First reply", "time UTC"),
    "first_reply_kind": ("Art der ersten Antwort", "Kind of the first reply", "text"),
    "first_human_reply_at": ("Erste persönliche Antwort", "First personal answer", "time UTC"),
    "seconds_to_first_reply": ("Zeit bis zur ersten Antwort", "Time to the first reply",
                               "seconds"),
    "seconds_to_first_human_reply": ("Zeit bis zur ersten persönlichen Antwort",
                                     "Time to the first personal answer", "seconds"),
    "acknowledged": ("Eingangsbestätigung vor persönlicher Antwort",
                     "Acknowledged before a personal answer", "yes/no"),
    "bounced": ("Unzustellbarkeitsmeldung erhalten", "Bounce received", "yes/no"),
    "n_messages": ("Gewertete Nachrichten", "Messages counted", "count"),
    "n_late": ("Nach Fensterende eingegangene Nachrichten", "Messages after the window",
               "count"),
    "kinds": ("Arten der Nachrichten in Eingangsfolge", "Kinds of the messages in order",
              "text"),
    "censored": ("Ohne persönliche Antwort (zensiert)", "No personal answer (censored)",
                 "yes/no"),
    "window_closed": ("Antwortfenster abgelaufen", "Response window over", "yes/no"),
    "observed_seconds": ("Beobachtete Zeit (bis Antwort oder Zensierung)",
                         "Time observed (to answer or censoring)", "seconds"),
    "checklist_found": ("Gefundene Checklistenpunkte", "Checklist items found", "text"),
    "checklist_coverage": ("Anteil gefundener Checklistenpunkte", "Checklist coverage",
                           "share"),
    "personal_salutation": ("Persönliche Anrede", "Personal greeting", "yes/no"),
    "first_human_message_id": ("Nachricht der ersten persönlichen Antwort",
                               "Message of the first personal answer", "id"),
    "message_ids": ("Gewertete Nachrichten", "Messages counted", "id"),
    "evidence": ("Belegdateien im Studienordner", "Evidence files in the study folder", "text"),
    "text_sent": ("Gesendeter Text (full: der ganze Text, short: die Kurzfassung des Szenarios,"
                  " weil das Formular den ganzen nicht fasste)", "Text sent (full: the whole "
                  "text, short: the scenario's short version, as the form did not take it all)",
                  "text"),
    "rank": ("Rang", "Rank", "count"),
    "n_probes": ("Anfragen", "Inquiries", "count"),
    "n_sent": ("Gesendete Anfragen", "Inquiries sent", "count"),
    "n_answered": ("Persönlich beantwortete Anfragen", "Inquiries answered in person", "count"),
    "n_not_answered": ("Nicht beantwortete Anfragen", "Inquiries not answered", "count"),
    "n_failed": ("Fehlgeschlagene Anfragen", "Failed inquiries", "count"),
    "n_blocked": ("Blockierte Anfragen", "Blocked inquiries", "count"),
    "n_bounced": ("Unzustellbare Anfragen", "Bounced inquiries", "count"),
    "n_unknown": ("Ungeklärte Anfragen", "Inquiries in unclear state", "count"),
    "n_pending": ("Offene Anfragen", "Pending inquiries", "count"),
    "n_skipped": ("Übersprungene Anfragen", "Skipped inquiries", "count"),
    "n_censored": ("Anfragen ohne persönliche Antwort", "Inquiries without personal answer",
                   "count"),
    "n_open": ("Anfragen mit offenem Fenster", "Inquiries with open window", "count"),
    "n_companies": ("Unternehmen", "Companies", "count"),
    "response_rate": ("Antwortquote (irgendeine Antwort)", "Response rate (any reply)",
                      "share"),
    "human_response_rate": ("Quote persönlicher Antworten", "Personal response rate", "share"),
    "answered_share": ("Anteil persönlich beantwortet", "Share answered in person", "share"),
    "answered_share_ci_low": ("Untere Grenze 95-%-Intervall", "Lower bound 95% interval",
                              "share"),
    "answered_share_ci_high": ("Obere Grenze 95-%-Intervall", "Upper bound 95% interval",
                               "share"),
    "ack_rate": ("Quote Eingangsbestätigungen", "Acknowledgement rate", "share"),
    "bounce_rate": ("Quote Unzustellbarkeit", "Bounce rate", "share"),
    "median_human_seconds": ("Median bis persönliche Antwort (Kaplan-Meier)",
                             "Median to personal answer (Kaplan-Meier)", "seconds"),
    "p90_human_seconds": ("90-%-Zeit bis persönliche Antwort", "90% time to personal answer",
                          "seconds"),
    "km_median_hours": ("Median bis persönliche Antwort (Kaplan-Meier)",
                        "Median to personal answer (Kaplan-Meier)", "hours"),
    "median_hours": ("Median der Antwortzeiten (beantwortete)", "Median answer time (answered)",
                     "hours"),
    "mean_hours": ("Mittlere Antwortzeit (beantwortete)", "Mean answer time (answered)", "hours"),
    "within_1h": ("Anteil persönlich beantwortet in 1 h", "Share answered in person in 1 h",
                  "share"),
    "within_24h": ("Anteil persönlich beantwortet in 24 h", "Share answered in person in 24 h",
                   "share"),
    "within_72h": ("Anteil persönlich beantwortet in 72 h", "Share answered in person in 72 h",
                   "share"),
    "personal_salutation_rate": ("Quote persönlicher Anrede", "Personal greeting rate", "share"),
    "index": ("Index", "Index", "points"),
    "index_ci_low": ("Index, untere Grenze 95-%-Intervall", "Index, lower bound 95% interval",
                     "points"),
    "index_ci_high": ("Index, obere Grenze 95-%-Intervall", "Index, upper bound 95% interval",
                      "points"),
    "grade": ("Note", "Grade", "text"),
    "rank_best": ("Bester plausibler Rang", "Best plausible rank", "count"),
    "rank_worst": ("Schlechtester plausibler Rang", "Worst plausible rank", "count"),
    "small_sample": ("Kleine Stichprobe", "Small sample", "yes/no"),
    # messages sheet
    "message": ("Nummer der Nachricht", "Message number", "id"),
    "probe": ("Nummer der Anfrage", "Inquiry number", "id"),
    "folder": ("Ordner, in dem die Nachricht lag", "Folder the message was found in", "text"),
    "in_spam": ("Im Spam-Ordner gefunden", "Found in the spam folder", "yes/no"),
    # answer quality (servicebench rate)
    "quality": ("Antwortqualität", "Answer quality", "share"),
    "quality_source": ("Herkunft der Qualität (geschlichtet, Bewerter, automatisch)",
                       "Source of the quality (adjudicated, raters, automatic)", "text"),
    "n_raters": ("Anzahl Bewerter", "Number of raters", "count"),
    "automatic_quality": ("Automatisch ermittelte Qualität", "Automatic quality", "share"),
    "template": ("Textbaustein-Antwort", "Template answer", "yes/no"),
    "template_evidence": ("Beleg für Textbaustein", "Evidence of a template", "text"),
    "language_match": ("Antwort in der Sprache der Anfrage", "Answer in the inquiry's language",
                       "yes/no"),
    "signed_by_person": ("Von einer Person unterschrieben", "Signed by a person", "yes/no"),
    "ticket_reference": ("Ticketnummer genannt", "Ticket reference given", "yes/no"),
    "readability": ("Lesbarkeit", "Readability", "points"),
    "readability_evidence": ("Grundlage der Lesbarkeit", "Basis of the readability", "text"),
    "message_id": ("Nummer der Nachricht", "Message number", "id"),
    "received_at": ("Empfangszeit", "Receive time", "time UTC"),
    "time_source": ("Quelle der Empfangszeit", "Source of the receive time", "text"),
    "match_method": ("Zuordnungsverfahren", "Matching method", "text"),
    "kind": ("Einstufung", "Classification", "text"),
    "uncertain": ("Einstufung unsicher", "Classification uncertain", "yes/no"),
    "sender": ("Absender", "Sender", "text"), "subject": ("Betreff", "Subject", "text"),
    "text": ("Text der Nachricht", "Message text", "text"),
    "reasons": ("Gründe der Einstufung", "Classification reasons", "text"),
}

UNITS_DE = {"share": "Anteil 0–1 (als Prozent formatiert)", "seconds": "Sekunden",
            "duration": "Dauer (Stunden:Minuten)", "count": "Anzahl", "points": "Punkte 0–100",
            "time UTC": "Zeitpunkt, UTC", "time local": "Zeitpunkt, Ortszeit der Studie",
            "text": "Text", "id": "Kennung", "yes/no": "ja/nein", "hours": "Stunden"}
UNITS_EN = {"share": "share 0–1 (formatted as percent)", "seconds": "seconds",
            "duration": "duration (hours:minutes)", "count": "count", "points": "points 0–100",
            "time UTC": "time, UTC", "time local": "time, the study's local time",
            "text": "text", "id": "identifier", "yes/no": "yes/no", "hours": "hours"}


def _criterion(column: str, language: str) -> tuple[str, str] | None:
    if column.startswith("q_"):
        name = column[2:].replace("_", " ")
        return ((f"Bewertung: {name}" if language == "de" else f"Rating: {name}"),
                _unit("points", language))
    return None


def describe(column: str, language: str) -> tuple[str, str]:
    """(meaning, unit) of a column, including the derived ``_utc``/``_local``/``_duration``
    columns of the workbook."""
    for suffix, unit in (("_local", "time local"), ("_utc", "time UTC")):
        if column.endswith(suffix) and column[: -len(suffix)] in COLUMNS:
            base = COLUMNS[column[: -len(suffix)]]
            return (base[0] if language == "de" else base[1]), _unit(unit, language)
    if "duration" in column and column.replace("duration", "seconds") in COLUMNS:
        base = COLUMNS[column.replace("duration", "seconds")]
        return (base[0] if language == "de" else base[1]), _unit("duration", language)
    crit = _criterion(column, language)
    if crit:
        return crit
    de, en, unit = COLUMNS.get(column, ("", "", "text"))
    return (de if language == "de" else en), _unit(unit, language)


def unit_of(column: str) -> str:
    for suffix, unit in (("_local", "time local"), ("_utc", "time UTC")):
        if column.endswith(suffix):
            return unit
    if "duration" in column:
        return "duration"
    return COLUMNS.get(column, ("", "", "text"))[2]


def _unit(unit: str, language: str) -> str:
    return (UNITS_DE if language == "de" else UNITS_EN)[unit]

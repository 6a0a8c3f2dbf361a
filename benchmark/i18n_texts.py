"""Report strings added for the publication layout (issue 12), German and English.

:mod:`servicebench.i18n` merges these into its tables; both languages must have the same keys
(tests/test_report_i18n.py checks it). Texts are written for readers: no code identifiers.
"""

from __future__ import annotations

DE: dict[str, str] = {
    # channels (the registry's labels are English)
    "ch_email": "E-Mail", "ch_webform": "Webformular", "ch_phone": "Telefon-Hotline",
    "ch_chat": "Live-Chat", "ch_visit": "Filialbesuch", "ch_mastodon": "Mastodon",
    "ch_bluesky": "Bluesky", "ch_x": "X",
    "group_mail": "E-Mail und Webformular", "group_social": "Soziale Netzwerke",
    "group_phone": "Telefon", "group_chat": "Chat", "group_visit": "Besuch",
    # outcomes per probe
    "out_answered": "beantwortet", "out_not_answered": "nicht beantwortet",
    "out_pending": "noch offen", "out_failed": "fehlgeschlagen", "out_blocked": "blockiert",
    "out_bounced": "unzustellbar",
    # page 1
    "findings": "Die wichtigsten Ergebnisse",
    "sample": "Stichprobe",
    "sample_text": ("{companies} Unternehmen, {channels} Kanäle ({channel_list}), {probes} "
                    "Anfragen in {waves} {wave_word}"),
    "wave_one": "Welle", "wave_many": "Wellen",
    "cutoff": "Stichtag",
    "cutoff_text": "Ausgewertet wurden alle Antworten, die bis {cutoff} eingingen.",
    "f_none_answered": ("{n} von {total} Unternehmen haben innerhalb von {window} keine Anfrage "
                        "per {channel} persönlich beantwortet."),
    "f_all_answered": ("Jedes Unternehmen mit Ergebnis per {channel} ({total}) hat mindestens "
                       "eine Anfrage persönlich beantwortet."),
    "f_channel_share": ("Per {channel} wurden {share} der Anfragen innerhalb von {window} "
                        "persönlich beantwortet (95-%-Intervall {low} bis {high})."),
    "f_channel_median": "Die typische Antwortzeit per {channel} lag bei {median} (Median).",
    "f_leader": ("{company} liegt mit einem Index von {index} vorn; das Intervall überschneidet "
                 "sich mit keinem anderen Unternehmen."),
    "f_leader_group": ("Die Spitzengruppe bilden {companies}: Ihre Intervalle überschneiden "
                       "sich, eine Reihenfolge unter ihnen lässt sich nicht belegen."),
    "f_spread": ("Die Indexwerte reichen von {low} bis {high} Punkten; {n} Unternehmen sind "
                 "statistisch nicht voneinander zu unterscheiden."),
    "f_checklist": ("Persönliche Antworten enthielten im Mittel {share} der erwarteten "
                    "Auskünfte."),
    "f_ack": "{share} der Anfragen erhielten zuerst nur eine automatische Eingangsbestätigung.",
    # ranking and figures
    "index": "Index", "grade": "Note", "interval": "95-%-Intervall",
    "rank_range": "Rangbereich", "sub_scores": "Teilwerte je Kanal",
    "ranking_note": ("Index 0–100 aus persönlicher Antwortquote, Schnelligkeit und "
                     "Vollständigkeit, gewichtet nach Kanal. Der Rangbereich gibt an, welche "
                     "Plätze mit den Daten vereinbar sind; überschneiden sich zwei Intervalle, "
                     "ist keiner der beiden Anbieter nachweislich besser."),
    "sort_hint": "Spaltenkopf anklicken zum Sortieren.",
    "heatmap": "Unternehmen × Kanal: persönliche Antwortquote",
    "heatmap_note": "Farbe: Anteil persönlich beantworteter Anfragen; „–“: Kanal nicht getestet.",
    "survival_title": "Anteil noch unbeantworteter Anfragen über die Zeit",
    "survival_note": ("Kaplan-Meier-Schätzung mit 95-%-Band. Eine Linie, die oben bleibt, "
                      "gehört zu einem Unternehmen ohne persönliche Antwort."),
    "survival_many": ("Bei mehr als zwölf Unternehmen zeigt jede Tafel alle Unternehmen "
                      "gemeinsam mit ihrem 95-%-Band; die Werte der einzelnen Unternehmen "
                      "stehen in der Übersicht Unternehmen × Kanal und in den Profilen."),
    "survival_multiples": ("Kleine Tafeln je Kanalart: die {n} Unternehmen mit dem höchsten "
                           "und die {n} mit dem niedrigsten Index (Platz in der Rangliste vor "
                           "dem Namen), jeweils farbig vor der Kurve aller Unternehmen (grau); "
                           "senkrecht der Anteil noch unbeantworteter Anfragen in Prozent. "
                           "Alle übrigen Unternehmen stehen in der Übersicht Unternehmen × "
                           "Kanal und in den Profilen."),
    "survival_multiples_title": "Einzelne Unternehmen im Vergleich zu allen",
    "still_open": "noch unbeantwortet", "minutes": "Minuten", "all_companies": "alle",
    "never_answered": "nie beantwortet",
    "bars_index": "Index nach Unternehmen (mit 95-%-Intervall)",
    "waves": "Ergebnisse nach Welle", "waves_all": "Alle Unternehmen",
    "wave_label": "Welle {n}", "waves_change": "Veränderung",
    "waves_share": "Persönliche Antwortquote je Welle",
    "waves_index": "Index je Welle",
    "waves_chart": "Alle Unternehmen: Antwortquote und Index je Welle",
    "wave_share_line": "Antwortquote (%)", "wave_index_line": "Index (Mittelwert)",
    "waves_note": ("Jede Welle wird für sich nach denselben Regeln ausgewertet wie die "
                   "Gesamtstudie. „Alle Unternehmen“: Antwortquote über alle Anfragen der "
                   "Welle, Index als Mittelwert der Unternehmen. Veränderung: letzte minus "
                   "erste Welle, bei der Antwortquote in Prozentpunkten; „–“: in einer der "
                   "beiden Wellen nicht gemessen."),
    # profiles
    "profiles": "Unternehmensprofile", "profile_channels": "Kanäle im Vergleich",
    "outcomes": "Ergebnisse", "time_human": "Zeit bis persönliche Antwort",
    "best_reply": "Beste Antwort", "worst_reply": "Schwächste Antwort",
    "only_reply": "Persönliche Antwort", "no_human_reply": "Keine persönliche Antwort erhalten.",
    "form_problem": "Webformular nicht absendbar", "reason": "Grund",
    "screenshot": "Bildschirmfoto des Formulars", "no_screenshot": "kein Bildschirmfoto",
    "quote_meta": "{channel}, {scenario}, Antwort nach {time}, Checkliste {coverage}",
    # appendix
    "appendix": "Anhang", "appendix_cards": "Alle Anfragen im Einzelnen",
    "appendix_scenarios": "Szenarien", "appendix_personas": "Personas",
    "appendix_schedule": "Zeitplan", "inquiry_text": "Text der Anfrage",
    "short_text": "Kurzfassung für soziale Netzwerke", "expected": "Erwartete Auskünfte",
    "schedule_text": ("Erste Anfrage {first}, letzte Anfrage {last}; Abstand zwischen zwei "
                      "Anfragen {spacing}."),
    "cards_omitted": ("Die Einzelnachweise aller {n} Anfragen stehen in der Datenausgabe "
                      "(Export) und können mit der Option für den Anhang gedruckt werden."),
    "name": "Name", "open_evidence": "Beleg öffnen",
    "more_reasons": "weitere",
    "page": "Seite",
    "cli_wrote": "Geschrieben:",
}

EN: dict[str, str] = {
    "ch_email": "Email", "ch_webform": "Web form", "ch_phone": "Phone hotline",
    "ch_chat": "Live chat", "ch_visit": "In-person visit", "ch_mastodon": "Mastodon",
    "ch_bluesky": "Bluesky", "ch_x": "X",
    "group_mail": "Email and web form", "group_social": "Social networks",
    "group_phone": "Phone", "group_chat": "Chat", "group_visit": "Visit",
    "out_answered": "answered", "out_not_answered": "not answered",
    "out_pending": "pending", "out_failed": "failed", "out_blocked": "blocked",
    "out_bounced": "bounced",
    "findings": "Key findings",
    "sample": "Sample",
    "sample_text": ("{companies} companies, {channels} channels ({channel_list}), {probes} "
                    "inquiries in {waves} {wave_word}"),
    "wave_one": "wave", "wave_many": "waves",
    "cutoff": "Cut-off",
    "cutoff_text": "All replies received up to {cutoff} are counted.",
    "f_none_answered": ("{n} of {total} companies did not answer any inquiry by {channel} "
                        "in person within {window}."),
    "f_all_answered": ("Every company with a result by {channel} ({total}) answered at least "
                       "one inquiry in person."),
    "f_channel_share": ("By {channel}, {share} of inquiries got a personal answer within "
                        "{window} (95% interval {low} to {high})."),
    "f_channel_median": "The typical response time by {channel} was {median} (median).",
    "f_leader": ("{company} leads with an index of {index}; its interval overlaps with no "
                 "other company's."),
    "f_leader_group": ("The leading group is {companies}: their intervals overlap, so no order "
                       "among them can be established."),
    "f_spread": ("Index values range from {low} to {high} points; {n} companies cannot be told "
                 "apart statistically."),
    "f_checklist": "Personal answers contained {share} of the expected information on average.",
    "f_ack": "{share} of inquiries first received only an automatic acknowledgement.",
    "index": "Index", "grade": "Grade", "interval": "95% interval",
    "rank_range": "Rank range", "sub_scores": "Sub-scores per channel",
    "ranking_note": ("Index 0–100 from personal response rate, speed and completeness, "
                     "weighted by channel. The rank range shows which places are consistent "
                     "with the data; where two intervals overlap, neither company is shown to "
                     "be better."),
    "sort_hint": "Click a column header to sort.",
    "heatmap": "Company × channel: personal response rate",
    "heatmap_note": "Colour: share of inquiries answered in person; “–”: channel not tested.",
    "survival_title": "Share of inquiries still unanswered over time",
    "survival_note": ("Kaplan-Meier estimate with 95% band. A line that stays at the top "
                      "belongs to a company that never answered in person."),
    "survival_many": ("With more than twelve companies each panel shows all companies pooled, "
                      "with its 95% band; each company's figures are in the company × channel "
                      "overview and in the profiles."),
    "survival_multiples": ("Small panels per kind of channel: the {n} companies with the "
                           "highest and the {n} with the lowest index (ranking place before the "
                           "name), each in colour over the curve of all companies (grey); "
                           "vertically the share of inquiries still unanswered in per cent. "
                           "All other companies are in the company × channel overview and in "
                           "the profiles."),
    "survival_multiples_title": "Single companies compared with all",
    "still_open": "still unanswered", "minutes": "minutes", "all_companies": "all",
    "never_answered": "never answered",
    "bars_index": "Index by company (with 95% interval)",
    "waves": "Figures per wave", "waves_all": "All companies",
    "wave_label": "Wave {n}", "waves_change": "Change",
    "waves_share": "Personal response rate per wave",
    "waves_index": "Index per wave",
    "waves_chart": "All companies: response rate and index per wave",
    "wave_share_line": "Response rate (%)", "wave_index_line": "Index (mean)",
    "waves_note": ("Each wave is evaluated on its own by the same rules as the whole study. "
                   "“All companies”: response rate over all inquiries of the wave, index as "
                   "the mean of the companies. Change: last minus first wave, for the "
                   "response rate in percentage points; “–”: not measured in one of the two "
                   "waves."),
    "profiles": "Company profiles", "profile_channels": "Channels side by side",
    "outcomes": "Outcomes", "time_human": "Time to personal answer",
    "best_reply": "Best answer", "worst_reply": "Weakest answer",
    "only_reply": "Personal answer", "no_human_reply": "No personal answer received.",
    "form_problem": "Web form could not be sent", "reason": "Reason",
    "screenshot": "Screenshot of the form", "no_screenshot": "no screenshot",
    "quote_meta": "{channel}, {scenario}, answered after {time}, checklist {coverage}",
    "appendix": "Appendix", "appendix_cards": "All inquiries in detail",
    "appendix_scenarios": "Scenarios", "appendix_personas": "Personas",
    "appendix_schedule": "Schedule", "inquiry_text": "Inquiry text",
    "short_text": "Short version for social networks", "expected": "Expected information",
    "schedule_text": ("First inquiry {first}, last inquiry {last}; spacing between two "
                      "inquiries {spacing}."),
    "cards_omitted": ("The evidence for all {n} inquiries is in the data export and can be "
                      "printed with the appendix option."),
    "name": "Name", "open_evidence": "open evidence",
    "more_reasons": "more",
    "page": "Page",
    "cli_wrote": "Wrote",
}

# Reader-written method rules (English; the German ones live in i18n.TEXTS["de"]).
EN_RULES: dict[str, str] = {
    "rule_outcomes": (
        "An inquiry counts as sent once the other side accepted it. Only messages matched to "
        "the inquiry and received before its response window ended (or before the cut-off) "
        "count; a reply stamped before the send time because of clock differences counts as "
        "0 seconds. Replies are automatic or personal messages. An acknowledgement is an "
        "automatic reply before any personal one. Checklist and greeting are judged on the "
        "first personal answer only. Inquiries that were not sent (failed, blocked, unclear, "
        "planned) are counted but enter no rate."),
    "rule_censoring": (
        "Censoring and Kaplan-Meier: when an inquiry has no personal answer, its response time "
        "is unknown but at least as long as the window (or the time elapsed so far while the "
        "window is open). It is censored there, neither counted as zero nor dropped. Median, "
        "90% time and the shares within 1/24/72 hours are Kaplan-Meier estimates; “not "
        "reached” means fewer than that share answered."),
    "rule_rates": (
        "Rates refer to the inquiries sent: response rate = any reply within the window, "
        "personal answer = a personal answer within the window, acknowledged = an automatic "
        "reply before the first personal one, bounced = a delivery failure notice within the "
        "window. Checklist and personal greeting are means over the inquiries with a personal "
        "answer. Intervals are 95% intervals."),
    "rule_checklist": (
        "Checklist: an item is found when one of its phrases occurs in the first personal "
        "answer. Case, umlaut spellings and white space are ignored; only whole words count. "
        "A phrase preceded by a negation within two words (not, no, never, without …) does "
        "not count. Coverage = items found / all items."),
    "rule_salutation": (
        "Personal greeting: the first greeting line (Dear, Hi, Hello …) among the first five "
        "lines of the answer contains the persona's first or last name. “Dear customer” does "
        "not count."),
    "rule_scoring": (
        "Scoring: every inquiry with a result (answered or not answered; pending, failed, "
        "blocked and bounced ones stay out) is scored from 0 to 1 on four criteria: "
        "reachability (a person answered), speed (points for the time to a personal answer "
        "by bands), quality (share of the checklist in the first personal answer) and personal "
        "address. Without an answer it scores 0 on every criterion. A criterion that does not "
        "apply (quality without a checklist, greeting by phone, chat or visit unless the tester "
        "noted it) stays out instead of counting 0. A company's overall index averages its "
        "channel indices over the channels tested, with the channel weights rescaled to them."),
    "rule_intervals": (
        "Intervals: shares with a 95% Wilson interval; the Kaplan-Meier median with a 95% "
        "Greenwood interval; index and rank with a 95% bootstrap interval (inquiries per "
        "company and channel resampled with replacement, fixed seed). With fewer than five "
        "scored inquiries, or all scored alike, resampling shows no uncertainty; the interval "
        "is then widened to the Wilson interval of index/100 as a share. The rank range covers "
        "the bootstrap range and every rank that overlapping intervals allow."),
    "rule_ranking": (
        "Ranking: companies are ordered by their index (higher is better). Where the index is "
        "not available, by personal response rate, then median time to a personal answer, "
        "then checklist coverage. Equal values share a rank. Companies without a sent inquiry "
        "get no rank."),
}
